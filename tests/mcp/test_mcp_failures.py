"""MCP servers that fail: at start, mid-run, unreachable; tool names that clash; bad arguments."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import ConfigError
from openstackai_nb.mcp import MCPServer, MCPServerError
from openstackai_nb.models.function import call
from openstackai_nb.runner.loop import run_blocking
from tests.mcp._models import calls
from tests.mcp.conftest import SERVER, start_http_server


async def _stream(agent: Agent) -> list[str]:
    return [chunk async for chunk in Runner.run_stream(agent, "go")]


def test_a_server_that_exits_at_start_fails_the_run_naming_it_and_its_stderr(
    servers: Callable[..., MCPServer],
) -> None:
    server = servers("--fail-at-start")
    agent = Agent(name="A", tools=[server], model=calls(call("add", a=1, b=2)))
    result = Runner.run_sync(agent, "go")
    assert result.status is RunStatus.FAILED and result.turn_count == 0
    error = result.error or ""
    assert f"MCP server '{sys.executable} {SERVER} --fail-at-start' stopped before it listed its tools" in error
    assert "Its stderr ends with:\n    config error: TEST_SETTING is missing" in error

    with pytest.raises(MCPServerError, match="TEST_SETTING is missing") as info:
        asyncio.run(_stream(agent))  # a new loop: the server is started (and fails) again
    assert info.value.result is not None and info.value.result.status is RunStatus.FAILED


def test_a_command_that_cannot_start_says_so() -> None:
    agent = Agent(name="A", tools=[MCPServer.stdio("no-such-mcp-server-cmd", ["--x"])], model=calls())
    result = Runner.run_sync(agent, "go")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.startswith(
        "MCP server 'no-such-mcp-server-cmd --x' could not be started: FileNotFoundError"
    )
    assert result.error.endswith("check the command and that it is installed")


def test_an_unreachable_url_says_so() -> None:
    proc, url = start_http_server()
    proc.kill()
    proc.wait(10)
    agent = Agent(name="A", tools=[MCPServer.http(url, headers={"Authorization": "Bearer tok-0123456789"})])
    result = Runner.run_sync(agent.clone(model=calls()), "go")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.startswith(f"MCP server at {url} could not be reached: ")
    assert "tok-0123456789" not in repr(result)


def test_a_server_that_dies_mid_run_is_a_tool_error_and_the_next_run_starts_it_again(
    servers: Callable[..., MCPServer],
) -> None:
    server = servers()
    before = Runner.run_sync(Agent(name="A", tools=[server], model=calls(call("pid"))), "go").final_output
    result = Runner.run_sync(Agent(name="A", tools=[server], model=calls(call("die"))), "go")
    assert result.status is RunStatus.COMPLETED, result.error
    (died,) = result.tool_calls
    assert died.error is not None
    assert died.error.startswith(f"tool 'die' raised MCPServerError: MCP server '{sys.executable} {SERVER}' died ")
    assert "the next run starts it again" in died.error
    assert died.error.endswith("    fatal: the test asked this server to die")

    after = Runner.run_sync(Agent(name="A", tools=[server], model=calls(call("pid"))), "go")
    assert after.status is RunStatus.COMPLETED and after.final_output != before  # a new process


def test_an_http_server_that_dies_mid_run_fails_the_pending_calls() -> None:
    proc, url = start_http_server()
    try:
        server = MCPServer.http(url)
        agent = Agent(name="A", tools=[server], model=calls(call("hang", seconds=30), call("die")))
        result = Runner.run_sync(agent, "go")
        assert result.status is RunStatus.COMPLETED, result.error
        by_name = {c.name: c for c in result.tool_calls}
        hang, die = by_name["hang"], by_name["die"]
        assert hang.error is not None and f"MCP server '{url}' died while tool 'hang' was running" in hang.error
        assert die.error is not None and "the next run connects again" in die.error
    finally:
        proc.kill()
        proc.wait(10)


def test_a_python_tool_and_an_mcp_tool_with_one_name_are_a_config_error(servers: Callable[..., MCPServer]) -> None:
    def add(a: int, b: int) -> int:
        """Local add."""
        return a + b

    server = servers()
    agent = Agent(name="Calc", tools=[add, server], model=calls())
    result = Runner.run_sync(agent, "go")
    assert result.status is RunStatus.FAILED
    assert result.error == (
        f"Agent 'Calc' has two tools named 'add': the Python tool 'add' and the tool 'add' of MCP server "
        f"'{sys.executable} {SERVER}'; give the server a prefix (MCPServer.stdio(..., prefix='name')) "
        "or rename the Python tool (tool(fn, name=...))"
    )
    with pytest.raises(ConfigError, match="two tools named 'add'"):
        asyncio.run(_stream(agent))

    fixed = Agent(name="Calc", tools=[add, servers(prefix="srv")], model=calls(call("add", a=1, b=1)))
    assert Runner.run_sync(fixed, "go").status is RunStatus.COMPLETED


def test_two_servers_with_the_same_tools_clash_unless_prefixed(servers: Callable[..., MCPServer]) -> None:
    one, two = servers("--name", "one"), servers("--name", "two")
    result = Runner.run_sync(Agent(name="A", tools=[one, two], model=calls()), "go")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "two tools named 'add': the tool 'add' of MCP server" in result.error

    three = servers("--name", "three", prefix="three")
    both = Agent(name="A", tools=[one, three], model=calls(call("add", a=1, b=1), call("three_add", a=2, b=2)))
    result = Runner.run_sync(both, "go")
    assert result.status is RunStatus.COMPLETED and result.final_output == '{"result": 2} | {"result": 4}'


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MCPServer.stdio("python", "server.py"), "args must be a list of strings"),  # type: ignore[arg-type]
        (lambda: MCPServer.stdio("", []), "needs a command"),
        (lambda: MCPServer.stdio("python", [], prefix="a b"), "prefix must be 1-40 letters"),
        (lambda: MCPServer.http("127.0.0.1:8000/mcp"), "needs an http:// or https:// URL"),
    ],
)
def test_bad_arguments_are_config_errors(make: Callable[[], MCPServer], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_an_mcp_tool_is_not_called_outside_a_run(servers: Callable[..., MCPServer]) -> None:
    from openstackai_nb.errors import UsageError

    tools = run_blocking(servers().list_tools())
    assert repr(tools[0]).startswith("Tool('add' of MCP server ")
    with pytest.raises(UsageError, match="served by an MCP server"):
        tools[0](a=1, b=2)


def test_a_server_that_never_answers_fails_at_its_startup_timeout() -> None:
    server = MCPServer.stdio(
        sys.executable, ["-c", "import sys, time; print('warming up', file=sys.stderr); time.sleep(60)"]
    )
    server.startup_timeout = 1.0
    result = Runner.run_sync(Agent(name="A", tools=[server], model=calls()), "go")
    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "did not list its tools within 1s: is it an MCP server that speaks MCP on stdin/stdout?" in result.error
    assert result.error.endswith("Its stderr ends with:\n    warming up")
