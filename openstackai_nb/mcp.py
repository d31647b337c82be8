"""Tools served by MCP servers: `Agent(tools=[fn, MCPServer.stdio(...), MCPServer.http(...)])`.

An `MCPServer` is a `tools.ToolSource`: when a run starts, `Agent.resolve_tools` asks it for its
tools on the run's event loop. The first ask on a loop starts the server (or connects to the
URL) and lists its tools; every later run on that loop, concurrent ones included (`compare()`),
shares that one session. Each tool is a `Tool` whose `invoke` calls the session, so the run
loop treats it like a Python tool: the same limits (a hung call is cancelled at
`timeout_per_turn` and recorded as cut off), the same records, the same events.

Why one session per event loop, owned by a task of its own: the SDK's transports hold anyio
task groups, which must be left by the task that entered them, and a session cannot move between
loops. `run_sync`, `%%agent` and `compare()` all run on the private run loop (`runner/_sync.py`),
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
import atexit
import contextlib
import json
import math
import os
import re
import shlex
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from openstackai_nb._extras import require
from openstackai_nb._secrets import register_secret
from openstackai_nb._tool_calls import CallProgress
from openstackai_nb.errors import AgentError, ConfigError, ToolArgumentsError, UsageError
from openstackai_nb.messages import ToolDefinition
from openstackai_nb.tools import RunContext, Tool, ToolSource

__all__ = ["STARTUP_TIMEOUT", "ConnectedServer", "MCPServer", "MCPServerError", "MCPToolError", "connected"]

STARTUP_TIMEOUT = 30.0
"""Seconds a server gets to start and list its tools before the run fails."""
STDERR_TAIL_CHARS = 1500
"""How much of the end of a stdio server's stderr an error quotes."""
CLOSE_TIMEOUT = 8.0
"""Seconds the exit hook waits for the sessions to close (the SDK gives a server 2 s to leave)."""

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
_SECRET_NAME = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD|AUTH)")
_live: set[_Connection] = set()
_exit_hook = threading.Lock()
_exit_hook_set = False


class MCPServerError(AgentError):
    """An MCP server could not be started or reached, or died (the message names it, with its stderr's end)."""


class MCPToolError(AgentError):
    """An MCP tool answered with ``isError``: its text goes back to the model as the tool's error."""


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
    ) -> None:
        require("mcp", "mcp", "MCPServer")
        if prefix is not None and (not isinstance(prefix, str) or not _PREFIX_RE.match(prefix)):
            raise ConfigError(f"MCPServer prefix must be 1-40 letters, digits, '_' or '-', got {prefix!r}")
        self.transport: Literal["stdio", "http"] = transport
        self.target = target
        self.args = list(args)
        self.env = dict(env) if env is not None else None
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.headers = dict(headers or {})
        self.prefix = prefix
        self.label = _label(transport, target, self.args)
        self._connections: dict[asyncio.AbstractEventLoop, _Connection] = {}
        for name, value in [*(self.env or {}).items(), *self.headers.items()]:
            if transport == "http" or _SECRET_NAME.search(name):
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
    ) -> MCPServer:
        """A server run as a subprocess, speaking MCP over its stdin and stdout.

        Args:
            command: the program, e.g. "python", "npx", "uvx".
            args: its arguments, a list (e.g. ["server.py"]).
            env: extra environment variables. The server sees these over the SDK's safe default
                set (PATH, HOME, USER...), not the whole environment: pass the keys it needs.
            cwd: the directory to start it in.
            prefix: tools are offered as "PREFIX_name" (to tell servers apart or avoid a clash).
        """
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"MCPServer.stdio needs a command (e.g. 'python'), got {command!r}")
        if isinstance(args, str) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"MCPServer.stdio args must be a list of strings (e.g. ['server.py']), got {args!r}")
        if env is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ConfigError("MCPServer.stdio env must map names to string values")
        return cls("stdio", command, args=args, env=env, cwd=cwd, prefix=prefix)

    @classmethod
    def http(cls, url: str, *, headers: Mapping[str, str] | None = None, prefix: str | None = None) -> MCPServer:
        """A server reached over streamable HTTP, e.g. "http://127.0.0.1:8000/mcp".

        Args:
            url: the server's MCP endpoint.
            headers: sent with every request (e.g. {"Authorization": "Bearer ..."}); their values
                are never shown in errors or views.
            prefix: tools are offered as "PREFIX_name" (to tell servers apart or avoid a clash).
        """
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"MCPServer.http needs an http:// or https:// URL, got {url!r}")
        if headers is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ConfigError("MCPServer.http headers must map names to string values")
        return cls("http", url, headers=headers, prefix=prefix)

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

    async def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = self._connections.get(loop)
        if conn is None:
            for old in [lp for lp in self._connections if lp.is_closed()]:
                del self._connections[old]
            conn = self._connections[loop] = _Connection(self, loop)
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


class _MCPTool(Tool):
    """One tool of an MCP server: `invoke` calls it through the session of the running loop."""

    __slots__ = ("remote_name", "server")

    def __init__(self, server: MCPServer, remote_name: str, description: str, schema: dict[str, Any]) -> None:
        name = _NOT_NAME.sub("_", remote_name)
        self.name = f"{server.prefix}_{name}"[:64] if server.prefix else name[:64]
        self.server = server
        self.remote_name = remote_name
        self.fn = self._direct_call
        self._args_model = None  # type: ignore[assignment]  # the server validates the arguments
        self._context_param = None
        self._is_async = True
        self.definition = ToolDefinition(self.name, description, schema)

    def validate(self, raw_arguments: str | dict[str, Any]) -> dict[str, Any]:
        """Parse the model's arguments into a JSON object (the server checks them against its schema)."""
        if isinstance(raw_arguments, str):
            try:
                data = json.loads(raw_arguments) if raw_arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(f"arguments are not valid JSON ({exc.msg} at char {exc.pos})") from None
        else:
            data = raw_arguments
        if not isinstance(data, dict):
            raise ToolArgumentsError(f"arguments must be a JSON object, got {type(data).__name__}")
        return data

    async def invoke(
        self, arguments: dict[str, Any], context: RunContext | None, progress: CallProgress | None = None
    ) -> Any:
        """Call the tool on the server; its structured content, else its text, is the result.

        Raises:
            MCPToolError: the server answered ``isError`` (the text goes back to the model).
            MCPServerError: the server died or failed the request.
        """
        conn = await self.server._connection()
        if progress is not None:
            progress.started = True
        return _result_value(await conn.call(self.remote_name, arguments))

    def _direct_call(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"{self!r} is served by an MCP server: a run calls it (Runner.run_sync(agent, ...))")

    def __repr__(self) -> str:
        return f"Tool({self.name!r} of MCP server {self.server.label!r})"


class _Connection:
    """The session with one server on one event loop, held open by a task of that loop."""

    def __init__(self, server: MCPServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.ready: asyncio.Future[None] = loop.create_future()
        self.tools: list[_MCPTool] = []
        self.client: Any = None
        self.death: tuple[str, str] | None = None
        """Why the session ended unasked, and the end of the server's stderr (for the calls' errors)."""
        self._stop = asyncio.Event()
        self._stderr = _StderrLog() if server.transport == "stdio" else None
        self.thread = threading.current_thread()
        self.task = loop.create_task(self._serve(), name=f"openstackai-nb MCP {server.label}")

    async def _serve(self) -> None:
        import anyio
        from mcp import Client

        _live.add(self)
        _close_at_exit_once()
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + STARTUP_TIMEOUT) as scope:
                async with contextlib.AsyncExitStack() as stack:
                    transport = await self._transport(stack)
                    self.client = client = await stack.enter_async_context(Client(transport))
                    self.tools = await self._list(client)
                    scope.deadline = math.inf
                    self.ready.set_result(None)
                    await self._stop.wait()
            if not self.ready.done():
                raise TimeoutError(f"no answer within {STARTUP_TIMEOUT:g}s")
        except BaseException as exc:  # noqa: BLE001 - every end of a session is recorded, then passed on
            self._ended(exc)
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
        finally:
            self._forget()
            if self._stderr is not None:
                self._stderr.close()

    async def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        server = self.server
        if server.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(command=server.target, args=server.args, env=server.env, cwd=server.cwd)
            return stdio_client(params, errlog=self._stderr.file)  # type: ignore[union-attr, arg-type]
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        # The SDK's own defaults: a server may hold a response stream open for minutes.
        http = httpx2.AsyncClient(headers=server.headers, timeout=httpx2.Timeout(30.0, read=300.0))
        await stack.enter_async_context(http)
        return streamable_http_client(server.target, http_client=http)

    async def _list(self, client: Any) -> list[_MCPTool]:
        tools: list[_MCPTool] = []
        cursor: str | None = None
        for _ in range(100):  # pages; a server that never stops paging is cut at 100
            page = await client.list_tools(cursor=cursor)
            for t in page.tools:
                schema = {k: v for k, v in dict(t.input_schema or {}).items() if k != "title"}
                schema.setdefault("type", "object")
                schema.setdefault("properties", {})
                tools.append(_MCPTool(self.server, t.name, t.description or t.title or t.name, schema))
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call a tool by its server-side name; raise MCPServerError if the server died or failed."""
        if self.death is not None:
            raise self._died(name, None)
        call = asyncio.ensure_future(self.client.call_tool(name, arguments))
        try:
            # A transport that breaks (an HTTP server gone) ends the session task: stop waiting then.
            await asyncio.wait({call, self.task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
        exc = None if call.cancelled() else call.exception()
        if exc is None and not call.cancelled():
            return call.result()
        if call.cancelled() or self.task.done() or _is_closed(exc):  # type: ignore[arg-type]
            raise self._died(name, exc) from None
        raise MCPServerError(
            f"MCP server {self.server.label!r} failed the call of tool {name!r}: {_describe(exc)}"  # type: ignore[arg-type]
        ) from None

    def _died(self, name: str, exc: BaseException | None) -> MCPServerError:
        """The session is gone while tool `name` ran: the error to report (the first one stops the session)."""
        if self.death is None:
            self.death = (_describe(exc) if exc is not None else "the session ended", self._tail())
            self._forget()
            self._stop.set()
        reason, tail = self.death
        again = "starts it again" if self.server.transport == "stdio" else "connects again"
        return MCPServerError(
            f"MCP server {self.server.label!r} died while tool {name!r} was running ({reason}); "
            f"the next run {again}.{tail}"
        )

    def _ended(self, exc: BaseException) -> None:
        """Record how the session task ended: a failed start, or a death noticed by no call yet."""
        if not self.ready.done():
            self.ready.set_exception(self._start_failure(exc))
            self.ready.exception()  # retrieved: the waiters raise it; no "never retrieved" log
        elif self.death is None and not isinstance(exc, asyncio.CancelledError):
            self.death = (_describe(exc), self._tail())

    def _start_failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            return MCPServerError(f"MCP server {self.server.label!r} was closed while it started")
        server = self.server
        leaf = _leaf(exc)
        if isinstance(leaf, TimeoutError):
            speaks = "MCP on stdin/stdout" if server.transport == "stdio" else "streamable HTTP at this URL"
            return MCPServerError(
                f"MCP server {server.label!r} did not list its tools within {STARTUP_TIMEOUT:g}s: "
                f"is it an MCP server that speaks {speaks}?{self._tail()}"
            )
        if isinstance(leaf, OSError) and server.transport == "stdio" and not _is_closed(leaf):
            where = f" in {server.cwd!r}" if server.cwd else ""
            return MCPServerError(
                f"MCP server {server.label!r} could not be started{where}: {_describe(leaf)}; "
                "check the command and that it is installed"
            )
        if server.transport == "http":
            return MCPServerError(
                f"MCP server at {server.label} could not be reached: {_describe(leaf)}; "
                "check the URL and that the server is running"
            )
        return MCPServerError(
            f"MCP server {server.label!r} stopped before it listed its tools ({_describe(leaf)}).{self._tail()}"
        )

    def _tail(self) -> str:
        if self._stderr is None:
            return ""
        tail = self._stderr.tail()
        if not tail:
            return " It wrote nothing to stderr."
        return " Its stderr ends with:\n" + "\n".join("    " + line for line in tail.splitlines())

    def _forget(self) -> None:
        _live.discard(self)
        if self.server._connections.get(self.loop) is self:
            del self.server._connections[self.loop]

    async def aclose(self) -> None:
        """End the session (the SDK closes the server's stdin, then ends its process group if it stays)."""
        self._stop.set()
        if not self.ready.done():
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class _StderrLog:
    """A temporary file a stdio server writes its stderr to; errors quote its end."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="openstackai-nb-mcp-", suffix=".stderr")
        os.close(fd)
        self.file = open(self.path, "ab")  # noqa: SIM115 - closed with the session

    def tail(self) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - STDERR_TAIL_CHARS * 2))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return text[-STDERR_TAIL_CHARS:].strip()

    def close(self) -> None:
        self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def connected() -> list[ConnectedServer]:
    """The live MCP sessions of this process, and the tools each offers (`%agent mcp`)."""
    out = []
    for conn in sorted(_live, key=lambda c: c.server.label):
        if not conn.ready.done() or conn.death is not None:
            continue
        names = tuple(t.name for t in conn.tools)
        out.append(ConnectedServer(conn.server.label, conn.server.transport, names, conn.thread.name))
    return out


def _result_value(result: Any) -> Any:
    """A CallToolResult as a tool's return value: structured content, else text; isError raises."""
    text = "\n".join(_block_text(b) for b in result.content or ())
    if result.is_error:
        raise MCPToolError(text or "the MCP tool reported an error without a message")
    if result.structured_content is not None:
        return result.structured_content
    return text


def _block_text(block: Any) -> str:
    kind = getattr(block, "type", "")
    if kind == "text":
        return block.text
    if kind in ("image", "audio"):
        return f"[{kind} {block.mime_type}, {len(block.data) * 3 // 4} bytes]"
    if kind == "resource":
        resource = block.resource
        return getattr(resource, "text", None) or f"[resource {resource.uri} ({resource.mime_type or 'binary'})]"
    if kind == "resource_link":
        return f"[resource {block.uri}]"
    return f"[{kind or type(block).__name__} content]"


def _label(transport: str, target: str, args: list[str]) -> str:
    if transport == "stdio":
        line = shlex.join([target, *args])
        return line if len(line) <= 160 else line[:157] + "..."
    scheme, _, rest = target.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path.partition('?')[0]}"


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (inner or list(exc.exceptions))[0]
    return exc


def _is_closed(exc: BaseException) -> bool:
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    leaf = _leaf(exc)
    return isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED


def _describe(exc: BaseException) -> str:
    leaf = _leaf(exc)
    if _is_closed(leaf):
        return "the connection closed"
    text = str(leaf).strip()
    return f"{type(leaf).__name__}: {text}" if text else type(leaf).__name__


def _close_at_exit_once() -> None:
    # Registered when the first session starts, after `runner._sync` registered its own hook:
    # atexit runs hooks last-in first-out, so the sessions close while the run loop still runs.
    global _exit_hook_set
    with _exit_hook:
        if not _exit_hook_set:
            atexit.register(_close_all)
            _exit_hook_set = True


def _close_all() -> None:
    """At exit: close every session whose loop still runs in another thread."""
    futures = []
    for conn in list(_live):
        loop = conn.loop
        if loop.is_closed() or not loop.is_running() or conn.thread is threading.current_thread():
            continue
        with contextlib.suppress(RuntimeError):
            futures.append(asyncio.run_coroutine_threadsafe(conn.aclose(), loop))
    for fut in futures:
        with contextlib.suppress(Exception):
            fut.result(CLOSE_TIMEOUT)
