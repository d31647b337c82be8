"""Tools served by MCP servers: `Agent(tools=[fn, MCPServer.stdio(...), MCPServer.http(...)])`.

An `MCPServer` is a `tools.ToolSource`: when a run starts, `Agent.resolve_tools` asks it for its
tools on the run's event loop. The first ask on a loop starts the server (or connects to the
URL) and lists its tools; every later run on that loop, concurrent ones included (`compare()`),
shares that one session. Each tool is a `Tool` whose `invoke` calls the session, so the run
loop treats it like a Python tool: the same limits (a hung call is cancelled at
`timeout_per_turn` and recorded as cut off), the same records, the same events.

Why one session per event loop, owned by a task of its own: the SDK's transports hold anyio
task groups, which must be left by the task that entered them, and a session cannot move between
loops. `run_sync`, `%%agent` and `compare()` all run on the private run loop (`runner/loop.py`),
which lives as long as the process: in a notebook, a server started by one cell stays up for the
next ones, and is closed when the process exits (an atexit hook stops each session, which closes
the server's stdin and, if it lingers, ends its process group). A run that is cancelled while a
server starts only stops waiting: the start goes on for the next run.

Results: a tool's structured content, when the server sends some, is the result (JSON data, as
a Python tool's dict); else its text content (other blocks become short placeholders such as
``[image image/png, 2048 bytes]``). An ``isError`` result goes back to the model as a tool error.

Failures name the server and, for a stdio server, the end of what it wrote to stderr (captured
in a temporary file while it runs): a server that cannot start fails the run (FAILED, the
error in `result.error`); one that dies while a tool runs is that call's tool error, and the
next run starts it again.

`import openstackai_nb` never imports this module, and this module imports the `mcp` SDK only
when an `MCPServer` is made (`pip install "openstackai-nb[mcp]"`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from openstackai_nb._extras import require
from openstackai_nb._secrets import register_secret
from openstackai_nb.errors import ConfigError, UsageError
from openstackai_nb.mcp._session import Connection, MCPServerError, MCPToolError, close_sessions, live_sessions
from openstackai_nb.tools import Tool, ToolSource

__all__ = ["ConnectedServer", "MCPServer", "MCPServerError", "MCPToolError", "connected"]

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_SECRET_NAME = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD|AUTH|COOKIE|CREDENTIAL)")


@dataclass(frozen=True)
class ConnectedServer:
    """A live session with an MCP server (`connected()`, `%agent mcp`)."""

    label: str
    """The command line or URL."""
    transport: Literal["stdio", "http"]
    """How the session talks to the server."""
    tools: tuple[str, ...]
    """The names the model sees (prefixed)."""
    loop: str
    """The thread whose event loop holds the session ("openstackai-nb-loop" is the run loop)."""


class MCPServer(ToolSource):
    """An MCP server whose tools an Agent offers next to its Python tools.

    Make one with `MCPServer.stdio(command, args)` (a subprocess speaking MCP on stdin/stdout)
    or `MCPServer.http(url)` (streamable HTTP). Nothing starts until a run needs the tools.

    Example:
        >>> server = MCPServer.stdio("python", ["server.py"], prefix="files")  # doctest: +SKIP
        >>> agent = Agent(name="A", tools=[server], model="scripted")  # doctest: +SKIP
    """

    startup_timeout: float = 30.0
    """Seconds the server gets to start (or answer) and list its tools before the run fails."""

    def __init__(
        self,
        transport: Literal["stdio", "http"],
        target: str,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        headers: Mapping[str, str] | None = None,
        prefix: str | None = None,
        requires_approval: bool | Sequence[str] = False,
    ) -> None:
        require("mcp", "mcp", "MCPServer")
        if not isinstance(requires_approval, bool) and (
            isinstance(requires_approval, str) or not all(isinstance(n, str) for n in requires_approval)
        ):
            raise ConfigError(
                f"MCPServer requires_approval must be True, False or a list of tool names, got {requires_approval!r}"
            )
        if prefix is not None and (not isinstance(prefix, str) or not _PREFIX_RE.match(prefix)):
            raise ConfigError(f"MCPServer prefix must be 1-40 letters, digits, '_' or '-', got {prefix!r}")
        self.transport: Literal["stdio", "http"] = transport
        self.target = target
        self.args = list(args)
        self.env = dict(env) if env is not None else None
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.headers = dict(headers or {})
        self.prefix = prefix
        self.requires_approval: bool | frozenset[str] = (
            requires_approval if isinstance(requires_approval, bool) else frozenset(requires_approval)
        )
        """True: every tool of this server waits for approval before a call; a set: the tools so named
        (as the server names them, or with the prefix, as the model sees them)."""
        self.label = _label(transport, target, self.args)
        self._connections: dict[asyncio.AbstractEventLoop, Connection] = {}
        for name, value in [*(self.env or {}).items(), *self.headers.items()]:
            if _SECRET_NAME.search(name):
                register_secret(value)  # never shown in an error, a log or a view

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        prefix: str | None = None,
        requires_approval: bool | Sequence[str] = False,
    ) -> MCPServer:
        """A server run as a subprocess, speaking MCP over its stdin and stdout.

        Args:
            command: the program, e.g. "python", "npx", "uvx".
            args: its arguments, a list (e.g. ["server.py"]).
            env: extra environment variables. The server sees these over the SDK's safe default
                set (PATH, HOME, USER...), not the whole environment: pass the keys it needs.
            cwd: the directory to start it in.
            prefix: tools are offered as "PREFIX_name" (to tell servers apart or avoid a clash).
            requires_approval: every call of the server's tools (True), or of the tools so named,
                waits for approval before it runs (see `tool(requires_approval=True)`).
        """
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"MCPServer.stdio needs a command (e.g. 'python'), got {command!r}")
        if isinstance(args, str) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"MCPServer.stdio args must be a list of strings (e.g. ['server.py']), got {args!r}")
        if env is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ConfigError("MCPServer.stdio env must map names to string values")
        return cls("stdio", command, args=args, env=env, cwd=cwd, prefix=prefix, requires_approval=requires_approval)

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        prefix: str | None = None,
        requires_approval: bool | Sequence[str] = False,
    ) -> MCPServer:
        """A server reached over streamable HTTP, e.g. "http://127.0.0.1:8000/mcp".

        Args:
            url: the server's MCP endpoint.
            headers: sent with every request (e.g. {"Authorization": "Bearer ..."}); the values of
                secret-named ones (Authorization, X-API-Key...) are never shown in errors or views.
            prefix: tools are offered as "PREFIX_name" (to tell servers apart or avoid a clash).
            requires_approval: every call of the server's tools (True), or of the tools so named,
                waits for approval before it runs (see `tool(requires_approval=True)`).
        """
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"MCPServer.http needs an http:// or https:// URL, got {url!r}")
        if headers is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ConfigError("MCPServer.http headers must map names to string values")
        return cls("http", url, headers=headers, prefix=prefix, requires_approval=requires_approval)

    async def list_tools(self) -> list[Tool]:
        """This server's tools for the running event loop: started and listed on the first call.

        Raises:
            MCPServerError: the server could not be started or reached (its stderr's end quoted).
        """
        return list((await self._connection()).tools)

    async def aclose(self) -> None:
        """Close this server's session on the running event loop (a later run starts it again)."""
        conn = self._connections.get(asyncio.get_running_loop())
        if conn is not None:
            await conn.aclose()

    def close(self) -> None:
        """Close this server's sessions from synchronous code, e.g. a notebook cell (a later run starts it again).

        Raises:
            UsageError: called from code running on the event loop that holds a session (an async
                tool): use `await server.aclose()` there.
        """
        conns = list(self._connections.values())
        if any(c.thread is threading.current_thread() and c.loop.is_running() for c in conns):
            raise UsageError("MCPServer.close() was called on the event loop of its session: use `await aclose()`")
        close_sessions(conns)

    async def _connection(self) -> Connection:
        loop = asyncio.get_running_loop()
        conn = self._connections.get(loop)
        if conn is None:
            for old in [lp for lp in self._connections if lp.is_closed()]:
                del self._connections[old]
            conn = self._connections[loop] = Connection(self, loop)
        # Shielded: a run cancelled while the server starts stops waiting, the start goes on.
        await asyncio.shield(conn.ready)
        return conn

    def __getstate__(self) -> dict[str, Any]:
        # Sessions belong to this process's event loops: a pickled copy (Dask) starts its own.
        state = dict(self.__dict__)
        state["_connections"] = {}
        return state

    def __repr__(self) -> str:
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"MCPServer.{self.transport}({self.label!r}{prefix})"


def connected() -> list[ConnectedServer]:
    """The live MCP sessions of this process, and the tools each offers (`%agent mcp`)."""
    out = []
    for conn in sorted(live_sessions(), key=lambda c: c.server.label):
        if not conn.ready.done() or conn.death is not None:
            continue
        names = tuple(t.name for t in conn.tools)
        out.append(ConnectedServer(conn.server.label, conn.server.transport, names, conn.thread.name))
    return out


def _label(transport: str, target: str, args: list[str]) -> str:
    if transport == "stdio":
        line = shlex.join([target, *args])
        return line if len(line) <= 160 else line[:157] + "..."
    scheme, _, rest = target.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path.partition('?')[0]}"


for _error in (MCPServerError, MCPToolError):
    _error.__module__ = __name__  # shown, and pickled, as openstackai_nb.mcp.<name>
