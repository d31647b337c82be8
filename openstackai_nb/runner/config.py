"""RunConfig (validated limits), RunContext (per-run state a tool can read) and RunStatus."""

from __future__ import annotations

import enum
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import Message

__all__ = ["RunConfig", "RunContext", "RunStatus", "new_run_id"]


def new_run_id() -> str:
    """Return a new unique run id (``run_`` + 16 hex digits)."""
    return f"run_{uuid.uuid4().hex[:16]}"


class RunStatus(enum.StrEnum):
    """Where a run is in its life."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


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

    Raises:
        ConfigError: a field has a value that cannot work, e.g. ``max_turns=0``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, defer_build=True)

    max_turns: int = Field(10, ge=1)
    max_time: float = Field(300.0, gt=0)
    timeout_per_turn: float = Field(60.0, gt=0)
    stop_on_tool_error: bool = False
    max_tool_result_chars: int = Field(100_000, ge=1)
    verbose: bool = False
    trace_enabled: bool = True
    run_id: str = Field(default_factory=new_run_id, min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_describe_validation_error("RunConfig", exc)) from None

    @field_validator("max_turns", "max_tool_result_chars", mode="before")
    @classmethod
    def _no_bool_or_float_turns(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError("must be a whole number")
        return value

    @field_validator("max_time", "timeout_per_turn", mode="before")
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
        if isinstance(turn_count, bool) or not isinstance(turn_count, int) or turn_count < 0:
            raise ConfigError(f"RunContext turn_count must be a whole number >= 0, got {turn_count!r}")
        if history is not None and not isinstance(history, list | tuple):
            raise ConfigError(f"RunContext history must be a list of messages, got {type(history).__name__}")
        self.run_id: str = run_id or ""
        self.turn_count: int = turn_count
        self.variables: dict[str, Any] = dict(variables or {})
        self.history: list[Any] = list(history or ())
        self._start = time.monotonic()

    def elapsed_time(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self._start

    def set_variable(self, key: str, value: Any) -> None:
        """Store a value for later tools in the same run."""
        self.variables[key] = value

    def get_variable(self, key: str, default: Any = None) -> Any:
        """Return a stored value, or `default`."""
        return self.variables.get(key, default)

    def __repr__(self) -> str:
        return f"RunContext(run_id={self.run_id!r}, turn_count={self.turn_count}, variables={sorted(self.variables)})"
