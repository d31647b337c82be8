"""What a run produced: RunResult, ToolCall (one executed tool call), Span (one trace span), RunStatus.

All three are pydantic models that dump to plain JSON (`to_dict()`) and load back equal
(`RunResult.from_dict()`): history, export and replay serialise through this one path.

Typed answers (`Agent(output_type=...)`): `final_output` holds the validated object (an
`Invoice`, a list...) and dumps as its JSON form; loaded back, it is that plain JSON data (a dict,
a list, a number): the class is not recorded, so `output_as(Invoice)` rebuilds it. A loaded
result still compares equal to the one dumped: results with an `output_schema` compare by
their JSON dump.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import to_jsonable_python

from openstackai_nb._secrets import scrub, scrub_data  # also installs the scrubbing filter of the package's logger
from openstackai_nb.messages import Message, Usage

__all__ = ["Approval", "RunResult", "RunStatus", "Span", "ToolCall", "cut_text", "jsonable", "tool_text"]


class RunStatus(enum.StrEnum):
    """Where a run is in its life."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


SpanKind = Literal["turn", "model", "tool"]
Outcome = Literal["ok", "error", "cancelled", "timeout", "rejected", "running"]


def jsonable(value: Any) -> Any:
    """Return `value` as plain JSON data.

    JSON values stay as they are; pydantic models, dataclasses, dates, enums, sets... are
    converted (also inside lists and dicts); anything else becomes its str.

    Raises:
        Exception: whatever the value's ``__str__`` raises when it has no JSON form and no text
            either (the runner reports that as a tool error).
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return to_jsonable_python(value, fallback=str)
    except ValueError:  # e.g. a circular reference
        return str(value)


def tool_text(value: Any) -> tuple[Any, str]:
    """A tool's return value as (the JSON-able value recorded, the text the model reads).

    Raises:
        Exception: the value cannot be turned into text (its ``__str__`` raised).
    """
    if isinstance(value, str):
        return value, value
    data = jsonable(value)
    return data, data if isinstance(data, str) else json.dumps(data)


def cut_text(text: str, limit: int) -> tuple[str, int | None]:
    """Cut `text` to `limit` characters plus a marker saying how much was cut.

    Returns the text and the original length (None when it was short enough to keep whole).
    """
    if len(text) <= limit:
        return text, None
    return f"{text[:limit]}[... {len(text) - limit:,} more characters cut: the tool returned {len(text):,}]", len(text)


class _ScrubbedRepr(BaseModel):
    """A record whose repr() and str() (displays) show its values scrubbed of secrets."""

    model_config = ConfigDict(defer_build=True)  # a base: no validator of its own at import time

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, scrub_data(value) if isinstance(value, str | dict | list) else value


class Approval(_ScrubbedRepr):
    """What was decided about a tool call that needed approval (`tool(requires_approval=True)`).

    The approver's answer (`tools.Decision`: approved, reason, decided_by) as the run recorded
    it, with when it was decided and how long the call waited.
    """

    model_config = ConfigDict(defer_build=True)

    approved: bool
    """True: the call ran; False: it did not, and the model was told why."""
    decided_by: str
    """Who or what decided: "you (live view)", "approver <function name>", "approval_timeout",
    "no approver"..."""
    decided_at: datetime
    """When the decision was taken (UTC)."""
    reason: str | None = None
    """The reason given (for a rejection, what the model read)."""
    waited: float = 0.0
    """Seconds the call waited for the decision (not counted against the run's time limits)."""

    def describe(self) -> str:
        """One line: "approved by X" or "rejected by X: reason"."""
        verb = "approved" if self.approved else "rejected"
        reason = f": {self.reason}" if self.reason else ""
        return f"{verb} by {self.decided_by}{reason}"


class ToolCall(_ScrubbedRepr):
    """The record of one tool call the run executed (or, for one that needed approval, rejected)."""

    model_config = ConfigDict(defer_build=True)

    call_id: str
    """The model's id for the call."""
    name: str
    """The tool's name."""
    arguments: dict[str, Any] = Field(default_factory=dict)
    """The arguments the model passed (parsed JSON)."""
    result: Any = None
    """What the tool returned (JSON-able; other values kept as their str). A result longer than
    `RunConfig.max_tool_result_chars` as text is kept as that text, cut, with a marker."""
    result_chars: int | None = None
    """The length of the result as text when it was cut to `RunConfig.max_tool_result_chars`
    (the model and the history got the cut text); None when it was kept whole."""
    error: str | None = None
    """Why the call failed (bad arguments, unknown tool, an exception, a result with no text form,
    a time limit reached while it ran, a rejection: what the model read), else None."""
    started_at: datetime
    """When the call started (UTC)."""
    elapsed_time: float = 0.0
    """Seconds the call took."""
    turn: int = 0
    """The turn that requested it."""
    approval: Approval | None = None
    """The decision about a call that needed approval (who, when, why); None when it needed none."""
    parsed_from_text: bool = False
    """True when the model wrote the call as text in its answer and the provider recovered it
    (`parse_text_tool_calls`: local servers without their tool parser)."""

    @property
    def ok(self) -> bool:
        """True when the call returned without error."""
        return self.error is None

    @property
    def rejected(self) -> bool:
        """True when the call needed approval and was not approved (it did not run)."""
        return self.approval is not None and not self.approval.approved

    @property
    def status(self) -> str:
        """ok, error or rejected."""
        return "rejected" if self.rejected else "ok" if self.error is None else "error"


class Span(_ScrubbedRepr):
    """One traced step: a turn, a model call (with its retries) or a tool call."""

    model_config = ConfigDict(defer_build=True)

    kind: SpanKind
    """turn, model or tool."""
    name: str
    """e.g. "turn 2", the model's name, the tool's name."""
    turn: int
    """The turn it belongs to."""
    start: float
    """Seconds from the run's start."""
    duration: float = 0.0
    """Seconds it took."""
    outcome: Outcome = "running"
    """ok, error, cancelled, timeout, rejected (a tool call that was not approved); running while open."""
    attributes: dict[str, Any] = Field(default_factory=dict)
    """Extra facts: retries, error text; for model spans finish_reason and reasoning."""


class RunResult(BaseModel):
    """What one run produced: output, status, tool calls, usage, trace, conversation."""

    model_config = ConfigDict(validate_assignment=False, defer_build=True)

    run_id: str
    """The run's unique id."""
    status: RunStatus = RunStatus.QUEUED
    """QUEUED, RUNNING, COMPLETED, FAILED or CANCELLED."""
    final_output: Any = None
    """The final answer: its text, or for an agent with an `output_type` the validated object
    (plain JSON data once loaded from JSON: see `output_as`). For a failed or cancelled run, the
    text streamed so far."""
    output_text: str | None = None
    """The answer as the model wrote it: for a typed answer, its JSON text (a final-answer
    tool's arguments); for a text answer, the same as `final_output`."""
    output_schema: dict[str, Any] | None = None
    """The JSON schema of the agent's `output_type` (None for a text answer): history and
    DataFrames expand the answer into typed `output.<field>` columns with it."""
    agent_name: str = ""
    """The agent's name."""
    model: str = ""
    """The model's name."""
    provider: str | None = None
    """Who serves the model: "openai", "azure", a preset's prefix ("ollama", "openrouter"...);
    None for offline models and OpenAI-compatible servers elsewhere (see `endpoint`). Prices
    (`set_prices`, genai-prices) and OpenTelemetry spans read it."""
    endpoint: str | None = None
    """The base URL the model's requests went to (never with a key); None for offline models."""
    input: str = ""
    """The user input that started the run."""
    turn_count: int = 0
    """Model calls made."""
    elapsed_time: float = 0.0
    """Seconds the run took. A field here, a method on `RunContext` (`ctx.elapsed_time()`): the
    seed's contract names both so. A result is a finished record, so its time is a value stored
    and loaded with it; a context is the live run, whose time grows while a tool reads it."""
    started_at: datetime
    """When the run started (UTC)."""
    tool_calls: list[ToolCall] = Field(default_factory=list[ToolCall])
    """Every executed tool call, in order of completion."""
    usage: Usage = Field(default_factory=Usage)
    """Token counts summed over the model calls the run made (what was billed): an answer served
    from the response cache counts in `cached_usage` instead."""
    cached_calls: int = 0
    """Model calls answered from the response cache (`RunConfig(cache=...)`), not by the model."""
    cached_usage: Usage | None = None
    """The original token counts of the answers served from the cache (as the model reported them
    when it first gave them); None when no call was cached. Not part of `usage` nor of the cost."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """RunConfig.metadata, carried through."""
    error: str | None = None
    """Why the run failed, was cancelled or timed out; None when it completed."""
    finish_reason: str | None = None
    """Why the last model call stopped, as the model reported it: stop, length (cut at the token
    limit), tool_calls, content_filter, refusal (`final_output` then holds the refusal)...; None
    when the model did not say. length and content_filter runs are COMPLETED but incomplete."""
    reasoning: str | None = None
    """The model's reasoning ("thinking") text over the run, never part of `final_output`; each
    turn's own is the `reasoning` attribute of its model span in `trace`. None without any."""
    warnings: list[str] = Field(default_factory=list)
    """What the user should know about the run although it went through, e.g. that the server read
    far fewer prompt tokens than were sent (the prompt was cut to a small context window), with
    how to fix it; empty for most runs. Views show them under the status line; history keeps them."""
    messages: list[Message] = Field(default_factory=list[Message])
    """The whole conversation, system message included."""
    trace: list[Span] = Field(default_factory=list[Span])
    """Spans of the run (empty when trace_enabled=False)."""

    @model_validator(mode="before")
    @classmethod
    def _text_of_older_dumps(cls, data: Any) -> Any:
        # Dumps written before output_text existed: a text answer's text is its final_output.
        if not isinstance(data, dict):
            return data
        fields = cast("dict[str, Any]", data)
        if "output_text" not in fields and fields.get("output_schema") is None:
            output = fields.get("final_output")
            if isinstance(output, str):
                return {**fields, "output_text": output}
        return fields

    @property
    def typed(self) -> bool:
        """True when the run COMPLETED with a typed answer (an agent's `output_type`)."""
        return self.output_schema is not None and self.status is RunStatus.COMPLETED

    def output_as(self, tp: Any) -> Any:
        """The final output validated as `tp` (e.g. a loaded run's dict back into an `Invoice`).

        Raises:
            pydantic.ValidationError: the output does not match `tp`.
        """
        from pydantic import TypeAdapter

        return TypeAdapter(tp).validate_python(self.final_output)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunResult):
            return NotImplemented
        if super().__eq__(other):
            return True
        # A typed answer loaded from JSON is plain data: equal when the dumps are.
        typed = self.output_schema is not None or other.output_schema is not None
        return typed and self.to_dict() == other.to_dict()

    @property
    def prompt_tokens(self) -> int:
        """Tokens sent to the model over the run."""
        return self.usage.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        """Tokens produced by the model over the run."""
        return self.usage.completion_tokens

    @property
    def succeeded(self) -> bool:
        """True when the run COMPLETED."""
        return self.status is RunStatus.COMPLETED

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-able data (the inverse of `from_dict`)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """Return the result as one JSON text."""
        return self.model_dump_json()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        """Load a result dumped by `to_dict`."""
        return cls.model_validate(data)

    def history_messages(self) -> list[Message]:
        """The conversation without the system message: pass it as `history=` to continue."""
        return [m for m in self.messages if m.role != "system"]

    def __repr__(self) -> str:
        # A display: secrets are scrubbed (the fields themselves keep what the run produced).
        out = scrub(self.output_text or "").strip().splitlines()
        first = out[0] if out else ""
        if len(first) > 60:
            first = first[:57] + "..."
        parts = [
            f"status={self.status.value}",
            f"turns={self.turn_count}",
            f"time={self.elapsed_time:.2f}s",
        ]
        if self.tool_calls:
            parts.append(f"tool_calls={len(self.tool_calls)}")
        if self.warnings:
            parts.append(f"warnings={len(self.warnings)}")
        if self.error:
            err = scrub(self.error).splitlines()[0]
            parts.append(f"error={err[:60]!r}")
        parts.append(f"output={first!r}")
        return f"RunResult({', '.join(parts)})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from openstackai_nb import render

        return render.run_html(self)

    def _repr_markdown_(self) -> str:
        from openstackai_nb import render

        return render.run_markdown(self)

    def show_trace(self) -> Any:
        """The run's spans as a waterfall: turns, model calls (retries), tool calls (parallel ones side by side).

        Returns a view that a notebook shows as static HTML (saved with the notebook, readable on
        GitHub and nbviewer; hover a bar, or read the table below it, for each span's details) and
        that prints as text. It reads `trace` only, so runs from history and exports draw the same.
        """
        from openstackai_nb import render

        return render.TraceView(self)
