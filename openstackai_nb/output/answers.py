"""The typed answer of a turn: find it, validate it, and what goes back to the model when it does not match.

For an agent with an `output_type`, a model response holds an answer when it calls the
final-answer tool (`OutputSpec.tool_name`), or when it calls no tool at all (its text is the
answer: structured outputs, or the schema in the instructions). A response that only calls
tools holds none: the tools run and the run goes on.

An answer that validates ends the run. One that does not goes back to the model with the
validation errors, as the final-answer call's tool error or as a user message, and costs a
turn; when `max_turns` runs out first, the run ends FAILED with an `OutputError` quoting them.

The conversation stays well formed either way: every tool call of the response gets a tool
message (an accepted final-answer call "Final answer received.", other calls of the same
response a note that they did not run), so `history_messages()` can continue the run.

Part of `openstackai_nb.output`, the home of typed answers (its docstring says what lives where).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openstackai_nb.messages import OUTPUT_ERRORS, Message, ToolCallRequest

if TYPE_CHECKING:
    from openstackai_nb.output.schema import OutputType

__all__ = ["Answer", "find_answer", "never_valid"]

ACCEPTED = "Final answer received."
NOT_RUN = "Not run: the final answer came in the same response."
ONE_ANSWER = "Error: only the first final answer of a response counts; this one was ignored."


@dataclass(slots=True)
class Answer:
    """An answer candidate of one model response, checked against the output type."""

    text: str
    """The answer as the model wrote it: its text, or the final-answer call's arguments."""
    call: ToolCallRequest | None
    """The final-answer call, when the answer came as one (else None: a text answer)."""
    value: Any = None
    """The validated object (when `error` is None)."""
    error: str | None = None
    """The validation errors, one line each; None when the answer is valid."""
    others: list[ToolCallRequest] = field(default_factory=list)
    """The response's other tool calls: run when the answer is rejected, not run when it is accepted."""
    extra: list[ToolCallRequest] = field(default_factory=list)
    """Further final-answer calls of the same response (ignored)."""

    @property
    def valid(self) -> bool:
        """True when the answer matches the output type."""
        return self.error is None

    def replies(self, output: OutputType) -> list[Message]:
        """The messages that answer this response in the conversation (the other calls' excepted when they run)."""
        spec = output.spec
        out: list[Message] = []
        if self.call is not None:
            if self.valid:
                content = ACCEPTED
            else:
                content = (
                    f"Error: the final answer does not match {spec.name}:\n{self.error}\n"
                    f"Call {spec.tool_name} again with corrected arguments."
                )
            out.append(_tool_message(self.call, content))
        elif not self.valid:
            out.append(
                Message(
                    role="user",
                    content=f"Your answer does not match the required format ({spec.name}):\n{self.error}\n"
                    "Answer again with only the corrected JSON.",
                    name=OUTPUT_ERRORS,
                )
            )
        out.extend(_tool_message(c, ONE_ANSWER) for c in self.extra)
        if self.valid:
            out.extend(_tool_message(c, NOT_RUN) for c in self.others)
        return out


def find_answer(output: OutputType, text: str, calls: Sequence[ToolCallRequest]) -> Answer | None:
    """The answer a response holds, validated; None when it only calls tools."""
    name = output.spec.tool_name
    finals = [c for c in calls if c.name == name]
    if finals:
        import json

        first = finals[0]
        answer = Answer(
            text=first.arguments,
            call=first,
            others=[c for c in calls if c.name != name],
            extra=finals[1:],
        )
        try:
            data = json.loads(first.arguments) if first.arguments.strip() else {}
        except ValueError as exc:
            answer.error = f"- the arguments are not valid JSON ({exc})"
            return answer
        checked = output.validate(data)
    elif not calls:
        answer = Answer(text=text, call=None)
        checked = output.parse(text)
    else:
        return None
    answer.value, answer.error = checked.value, checked.error
    return answer


def never_valid(output: OutputType, max_turns: int, error: str) -> str:
    """The error of a run whose answer never matched its output type."""
    return (
        f"max_turns={max_turns} reached without a valid answer: the model's last answer does not match "
        f"{output.name}:\n{error}\nRaise RunConfig(max_turns=...), make the instructions clearer, or use a "
        "model that supports structured outputs"
    )


def _tool_message(call: ToolCallRequest, content: str) -> Message:
    return Message(role="tool", content=content, tool_call_id=call.id, name=call.name)
