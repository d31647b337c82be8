"""Tools from plain Python functions: schema at definition, validation before every call.

`tool()` reads the signature (annotations resolved with `typing.get_type_hints`, so postponed
annotations work) and the Google-style docstring once, builds a pydantic model of the arguments
and the JSON schema the model sees. A parameter typed `RunContext` is filled by the runner and
hidden from the schema. Arguments from the model are validated before the function runs; a
failure becomes a tool error naming the field, which goes back to the model.

Where a call runs:

- a plain ``def`` runs in a thread of the package's own tool-thread pool (not the event loop's
  default executor). Python cannot stop a thread, so a call that hangs keeps its thread; but once
  the run stops waiting for it (timeout, cancellation) the call no longer counts against the
  pool's capacity and later calls get a fresh thread. With the loop's default executor, as many
  hung calls as it has workers made every later sync tool of the process wait forever;
- an ``async def`` runs on the event loop. Each step of it (the code between two awaits) is
  timed: a step longer than `BLOCKED_LOOP_WARNING_S` blocked the loop (``time.sleep``, CPU work,
  a blocking library) and stalled every other run and output on it; it is logged as a warning
  naming the tool and recorded as ``blocked_loop_s`` on the call's trace span. A blocking step
  cannot be interrupted: `timeout_per_turn` cuts the call off once it next awaits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import json
import logging
import os
import re
import threading
import time
import types
import typing
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import ToolDefinition

if typing.TYPE_CHECKING:
    from openstackai_nb.runner.config import RunContext

__all__ = ["BLOCKED_LOOP_WARNING_S", "Tool", "ToolArgumentsError", "tool"]

logger = logging.getLogger("openstackai_nb")

BLOCKED_LOOP_WARNING_S = 0.5
"""An ``async def`` tool step (code between two awaits) longer than this, in seconds, is reported
as blocking the event loop."""

# Set in the worker thread that runs a sync tool: a nested run_sync there is allowed (it blocks
# that worker thread only), and the flag lets errors explain where they came from.
in_tool_thread: contextvars.ContextVar[bool] = contextvars.ContextVar("openstackai_nb_in_tool", default=False)

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolArgumentsError(ValueError):
    """The model's arguments for a tool did not validate (sent back to the model)."""


class Tool:
    """A function the model may call, with its JSON schema and argument validator.

    Build one with `tool(fn)` or `@tool`; an Agent also accepts plain functions.
    """

    __slots__ = ("_args_model", "_context_param", "_is_async", "definition", "fn", "name")

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"tool() needs a function, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "")
        if not _NAME_RE.match(self.name):
            raise ConfigError(
                f"tool name {self.name!r} is not allowed: use 1-64 letters, digits, '_' or '-' (pass name=...)"
            )
        target = fn.func if isinstance(fn, functools.partial) else fn
        self._is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
            getattr(target, "__call__", None)  # noqa: B004 - async callable objects
        )
        summary, param_docs = _parse_docstring(inspect.getdoc(fn) or "")
        self._args_model, self._context_param = _build_args_model(fn, self.name, param_docs)
        schema = self._args_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        schema.setdefault("properties", {})
        self.definition = ToolDefinition(self.name, description or summary or self.name, schema)

    def validate(self, raw_arguments: str | dict[str, Any]) -> dict[str, Any]:
        """Parse and validate the model's arguments; raise ToolArgumentsError naming the problem."""
        if isinstance(raw_arguments, str):
            try:
                data = json.loads(raw_arguments) if raw_arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(f"arguments are not valid JSON ({exc.msg} at char {exc.pos})") from None
        else:
            data = raw_arguments
        if not isinstance(data, dict):
            raise ToolArgumentsError(f"arguments must be a JSON object, got {type(data).__name__}")
        try:
            model = self._args_model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolArgumentsError(f"invalid arguments for {self.name}: {problems}") from None
        return {k: getattr(model, k) for k in type(model).model_fields}

    @property
    def is_async(self) -> bool:
        """True for an ``async def`` tool (it runs on the event loop, not in a thread)."""
        return self._is_async

    async def invoke(
        self, arguments: dict[str, Any], context: RunContext | None, progress: CallProgress | None = None
    ) -> Any:
        """Call the function with validated arguments.

        A sync function runs in the tool-thread pool; an async one on the loop, its steps timed
        (see the module docstring). `progress`, when given, is updated as the call goes.
        """
        kwargs = dict(arguments)
        if self._context_param is not None:
            kwargs[self._context_param] = context
        if progress is None:
            progress = CallProgress()
        if self._is_async:
            progress.started = True
            coro = self.fn(**kwargs)
            if not inspect.iscoroutine(coro):
                return await coro  # an async callable returning another awaitable: not timed
            return await _timed_steps(coro, self.name, progress)
        return await _run_in_tool_thread(self.fn, kwargs, progress)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


class CallProgress:
    """How far one tool call got; the runner reads it when the call is cut off at a limit."""

    __slots__ = ("blocked_loop_s", "in_thread", "started")

    def __init__(self) -> None:
        self.in_thread = False
        """True for a sync tool (it runs in a thread of the tool-thread pool)."""
        self.started = False
        """The function started running (a sync call may wait for a free thread first)."""
        self.blocked_loop_s = 0.0
        """Seconds an async tool's steps blocked the event loop (steps over the threshold only)."""


# -- sync tools: the tool-thread pool -----------------------------------------------------------


class _Job:
    __slots__ = ("args", "counted", "fn", "future", "progress")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], progress: CallProgress) -> None:
        self.fn = fn
        self.args = args
        self.progress = progress
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.counted = False  # running and still counted against the pool's capacity


class ToolThreadPool:
    """Daemon threads for sync tools, where a call nobody waits for any more stops counting.

    At most `max_workers` calls that someone waits for run at once (the same default as the
    event loop's executor); more wait in a queue. `abandon()` (called when a run stops waiting:
    timeout or cancellation) takes a running call out of that count, so the queue moves on in
    another thread, and drops a call that had not started. An abandoned thread finishes its call
    whenever the function returns, then serves the queue again; idle threads end after
    `idle_timeout` seconds.
    """

    def __init__(self, max_workers: int | None = None, idle_timeout: float = 30.0) -> None:
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self.idle_timeout = idle_timeout
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._counted = 0  # running calls that count against max_workers
        self._idle = 0  # threads waiting for work, or starting
        self.abandoned = 0
        """Calls still running in a thread that nobody waits for (hung tools, for diagnostics)."""
        self._pid = os.getpid()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], progress: CallProgress) -> _Job:
        """Queue `fn(*args)`; its `future` resolves with what it returns or raises."""
        job = _Job(fn, args, progress)
        with self._cond:
            if self._pid != os.getpid():  # a forked child has none of the parent's threads
                self._pid, self._queue, self._counted, self._idle, self.abandoned = os.getpid(), deque(), 0, 0, 0
            self._queue.append(job)
            self._start_threads()
            self._cond.notify_all()
        return job

    def abandon(self, job: _Job) -> None:
        """The caller stopped waiting: a queued call is dropped, a running one stops counting."""
        with self._cond:
            if job.counted:
                job.counted = False
                self._counted -= 1
                self.abandoned += 1
                self._start_threads()
                self._cond.notify_all()
            elif job in self._queue:
                self._queue.remove(job)
                job.future.cancel()

    def _start_threads(self) -> None:
        # Under the lock: enough threads for the queued calls the capacity lets start now.
        want = min(len(self._queue), self.max_workers - self._counted)
        while self._idle < want:
            self._idle += 1
            threading.Thread(target=self._work, name="openstackai-nb-tool", daemon=True).start()

    def _can_take(self) -> bool:
        return bool(self._queue) and self._counted < self.max_workers

    def _work(self) -> None:
        with self._cond:
            while True:
                if not self._cond.wait_for(self._can_take, self.idle_timeout):
                    self._idle -= 1
                    return
                job = self._queue.popleft()
                self._idle -= 1
                self._counted += 1
                job.counted = True
                self._cond.release()
                try:
                    self._run(job)
                finally:
                    self._cond.acquire()
                    if job.counted:
                        job.counted = False
                        self._counted -= 1
                    else:
                        self.abandoned -= 1
                    self._idle += 1
                    self._cond.notify_all()

    @staticmethod
    def _run(job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        job.progress.started = True
        try:
            result = job.fn(*job.args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting run as is
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)


tool_threads = ToolThreadPool()
"""The process's pool for sync tools."""


async def _run_in_tool_thread(fn: Callable[..., Any], kwargs: dict[str, Any], progress: CallProgress) -> Any:
    progress.in_thread = True
    context = contextvars.copy_context()  # as asyncio.to_thread: the tool sees the caller's contextvars
    job = tool_threads.submit(context.run, (_call_in_tool_thread, fn, kwargs), progress)
    try:
        return await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        tool_threads.abandon(job)
        raise


def _call_in_tool_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    token = in_tool_thread.set(True)
    try:
        return fn(**kwargs)
    finally:
        in_tool_thread.reset(token)


# -- async tools: each step timed -------------------------------------------------------------------


@types.coroutine
def _timed_steps(coro: Coroutine[Any, Any, Any], name: str, progress: CallProgress) -> Generator[Any, Any, Any]:
    """Drive `coro` step by step (as `await coro` would), timing each step: the code between two
    awaits runs on the loop, so a long step is a loop that could not do anything else."""
    send: Any = None
    throw: BaseException | None = None
    while True:
        t0 = time.perf_counter()
        try:
            yielded = coro.send(send) if throw is None else coro.throw(throw)
        except StopIteration as stop:
            _step_took(time.perf_counter() - t0, name, progress)
            return stop.value
        except BaseException:
            _step_took(time.perf_counter() - t0, name, progress)
            raise
        _step_took(time.perf_counter() - t0, name, progress)
        send, throw = None, None
        try:
            send = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown in by the task (cancellation): passed on
            throw = exc


def _step_took(seconds: float, name: str, progress: CallProgress) -> None:
    if seconds < BLOCKED_LOOP_WARNING_S:
        return
    first = progress.blocked_loop_s == 0.0
    progress.blocked_loop_s += seconds
    if first:
        logger.warning(
            "openstackai_nb: tool %r (an async def) blocked the event loop for %.2f s without awaiting: every "
            "other run and live output on this loop waited meanwhile, and timeout_per_turn can only stop it once "
            "it awaits. Use async calls (e.g. `await asyncio.sleep`) inside it, or make it a plain def (it then "
            "runs in a thread)",
            name,
            seconds,
        )


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None, description: str | None = None
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a tool from a function: `@tool`, `@tool(name=...)` or `tool(fn)`.

    Example:
        >>> @tool
        ... def add(a: int, b: int) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> add.definition.parameters["required"]
        ['a', 'b']
    """
    if fn is not None:
        return fn if isinstance(fn, Tool) else Tool(fn, name=name, description=description)
    return lambda f: Tool(f, name=name, description=description)


def as_tool(obj: Any) -> Tool:
    """Return `obj` as a Tool (a Tool as is, a function wrapped); ConfigError otherwise."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return Tool(obj)
    raise ConfigError(f"tools must be functions or tool() objects, got {type(obj).__name__}: {obj!r}")


def _build_args_model(
    fn: Callable[..., Any], tool_name: str, param_docs: dict[str, str]
) -> tuple[type[BaseModel], str | None]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read the signature of tool {tool_name!r}: {exc}") from None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolved forward refs fall back to raw annotations
        hints = {}
    from pydantic import Field

    from openstackai_nb.runner.config import RunContext

    fields: dict[str, Any] = {}
    context_param: str | None = None

    for pname, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, param.annotation)
        if _is_context(annotation, RunContext):
            context_param = pname
            continue
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (annotation, Field(default, description=param_docs.get(pname)))
    model = create_model(  # type: ignore[call-overload]
        f"{tool_name}_args", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
    )
    return model, context_param


def _is_context(annotation: Any, context_cls: type) -> bool:
    """True for `RunContext`, `RunContext | None` and their string forms."""
    if annotation is context_cls:
        return True
    if isinstance(annotation, str):
        return annotation.replace(" ", "") in ("RunContext", "RunContext|None", "Optional[RunContext]")
    return any(a is context_cls for a in typing.get_args(annotation))


_SECTION_RE = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Example|Examples|Note|Notes):\s*$")
_PARAM_RE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Return (summary, {param: description}) from a Google-style docstring."""
    lines = doc.splitlines()
    summary_lines: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        m = _SECTION_RE.match(stripped)
        if m:
            section, current = m.group(1), None
            continue
        if section is None:
            summary_lines.append(stripped)
        elif section in ("Args", "Arguments", "Parameters") and stripped:
            pm = _PARAM_RE.match(line)
            indent = len(line) - len(line.lstrip())
            if pm and (current is None or indent <= _indent_of(lines, current)):
                name = pm.group(1).lstrip("*")
                params[name] = pm.group(2).strip()
                current = name
            elif current is not None:
                params[current] = (params[current] + " " + stripped).strip()
    summary = " ".join(s for s in summary_lines if s).strip()
    return summary, params


def _indent_of(lines: list[str], param: str) -> int:
    for line in lines:
        if re.match(rf"^\s*\*{{0,2}}{re.escape(param)}\s*(\([^)]*\))?\s*:", line):
            return len(line) - len(line.lstrip())
    return 0
