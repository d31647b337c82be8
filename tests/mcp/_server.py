"""An MCP server for the tests, written with the SDK's MCPServer (FastMCP in mcp 1.x).

    python _server.py                    serve on stdin/stdout
    python _server.py --http PORT        serve streamable HTTP on 127.0.0.1:PORT/mcp
    python _server.py --fail-at-start    write to stderr and exit 2 before serving
    python _server.py --linger           stdio, but stay alive 60 s after stdin closes (only a kill ends it)
    python _server.py --name NAME        the server's name (its tools are the same)

It imports only the SDK (a stdio server gets the SDK's minimal environment, no PYTHONPATH).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def build(name: str) -> MCPServer:
    app = MCPServer(name, log_level="WARNING")

    @app.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @app.tool()
    def shout(text: str) -> str:
        """The text in capitals."""
        return text.upper() + "!"

    @app.tool()
    def fail(message: str) -> str:
        """Always fails with the message."""
        raise ToolError(message)

    @app.tool()
    async def hang(seconds: float = 600.0) -> str:
        """Sleep, then answer."""
        await asyncio.sleep(seconds)
        return "woke up"

    @app.tool()
    def pid() -> str:
        """The server's process id."""
        return str(os.getpid())

    @app.tool()
    def die() -> str:
        """Exit the server process at once."""
        print("fatal: the test asked this server to die", file=sys.stderr, flush=True)
        os._exit(3)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int)
    parser.add_argument("--fail-at-start", action="store_true")
    parser.add_argument("--linger", action="store_true")
    parser.add_argument("--name", default="test-server")
    args = parser.parse_args()
    if args.fail_at_start:
        print("config error: TEST_SETTING is missing", file=sys.stderr, flush=True)
        sys.exit(2)
    app = build(args.name)
    if args.http:
        import anyio

        anyio.run(lambda: app.run_streamable_http_async(host="127.0.0.1", port=args.http))
        return
    print(f"{args.name} serving on stdio", file=sys.stderr, flush=True)
    app.run()
    if args.linger:
        time.sleep(60)


if __name__ == "__main__":
    main()
