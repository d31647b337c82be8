"""The vocabulary every layer speaks: chat messages, tool-call requests, tool definitions, model deltas.

Providers turn HTTP into `ModelDelta`s; the run loop turns those into `StreamEvent`s
(`openstackai_nb.events`: they carry a `RunResult`, which is built from these messages, so they
live one step above this module).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "FINAL_ANSWER_TOOL",
    "Message",
    "ModelDelta",
    "OUTPUT_ERRORS",
    "OutputSpec",
    "Role",
    "ToolCallRequest",
    "ToolDefinition",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
"""Who speaks in a chat message."""


class ToolCallRequest(BaseModel):
    """The model's request to call one tool (OpenAI `tool_calls[i]`)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    """The call id the model chose; the tool's answer refers to it."""
    name: str
    """The tool's name as the model wrote it (it may name a tool that does not exist)."""
    arguments: str = "{}"
    """The raw JSON arguments text, exactly as the model produced it."""
    extra_content: dict[str, Any] | None = None
    """Provider fields attached to the call that the provider wants back with it on the next
    request (Gemini's `extra_content.google.thought_signature`); None for most providers."""
    parsed_from_text: bool = False
    """True when the model wrote the call as text in its answer (`<tool_call>{...}</tool_call>`, or
    a bare `{"name": ..., "arguments": ...}`) and the provider recovered it (`parse_text_tool_calls`);
    never sent back to an endpoint."""


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
    """For a tool message: the tool's name. For a user message the run loop wrote (the errors of a
    typed answer that did not validate): `OUTPUT_ERRORS`, so offline models can tell it from the
    user's own (never sent to an endpoint)."""

    def to_openai(self) -> dict[str, Any]:
        """Return the message as an OpenAI chat-completions dict."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [_call_to_openai(c) for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None and self.role == "tool":
            out["name"] = self.name
        return out


def _call_to_openai(call: ToolCallRequest) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }
    if call.extra_content:
        out["extra_content"] = call.extra_content
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


OUTPUT_ERRORS = "output_errors"
"""The `name` of the user message that sends a typed answer's validation errors back to the model."""
FINAL_ANSWER_TOOL = "final_answer"
"""The name of the tool a model calls to give a typed answer (when its provider asks that way)."""


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """What a model is told about the typed answer it must give (an agent's `output_type`).

    Each provider asks for it its own way (OpenAI-compatible endpoints: `response_format`
    json_schema, or a final-answer tool the model must call, or the instructions); whatever
    comes back, text or a call of `tool_name`, the run loop validates.
    """

    name: str
    """The answer type's name (letters, digits, _ and -, at most 64), e.g. "Invoice"."""
    schema: dict[str, Any]
    """JSON schema of the answer. Its root is an object: an answer of another type (a number, a
    list...) is asked for as ``{"response": value}``."""
    strict: bool = False
    """Whether `schema` fits OpenAI's strict mode (every object lists all its properties as
    required and allows no others); it then says ``"additionalProperties": false`` everywhere."""
    description: str = ""
    """What the answer is (the type's docstring), if anything."""
    tool_name: str = FINAL_ANSWER_TOOL
    """The final-answer tool's name, for providers that ask through a tool."""

    def response_format(self) -> dict[str, Any]:
        """The OpenAI `response_format` that asks for this answer."""
        spec: dict[str, Any] = {"name": self.name, "schema": self.schema, "strict": self.strict}
        if self.description:
            spec["description"] = self.description
        return {"type": "json_schema", "json_schema": spec}

    def tool_definition(self) -> ToolDefinition:
        """The final-answer tool: its arguments are the answer."""
        what = f" ({self.description})" if self.description else ""
        return ToolDefinition(
            name=self.tool_name,
            description=f"Give your final answer{what}: call this once you have it; its arguments are the answer.",
            parameters=self.schema,
        )

    def instruction(self) -> str:
        """The instruction that asks for the answer in words (endpoints with neither structured outputs nor tools)."""
        schema = json.dumps(self.schema, separators=(",", ":"))
        return f"Answer with one JSON object and nothing else, matching this JSON schema: {schema}"


ModelDeltaKind = Literal["text", "reasoning", "tool_call", "finish", "usage", "retry", "warning"]


@dataclass(frozen=True)
class ModelDelta:
    """One piece of a model's answer, as a provider yields it to the run loop."""

    kind: ModelDeltaKind
    """text: a text delta; reasoning: a reasoning ("thinking") delta, never part of the answer;
    tool_call: one complete tool call; finish: why the model stopped; usage: token counts;
    retry: a retry; warning: something the user should know about this answer (e.g. the server
    counted far fewer prompt tokens than were sent: the prompt was cut), kept on the result."""
    text: str = ""
    """The delta (kinds text and reasoning), the finish reason (kind finish: stop, length,
    tool_calls, content_filter, refusal...), why a retry happens (kind retry), or the warning."""
    tool_call: ToolCallRequest | None = None
    """The complete tool call (kind tool_call)."""
    usage: Usage | None = None
    """Token counts (kind usage)."""
    delay: float = 0.0
    """Seconds waited before the retry (kind retry)."""

    def __init__(
        self,
        kind: ModelDeltaKind,
        text: str = "",
        tool_call: ToolCallRequest | None = None,
        usage: Usage | None = None,
        delay: float = 0.0,
    ) -> None:
        # One per streamed token, so made cheaply: a frozen dataclass's own __init__ sets every
        # field through object.__setattr__ (~4x the time); here the fields given go straight into
        # the instance's __dict__ and the others are the class's defaults. Still frozen: an
        # assignment raises FrozenInstanceError.
        values = self.__dict__
        values["kind"] = kind
        values["text"] = text
        if tool_call is not None:
            values["tool_call"] = tool_call
        if usage is not None:
            values["usage"] = usage
        if delay:
            values["delay"] = delay
