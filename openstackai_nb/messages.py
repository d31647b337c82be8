"""The vocabulary every layer speaks: chat messages, tool-call requests, model deltas, stream events.

Providers turn HTTP into `ModelDelta`s; the run loop turns those into `StreamEvent`s; every view
(`run_stream`, `StreamingRunner`, the live widget, logging, history) reads the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = [
    "EventType",
    "Message",
    "ModelDelta",
    "Role",
    "StreamEvent",
    "ToolCallRequest",
    "ToolDefinition",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
EventType = Literal["text", "reasoning", "tool_call", "tool_result", "turn", "error", "done"]


class ToolCallRequest(BaseModel):
    """The model's request to call one tool (OpenAI `tool_calls[i]`)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    """The call id the model chose; the tool's answer refers to it."""
    name: str
    """The tool's name as the model wrote it (it may name a tool that does not exist)."""
    arguments: str = "{}"
    """The raw JSON arguments text, exactly as the model produced it."""


class Message(BaseModel):
    """One chat message, in the OpenAI chat-completions shape."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    role: Role
    """Who speaks: system, user, assistant or tool."""
    content: str | None = None
    """The text; None for an assistant message that only calls tools."""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    """Tool calls requested by an assistant message."""
    tool_call_id: str | None = None
    """For a tool message: the call it answers."""
    name: str | None = None
    """For a tool message: the tool's name."""

    def to_openai(self) -> dict[str, Any]:
        """Return the message as an OpenAI chat-completions dict."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None and self.role == "tool":
            out["name"] = self.name
        return out


class Usage(BaseModel):
    """Token counts reported by the model endpoint (summed over a run's requests)."""

    model_config = ConfigDict(defer_build=True)

    prompt_tokens: int = 0
    """Tokens sent to the model."""
    completion_tokens: int = 0
    """Tokens the model produced."""
    requests: int = 0
    """How many model requests were made (retries excluded)."""

    @property
    def total_tokens(self) -> int:
        """prompt_tokens + completion_tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        """Add another usage's counts to this one in place."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.requests += other.requests


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """What a model is told about a tool: its name, description and JSON schema."""

    name: str
    """The tool's name."""
    description: str
    """What the tool does (from its docstring)."""
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""

    def to_openai(self) -> dict[str, Any]:
        """Return the OpenAI `tools[i]` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


ModelDeltaKind = Literal["text", "reasoning", "tool_call", "finish", "usage", "retry"]


@dataclass(frozen=True, slots=True)
class ModelDelta:
    """One piece of a model's answer, as a provider yields it to the run loop."""

    kind: ModelDeltaKind
    """text: a text delta; reasoning: a reasoning ("thinking") delta, never part of the answer;
    tool_call: one complete tool call; finish: why the model stopped; usage: token counts;
    retry: a retry."""
    text: str = ""
    """The delta (kinds text and reasoning), the finish reason (kind finish: stop, length,
    tool_calls, content_filter, refusal...), or why a retry happens (kind retry)."""
    tool_call: ToolCallRequest | None = None
    """The complete tool call (kind tool_call)."""
    usage: Usage | None = None
    """Token counts (kind usage)."""
    delay: float = 0.0
    """Seconds waited before the retry (kind retry)."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a run, as the run loop emits it to every view.

    Example:
        >>> StreamEvent.text("Hel", turn=1).content
        'Hel'
    """

    type: EventType
    """text, reasoning, tool_call, tool_result, turn, error or done."""
    content: str = ""
    """Text delta (text events), reasoning delta (reasoning events, never part of the answer);
    a short description for turn/error events."""
    tool_name: str | None = None
    """The tool's name (tool_call / tool_result)."""
    arguments: dict[str, Any] | None = None
    """The tool's parsed arguments (tool_call / tool_result)."""
    result: Any = None
    """The tool's result (tool_result)."""
    call_id: str | None = None
    """The tool call's id (tool_call / tool_result)."""
    turn: int = 0
    """The turn the event belongs to (1-based)."""
    error: str | None = None
    """What went wrong (error events, failed tool results)."""
    duration: float | None = None
    """Seconds the tool ran (tool_result)."""
    blocked_loop_s: float | None = None
    """Seconds an ``async def`` tool blocked the event loop (tool_result; None when it did not)."""
    run_result: RunResult | None = None
    """The finished RunResult (done)."""

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
