"""Tools from plain Python functions: schema at definition, validation before every call.

`tool()` reads the signature (annotations resolved with `typing.get_type_hints`, so postponed
annotations work) and the Google-style docstring once, builds a pydantic model of the arguments
and the JSON schema the model sees. A parameter typed `RunContext` is filled by the runner and
hidden from the schema. Arguments from the model are validated before the function runs; a
failure becomes a tool error naming the field, which goes back to the model.
How the schema is read (signature, hints, docstring): `_function_schema`; how a call runs
(threads, timed async steps): `_tool_calls`.

Approval: `tool(requires_approval=True)` (or `Agent(requires_approval=True)` for every tool)
makes the run ask an approver before the call runs. An approver (`RunConfig(approver=...)`,
`Agent(approver=...)`) is a function (sync or async) of an `ApprovalRequest` that returns a
`Decision` (or True/False); the run records what was decided on the `ToolCall`
(`results.Approval`). Where the approver comes from, and how the wait is kept out of the run's
time limits: `runner/approval.py`. The names, one per idea, and their old names: docs/runner.md.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast, overload

from pydantic import ValidationError

from openstackai_nb._function_schema import args_model, parse_docstring
from openstackai_nb._tool_calls import CallProgress, run_in_tool_thread, timed_steps
from openstackai_nb._warnings import renamed
from openstackai_nb.errors import ConfigError, ToolArgumentsError
from openstackai_nb.messages import Message, ToolDefinition

__all__ = [
    "ApprovalRequest",
    "Approver",
    "Decision",
    "RunContext",
    "Tool",
    "ToolArgumentsError",
    "ToolSource",
    "as_tool",
    "parse_arguments",
    "tool",
]

logger = logging.getLogger("openstackai_nb")

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Tool:
    """A function the model may call, with its JSON schema and argument validator.

    Build one with `tool(fn)` or `@tool`; an Agent also accepts plain functions.
    """

    __slots__ = ("_args_model", "_context_param", "_is_async", "definition", "fn", "name", "requires_approval")

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"tool() needs a function, got {type(fn).__name__}")
        if not isinstance(cast(object, requires_approval), bool):  # checked: callers pass anything
            raise ConfigError(f"requires_approval must be True or False, got {requires_approval!r}")
        self.fn = fn
        self.requires_approval = requires_approval
        """Every call waits for an approver's decision before it runs (see `Decision`)."""
        self.name = name or getattr(fn, "__name__", "")
        if not _NAME_RE.match(self.name):
            raise ConfigError(
                f"tool name {self.name!r} is not allowed: use 1-64 letters, digits, '_' or '-' (pass name=...)"
            )
        target: object = cast("functools.partial[Any]", fn).func if isinstance(fn, functools.partial) else fn
        self._is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
            getattr(target, "__call__", None)  # noqa: B004 - async callable objects
        )
        func: Callable[..., Any] = self.fn  # the declared type (the checks above narrowed `fn`)
        summary, param_docs = parse_docstring(inspect.getdoc(func) or "")
        self._args_model, self._context_param = args_model(func, self.name, param_docs, RunContext)
        schema = self._args_model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        schema.setdefault("properties", {})
        self.definition = ToolDefinition(self.name, description or summary or self.name, schema)

    def validate(self, raw_arguments: str | dict[str, Any]) -> dict[str, Any]:
        """Parse and validate the model's arguments; raise ToolArgumentsError naming the problem."""
        data = parse_arguments(raw_arguments)
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
            return await timed_steps(coro, self.name, progress)
        return await run_in_tool_thread(self.fn, kwargs, progress)

    def with_approval(self) -> Tool:
        """Deprecated: `tool(this_tool, requires_approval=True)` (a copy; this one is left as it is)."""
        renamed("Tool.with_approval()", "tool(existing_tool, requires_approval=True)")
        return self.changed(requires_approval=True)

    def changed(
        self, *, name: str | None = None, description: str | None = None, requires_approval: bool | None = None
    ) -> Tool:
        """A copy of this tool with another name, description or approval setting (this one is left as it is).

        `tool(existing_tool, name=...)` calls it. The function, its schema and its validator are
        shared; a description that was the old name (a function without a docstring) follows the
        new name. Returns this tool itself when nothing changes.

        Raises:
            ConfigError: the new name is not allowed (1-64 letters, digits, '_' or '-').
        """
        if requires_approval is not None and not isinstance(cast(object, requires_approval), bool):
            raise ConfigError(f"requires_approval must be True or False, got {requires_approval!r}")
        new_name = self.name if name is None else name
        if new_name != self.name and not _NAME_RE.match(new_name):
            raise ConfigError(
                f"tool name {new_name!r} is not allowed: use 1-64 letters, digits, '_' or '-' (pass name=...)"
            )
        old = self.definition
        text = description if description is not None else new_name if old.description == self.name else old.description
        gated = self.requires_approval if requires_approval is None else requires_approval
        if (new_name, text, gated) == (self.name, old.description, self.requires_approval):
            return self
        copy = object.__new__(type(self))
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(self, slot):
                    setattr(copy, slot, getattr(self, slot))
        copy.name = new_name
        copy.requires_approval = gated
        copy.definition = ToolDefinition(new_name, text, old.parameters)
        return copy

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, as if it were not a tool."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        approval = ", requires_approval=True" if self.requires_approval else ""
        return f"Tool({self.name!r}{approval})"


def parse_arguments(raw_arguments: str | dict[str, Any]) -> dict[str, Any]:
    """The model's arguments as a JSON object; ToolArgumentsError for bad JSON or a non-object."""
    if isinstance(raw_arguments, str):
        try:
            data: object = json.loads(raw_arguments) if raw_arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON ({exc.msg} at char {exc.pos})") from None
    else:
        data = raw_arguments
    if not isinstance(data, dict):
        raise ToolArgumentsError(f"arguments must be a JSON object, got {type(data).__name__}")
    return cast("dict[str, Any]", data)


@overload
def tool(
    fn: Callable[..., Any],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
) -> Tool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, requires_approval: bool = False
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a tool from a function: `@tool`, `@tool(name=...)` or `tool(fn)`.

    Args:
        fn: the function (sync or async). A `Tool` given again gives a copy with the name,
            description or approval asked for (`tool(add, name="plus")` is a tool named "plus";
            `add` is left as it is).
        name: the name the model sees (default: the function's).
        description: what the model is told it does (default: the docstring's summary).
        requires_approval: ask an approver before every call (`RunConfig(approver=...)`,
            `Agent(approver=...)`, or in a notebook the live view's Approve / Reject buttons); a
            rejected call goes back to the model as "the user rejected this call: <reason>".

    Example:
        >>> @tool
        ... def add(a: int, b: int) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> add.definition.parameters["required"]
        ['a', 'b']
        >>> tool(add, requires_approval=True)
        Tool('add', requires_approval=True)
        >>> tool(add, name="plus")
        Tool('plus')
    """
    if fn is not None:
        return _as_tool(fn, name, description, requires_approval)

    def decorate(f: Callable[..., Any]) -> Tool:
        return _as_tool(f, name, description, requires_approval)

    return decorate


def _as_tool(fn: Callable[..., Any], name: str | None, description: str | None, requires_approval: bool) -> Tool:
    if isinstance(fn, Tool):  # a tool given again: a copy with what was asked (requires_approval=False keeps its own)
        return fn.changed(name=name, description=description, requires_approval=requires_approval or None)
    return Tool(fn, name=name, description=description, requires_approval=requires_approval)


@dataclass(frozen=True, init=False)
class Decision:
    """An approver's answer for one tool call: approve or reject, with an optional reason.

    The run records it as the call's `results.Approval` (same `approved`, `reason` and
    `decided_by`, plus when it was decided and how long the call waited).

    Example:
        >>> Decision.reject("too expensive")
        Decision(approved=False, reason='too expensive', decided_by=None)
    """

    approved: bool
    """True: the call runs; False: it does not, and the model is told why."""
    reason: str | None
    """Why (the model reads it for a rejection; recorded on the ToolCall either way)."""
    decided_by: str | None
    """Who decided (recorded as `Approval.decided_by`); default: "approver <the approver function's name>"."""

    def __init__(
        self, approved: bool, reason: str | None = None, decided_by: str | None = None, *, by: str | None = None
    ) -> None:
        if by is not None:
            renamed("Decision(by=...)", "Decision(decided_by=...)")
            decided_by = _one_of(decided_by, by)
        object.__setattr__(self, "approved", approved)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "decided_by", decided_by)

    @property
    def by(self) -> str | None:
        """Deprecated: the old name of `decided_by`."""
        renamed("Decision.by", "Decision.decided_by")
        return self.decided_by

    @classmethod
    def approve(cls, reason: str | None = None, *, decided_by: str | None = None, by: str | None = None) -> Decision:
        """Let the call run."""
        if by is not None:
            renamed("Decision.approve(by=...)", "Decision.approve(decided_by=...)")
            decided_by = _one_of(decided_by, by)
        return cls(True, reason, decided_by)

    @classmethod
    def reject(cls, reason: str | None = None, *, decided_by: str | None = None, by: str | None = None) -> Decision:
        """Do not run the call; the model reads "the user rejected this call: <reason>"."""
        if by is not None:
            renamed("Decision.reject(by=...)", "Decision.reject(decided_by=...)")
            decided_by = _one_of(decided_by, by)
        return cls(False, reason, decided_by)


def _one_of(decided_by: str | None, by: str) -> str:
    if decided_by is not None and decided_by != by:
        raise ConfigError(f"Decision got decided_by={decided_by!r} and by={by!r} (its old name): give only decided_by")
    return by


@dataclass(frozen=True)
class ApprovalRequest:
    """A tool call waiting for approval: what an approver receives."""

    call_id: str
    """The model's id for the call."""
    name: str
    """The tool's name."""
    arguments: dict[str, Any] = field(default_factory=dict[str, Any])
    """The validated arguments the tool would be called with."""
    turn: int = 0
    """The turn that asked for the call."""
    run_id: str = ""
    """The run's id."""
    agent: str = ""
    """The agent's name."""


Approver: TypeAlias = Callable[[ApprovalRequest], "Decision | bool | Awaitable[Decision | bool]"]
"""A function (sync or async) that decides whether a tool call may run: a `Decision`, or True/False."""


def as_tool(obj: Any) -> Tool:
    """Return `obj` as a Tool (a Tool as is, a function wrapped); ConfigError otherwise."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return Tool(obj)
    raise ConfigError(
        f"tools must be functions, tool() objects or MCPServer objects, got {type(obj).__name__}: {obj!r}"
    )


class ToolSource:
    """Tools known only once connected, such as an MCP server's (`openstackai_nb.mcp.MCPServer`).

    An Agent accepts one next to its functions; a run asks it for its tools on the run's event
    loop before the first turn (`Agent.resolve_tools`), so the runner needs no special case.
    """

    label: str = ""
    """How errors and listings name the source (a command line, a URL)."""

    async def list_tools(self) -> list[Tool]:
        """The tools this source offers on the running event loop (connecting if needed)."""
        raise NotImplementedError


class RunContext:
    """State of one run that tools can read and write.

    A tool receives it by declaring a parameter typed `RunContext` (hidden from the model).

    Args:
        variables: initial variables (copied).
        run_id: the run's id; filled from RunConfig.run_id when empty.
        turn_count: the turn the run is in (the run keeps it up to date; starts at 0).
        history: the conversation so far, as `Message`s or dicts with role/content. A run given
            this context and no `history=` of its own continues this conversation; while it
            runs, `history` is the run's whole conversation (system message included).

    Example:
        >>> ctx = RunContext(run_id="run-123", turn_count=0, variables={"user": "Alice"}, history=[])
        >>> ctx.get_variable("user")
        'Alice'
    """

    __slots__ = ("_start", "history", "run_id", "turn_count", "variables")

    def __init__(
        self,
        variables: dict[str, Any] | None = None,
        *,
        run_id: str | None = None,
        turn_count: int = 0,
        history: list[Message] | list[dict[str, Any]] | None = None,
    ) -> None:
        if isinstance(turn_count, bool) or not isinstance(cast(object, turn_count), int) or turn_count < 0:
            raise ConfigError(f"RunContext turn_count must be a whole number >= 0, got {turn_count!r}")
        if history is not None and not isinstance(cast(object, history), list | tuple):
            raise ConfigError(f"RunContext history must be a list of messages, got {type(history).__name__}")
        self.run_id: str = run_id or ""
        self.turn_count: int = turn_count
        self.variables: dict[str, Any] = dict(variables or {})
        self.history: list[Any] = list(history or ())
        self._start = time.monotonic()

    def elapsed_time(self) -> float:
        """Seconds since the run started, now.

        A method here and a field on `RunResult` (`result.elapsed_time`): the seed's contract names
        both so, and keeps both. The context is the live run, so its time is read when asked (it
        grows between two calls); a result is the finished record, whose time is a stored value.
        """
        return time.monotonic() - self._start

    def set_variable(self, key: str, value: Any) -> None:
        """Store a value for later tools in the same run."""
        self.variables[key] = value

    def get_variable(self, key: str, default: Any = None) -> Any:
        """Return a stored value, or `default`."""
        return self.variables.get(key, default)

    def __repr__(self) -> str:
        return f"RunContext(run_id={self.run_id!r}, turn_count={self.turn_count}, variables={sorted(self.variables)})"
