"""The session with an MCP server on one event loop, and the Tools that call it (`openstackai_nb.mcp`).

`Connection` is one session, held open by a task of its own on the loop (the SDK's transports
hold anyio task groups, which the task that entered them must leave). Runs on that loop call it
concurrently; the first call that finds the server gone records why (with the end of its stderr)
and ends the session, so the next run starts a new one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import os
import re
import tempfile
import threading
from typing import Any, Literal, Protocol

from openstackai_nb._tool_calls import CallProgress
from openstackai_nb.errors import AgentError, UsageError
from openstackai_nb.messages import ToolDefinition
from openstackai_nb.tools import RunContext, Tool, parse_arguments


class MCPServer(Protocol):
    """What a session needs of its server (`openstackai_nb.mcp.MCPServer`, which imports this module)."""

    transport: Literal["stdio", "http"]
    target: str
    args: list[str]
    env: dict[str, str] | None
    cwd: str | None
    headers: dict[str, str]
    prefix: str | None
    requires_approval: bool | frozenset[str]
    label: str
    startup_timeout: float
    _connections: dict[asyncio.AbstractEventLoop, Connection]

    async def _connection(self) -> Connection: ...


__all__ = ["Connection", "MCPServerError", "MCPToolError", "close_sessions", "live_sessions"]

STDERR_TAIL_CHARS = 1500
"""How much of the end of a stdio server's stderr an error quotes."""
CLOSE_TIMEOUT = 8.0
"""Seconds closing waits for each session (the SDK gives a server 2 s to leave after its stdin closes)."""

_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
# Every session that started and has not ended (`connected()`, the exit hook). Sessions start and
# end on their loops' threads while `connected()` reads from a cell's thread: changed and copied
# only under `_live_lock`.
_live: set[Connection] = set()
_live_lock = threading.Lock()
_exit_hook = threading.Lock()
_exit_hook_set = False


class MCPServerError(AgentError):
    """An MCP server could not be started or reached, or died (the message names it, with its stderr's end)."""


class MCPToolError(AgentError):
    """An MCP tool answered with ``isError``: its text goes back to the model as the tool's error."""


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
        gated = getattr(server, "requires_approval", False)
        self.requires_approval = gated if isinstance(gated, bool) else bool({remote_name, self.name} & gated)

    def validate(self, raw_arguments: str | dict[str, Any]) -> dict[str, Any]:
        """Parse the model's arguments into a JSON object (the server checks them against its schema)."""
        return parse_arguments(raw_arguments)

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


class Connection:
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

        with _live_lock:
            _live.add(self)
        _close_at_exit_once()
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self.server.startup_timeout) as scope:
                async with contextlib.AsyncExitStack() as stack:
                    transport = await self._transport(stack)
                    self.client = client = await stack.enter_async_context(Client(transport))
                    self.tools = await self._list(client)
                    scope.deadline = math.inf
                    self.ready.set_result(None)
                    await self._stop.wait()
            if not self.ready.done():
                raise TimeoutError(f"no answer within {self.server.startup_timeout:g}s")
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
        if call.cancelled():  # the session ended first
            raise self._died(name, None)
        exc = call.exception()
        if exc is None:
            return call.result()
        if self.task.done() or _is_closed(exc):
            raise self._died(name, exc) from None
        raise MCPServerError(
            f"MCP server {self.server.label!r} failed the call of tool {name!r}: {_describe(exc)}"
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
                f"MCP server {server.label!r} did not list its tools within {self.server.startup_timeout:g}s: "
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
        with _live_lock:
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
    """An anonymous temporary file a stdio server writes its stderr to; errors quote its end.

    It has no name on disk (nothing is left behind, however the process ends); the tail is read
    with `os.pread`, which leaves the offset the server writes at alone.
    """

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="openstackai-nb-mcp-")  # noqa: SIM115 - closed with the session

    def tail(self) -> str:
        try:
            fd = self.file.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - STDERR_TAIL_CHARS * 2)
            text = os.pread(fd, size - start, start).decode("utf-8", "replace")
        except (OSError, ValueError):  # ValueError: the file is closed
            return ""
        return text[-STDERR_TAIL_CHARS:].strip()

    def close(self) -> None:
        self.file.close()


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
    # Registered when the first session starts, after `runner.loop` registered its own hook:
    # atexit runs hooks last-in first-out, so the sessions close while the run loop still runs.
    global _exit_hook_set
    with _exit_hook:
        if not _exit_hook_set:
            atexit.register(_close_all)
            _exit_hook_set = True


def _close_all() -> None:
    """At exit: close every session whose loop still runs in another thread."""
    close_sessions(live_sessions())


def live_sessions() -> list[Connection]:
    """Every session that started and has not ended, at this moment (a copy)."""
    with _live_lock:
        return list(_live)


def close_sessions(conns: list[Connection]) -> None:
    """Close sessions held by loops running in other threads, and wait for them (each within CLOSE_TIMEOUT)."""
    futures = []
    for conn in conns:
        loop = conn.loop
        if loop.is_closed() or not loop.is_running() or conn.thread is threading.current_thread():
            continue
        with contextlib.suppress(RuntimeError):
            futures.append(asyncio.run_coroutine_threadsafe(conn.aclose(), loop))
    for fut in futures:
        with contextlib.suppress(Exception):
            fut.result(CLOSE_TIMEOUT)
