"""Stream events: what the run loop emits to every view, one frozen `StreamEvent` each.

`run_stream`, `StreamingRunner`, `Runner.start` (the notebook's live view), logging and the
history read the same events. The "done" event carries the finished `RunResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from openstackai_nb.results import Approval, RunResult

__all__ = ["EventType", "StreamEvent"]

EventType = Literal["text", "reasoning", "approval", "tool_call", "tool_result", "turn", "error", "done"]
"""The kinds of stream event: text, reasoning, approval, tool_call, tool_result, turn, error, done."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a run, as the run loop emits it to every view.

    Example:
        >>> StreamEvent.text("Hel", turn=1).content
        'Hel'
    """

    type: EventType
    """text, reasoning, approval (a tool call waits for a decision), tool_call (a tool starts),
    tool_result, turn, error or done."""
    content: str = ""
    """Text delta (text events), reasoning delta (reasoning events, never part of the answer);
    a short description for turn/error events; for approval events, who is asked."""
    tool_name: str | None = None
    """The tool's name (approval / tool_call / tool_result)."""
    arguments: dict[str, Any] | None = None
    """The tool's parsed arguments (approval / tool_call / tool_result)."""
    result: Any = None
    """The tool's result (tool_result)."""
    call_id: str | None = None
    """The tool call's id (approval / tool_call / tool_result)."""
    turn: int = 0
    """The turn the event belongs to (1-based)."""
    error: str | None = None
    """What went wrong (error events, failed tool results)."""
    duration: float | None = None
    """Seconds the tool ran (tool_result)."""
    blocked_loop_s: float | None = None
    """Seconds an ``async def`` tool blocked the event loop (tool_result; None when it did not)."""
    approval: Approval | None = None
    """The decision about a call that needed approval (tool_call once approved, tool_result when
    rejected or after it ran); None for calls that needed none."""
    run_result: RunResult | None = None
    """The finished RunResult (done)."""
    parsed_from_text: bool = False
    """The call was written as text by the model and recovered by its provider (tool_call /
    tool_result; see `ToolCallRequest.parsed_from_text`)."""

    @classmethod
    def text(cls, delta: str, *, turn: int) -> StreamEvent:
        """A text delta."""
        return cls("text", content=delta, turn=turn)

    @classmethod
    def reasoning(cls, delta: str, *, turn: int) -> StreamEvent:
        """A reasoning ("thinking") delta: kept apart from the answer's text."""
        return cls("reasoning", content=delta, turn=turn)

    @classmethod
    def turn_start(cls, turn: int) -> StreamEvent:
        """The start of a turn."""
        return cls("turn", content=f"turn {turn}", turn=turn)

    @classmethod
    def done(cls, result: RunResult) -> StreamEvent:
        """The end of the run, carrying its result."""
        return cls("done", turn=result.turn_count, run_result=result, error=result.error)

    def __repr__(self) -> str:
        parts = [f"type={self.type!r}"]
        for name in ("content", "tool_name", "call_id", "error"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={value!r}")
        if self.turn:
            parts.append(f"turn={self.turn}")
        return f"StreamEvent({', '.join(parts)})"
