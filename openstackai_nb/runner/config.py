"""RunConfig: the validated limits and options of one run.

`RunContext` (tools.py) and `RunStatus` (results.py) are re-exported here, where the runner's
documented imports find them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openstackai_nb._warnings import renamed
from openstackai_nb.errors import ConfigError
from openstackai_nb.results import RunStatus
from openstackai_nb.runner.observers import RunObserver
from openstackai_nb.tools import RunContext

__all__ = ["RunConfig", "RunContext", "RunStatus", "new_run_id"]


def new_run_id() -> str:
    """Return a new unique run id (``run_`` + 16 hex digits)."""
    return f"run_{uuid.uuid4().hex[:16]}"


class RunConfig(BaseModel):
    """Limits and options of one run, validated before anything runs.

    Args:
        max_turns: model calls allowed before the run fails (>= 1).
        max_time: seconds the whole run may take (> 0); past it, `errors.TimeoutError`.
        timeout_per_turn: seconds one turn (model call + its tools) may take (> 0).
        stop_on_tool_error: end the run FAILED when a tool raises, instead of telling the model.
        max_tool_result_chars: longest tool result, as text, sent to the model and recorded
            (>= 1, default 100,000 characters); a longer one is cut with a marker saying how much
            was cut, and `ToolCall.result_chars` keeps its original length. Tool error texts
            are cut the same way.
        verbose: log every span (turn, model call, tool call) through `logging`.
        trace_enabled: keep the spans on `RunResult.trace`.
        run_id: the run's id (unique by default).
        metadata: free-form JSON-able values carried to the result and history.
        model_settings: extra request fields for this run's model calls, over the agent's own
            `Agent.model_settings` (a key here wins): e.g. ``{"seed": 7}``, which `compare(seed=)`
            sets per repeat. An HTTP model sends them in the request body; a `FunctionModel`'s
            function sees them as `info.settings`.
        approver: decides about tool calls that wait for approval (`tool(requires_approval=True)`,
            `Agent(requires_approval=True)`): a function, sync or async, of a `tools.ApprovalRequest`
            that returns a `tools.Decision` (or True/False). It overrides the agent's own approver
            (`Agent(approver=...)`). A sync one runs in a tool thread (it may block, e.g. on
            `input()`). Without any approver such a call is rejected with an error that says how
            to approve; a `%%agent` cell asks you in its live view instead. (`approve=` is its old
            name: it still works, with a DeprecationWarning.)
        approval_timeout: seconds one call may wait for its decision (> 0); past it the call is
            rejected. None (default): it waits as long as it takes. The time calls spend waiting
            for a decision counts toward neither `timeout_per_turn` nor `max_time`.
        cache: answer model calls from the response cache (`openstackai_nb.cache`): True reads and
            writes it, "read" only reads it, "write" always asks the model and stores the answer
            (a refresh), False never uses it. None (default): the session's setting,
            `OPENSTACKAI_NB_CACHE` (off when unset). See docs/cache.md.
        cache_ttl: seconds a cached answer stays valid (> 0); None (default): no expiry.
        observers: who watches this run (`runner.observers.RunObserver`s): None (default) the
            session's (the history, OpenTelemetry, cassettes: `observers.set_default_observers`);
            a sequence replaces them for this run (``observers=[]``: nothing is recorded). Never
            stored in the history nor in JSON.

    Raises:
        ConfigError: a field has a value that cannot work, e.g. ``max_turns=0``.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, defer_build=True, arbitrary_types_allowed=True
    )

    max_turns: int = Field(10, ge=1)
    max_time: float = Field(300.0, gt=0)
    timeout_per_turn: float = Field(60.0, gt=0)
    stop_on_tool_error: bool = False
    max_tool_result_chars: int = Field(100_000, ge=1)
    verbose: bool = False
    trace_enabled: bool = True
    run_id: str = Field(default_factory=new_run_id, min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    model_settings: dict[str, Any] = Field(default_factory=dict)
    approver: Callable[..., Any] | None = None
    approval_timeout: float | None = Field(None, gt=0)
    cache: bool | Literal["read", "write"] | None = None
    cache_ttl: float | None = Field(None, gt=0)
    observers: tuple[RunObserver, ...] | None = Field(None, exclude=True)

    def __init__(self, **data: Any) -> None:
        if "approve" in data:
            renamed("RunConfig(approve=...)", "RunConfig(approver=...)")
            if "approver" in data:
                raise ConfigError("invalid RunConfig: approve= is the old name of approver=: give only approver=")
            data["approver"] = data.pop("approve")
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_describe_validation_error("RunConfig", exc)) from None

    @property
    def approve(self) -> Callable[..., Any] | None:
        """Deprecated: the old name of `approver`."""
        # runner/tool_calls.py still reads this name (silently: see `_warnings.renamed`).
        renamed("RunConfig.approve", "RunConfig.approver")
        return self.approver

    @field_validator("max_turns", "max_tool_result_chars", mode="before")
    @classmethod
    def _no_bool_or_float_turns(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("must be a whole number")
        return value

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_mode(cls, value: Any) -> Any:
        if value is None or value is True or value is False or value in ("read", "write"):
            return value
        raise ValueError("must be True, 'read', 'write' or False (None: the session's setting)")

    @field_validator("max_time", "timeout_per_turn", "approval_timeout", "cache_ttl", mode="before")
    @classmethod
    def _finite_seconds(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number of seconds")
        if isinstance(value, int | float) and value != value:  # NaN
            raise ValueError("must be a number, not NaN")
        return value


def _describe_validation_error(owner: str, exc: ValidationError) -> str:
    lines = [f"invalid {owner}:"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or owner
        seen = err.get("input")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown option"
        lines.append(f"  {field}={seen!r}: {msg}")
    return "\n".join(lines) if len(lines) > 2 else f"invalid {owner}: " + lines[1].strip()
