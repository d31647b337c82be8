"""MCP servers for the tests: the stdio server as a subprocess per test, one HTTP server per module."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openstackai_nb.mcp import MCPServer
from openstackai_nb.runner.loop import run_blocking

SERVER = str(Path(__file__).with_name("_server.py"))


def stdio_server(*flags: str, prefix: str | None = None) -> MCPServer:
    return MCPServer.stdio(sys.executable, [SERVER, *flags], prefix=prefix)


@pytest.fixture
def servers() -> Iterator[Callable[..., MCPServer]]:
    """Make stdio servers: `servers("--name", "x", prefix=...)`; their run-loop sessions close after the test."""
    made: list[MCPServer] = []

    def make(*flags: str, prefix: str | None = None) -> MCPServer:
        made.append(stdio_server(*flags, prefix=prefix))
        return made[-1]

    yield make
    for server in made:
        run_blocking(server.aclose())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_http_server() -> tuple[subprocess.Popen[bytes], str]:
    """The test server on streamable HTTP at 127.0.0.1 (a new process); returns it and its URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--http", str(port), "--name", "http-server"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the HTTP test server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """The URL of one streamable-HTTP test server for the module."""
    proc, url = start_http_server()
    yield url
    proc.kill()
    proc.wait(10)


@pytest.fixture
def http_server(http_url: str) -> Iterator[MCPServer]:
    """An MCPServer.http for the module's server; its session on the run loop closes after the test."""
    server = MCPServer.http(http_url)
    yield server
    run_blocking(server.aclose())
