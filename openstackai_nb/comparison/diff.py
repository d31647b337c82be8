"""`diff_runs(a, b)`: two runs' transcripts side by side, where they first diverge, their tool paths.

A run's transcript is a list of steps read from its messages, from its input on: the input, the
text the model wrote, each tool call (name and arguments), each tool's result, the answer, and
for a run that did not complete, its status and error. Steps are compared in order, position by
position; the first position where they differ is the divergence. What is compared is what the
run said and did: ids, timestamps, durations and token counts never make two runs differ (the
header of the view shows them). A tool call's arguments are compared as JSON values, so key
order and spacing do not count.

The tool path is the sequence of tool names called, e.g. ``search -> fetch``.

The views (static HTML, markdown, text) are built by `render.diff`; every string in them is
scrubbed of secrets and escaped. This module holds the data a program reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from openstackai_nb._secrets import scrub
from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import FINAL_ANSWER_TOOL
from openstackai_nb.results import RunResult, RunStatus

if TYPE_CHECKING:
    from openstackai_nb.store import RunHistory

__all__ = ["Divergence", "RunDiff", "Step", "StepKind", "diff_runs", "transcript"]

StepKind = Literal["input", "text", "tool_call", "tool_result", "user", "answer", "error"]
"""What a step of a transcript is: the run's input; text the model wrote before its answer; a
tool call; a tool's result; a message the run added for the model (e.g. a typed answer's
validation errors); the answer; how a run that did not complete ended."""

_KIND_WORDS = {
    "input": "input",
    "text": "text",
    "tool_call": "tool call",
    "tool_result": "tool result",
    "user": "message to the model",
    "answer": "answer",
    "error": "end of the run",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a run's transcript."""

    kind: StepKind
    """What the step is (see `StepKind`)."""
    text: str
    """What is compared: the message's text, a call's arguments as JSON (keys sorted), a tool's
    result, or for "error" the status and the error."""
    name: str = ""
    """The tool's name (tool_call, tool_result), else ""."""
    turn: int = 0
    """The model turn the step belongs to (0 for the input); shown, not compared."""

    @property
    def label(self) -> str:
        """The step in words: "tool call search", "answer"..."""
        word = _KIND_WORDS[self.kind]
        return f"{word} {self.name}" if self.name else word

    def _key(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.text)


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two transcripts first differ."""

    index: int
    """The position in both transcripts (0 is the input)."""
    kind: StepKind
    """The kind of run a's step there (of run b's when a's transcript has ended)."""
    reason: str
    """What differs, in words: "different arguments", "a's tool call where b has answer", "b did not
    complete", "b ended"..."""
    a: Step | None
    """Run a's step there (None when its transcript has ended)."""
    b: Step | None
    """Run b's step there (None when its transcript has ended)."""


def _arguments(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw or "{}"), sort_keys=True, ensure_ascii=False)
    except ValueError:
        return raw  # not JSON: compared as the model sent it


def transcript(result: RunResult) -> tuple[Step, ...]:
    """The steps of a run, from its input to its answer (or to how it ended).

    Messages from an earlier conversation (a run continued with `history=`) are left out: the
    transcript starts at this run's input. A typed answer given by calling the final-answer tool
    is an answer, not a tool call: each attempt is a "text" step (its arguments as JSON), why it
    was refused a "user" step, the accepted one the "answer"; so a typed run's tool path has only
    the agent's own tools, whichever way the model gave its answer.
    """
    messages = result.messages
    start = 0
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user" and messages[i].content == result.input:
            start = i + 1
            break
    typed = result.output_schema is not None
    completed = result.status is RunStatus.COMPLETED
    steps: list[Step] = [Step("input", result.input)]
    turn = 0
    answer_calls: set[str] = set()  # a typed answer given by calling the final-answer tool
    for i, message in enumerate(messages[start:], start):
        if message.role == "assistant":
            turn += 1
            if (message.content or "").strip():
                steps.append(Step("text", message.content or "", turn=turn))
            for request in message.tool_calls:
                if typed and request.name == FINAL_ANSWER_TOOL:
                    answer_calls.add(request.id)  # how the answer came, not a tool: an answer attempt
                    steps.append(Step("text", _arguments(request.arguments), turn=turn))
                else:
                    steps.append(Step("tool_call", _arguments(request.arguments), request.name, turn))
        elif message.role == "tool" and message.tool_call_id in answer_calls:
            if not (completed and i == len(messages) - 1):  # the receipt of the accepted answer is no step
                steps.append(Step("user", message.content or "", turn=turn))  # why an attempt was refused
        elif message.role == "tool":
            steps.append(Step("tool_result", message.content or "", message.name or "", turn))
        elif message.role == "user":
            steps.append(Step("user", message.content or "", turn=turn))
    answer = result.output_text
    if completed and answer is not None:
        last = steps[-1]
        shown = _arguments(answer) if typed else answer  # a typed answer compares as a JSON value
        if last.kind == "text" and last.text in (answer, shown):
            steps[-1] = Step("answer", shown, turn=last.turn)
        else:
            steps.append(Step("answer", shown, turn=turn))
    elif not completed:
        ended = str(result.status) + (f": {result.error}" if result.error else "")
        steps.append(Step("error", ended, turn=turn))
    return tuple(steps)


def _reason(a: Step | None, b: Step | None) -> str:
    if a is None:
        return "a ended"
    if b is None:
        return "b ended"
    if a.kind != b.kind:
        if "error" in (a.kind, b.kind):
            return "a did not complete" if a.kind == "error" else "b did not complete"
        return f"a's {_KIND_WORDS[a.kind]} where b has {_KIND_WORDS[b.kind]}"
    if a.name != b.name:
        return "different tool"
    return {"tool_call": "different arguments", "tool_result": "different result"}.get(a.kind, f"different {a.kind}")


def first_divergence(a: Sequence[Step], b: Sequence[Step]) -> Divergence | None:
    """Where two transcripts first differ (None when they are the same)."""
    for i in range(max(len(a), len(b))):
        sa = a[i] if i < len(a) else None
        sb = b[i] if i < len(b) else None
        if sa is None or sb is None or sa._key() != sb._key():
            kind = sa.kind if sa is not None else sb.kind if sb is not None else "input"
            return Divergence(i, kind, _reason(sa, sb), sa, sb)
    return None


def _path_divergence(a: Sequence[str], b: Sequence[str]) -> int | None:
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b) or a[i] != b[i]:
            return i
    return None


class RunDiff:
    """Two runs compared: what `diff_runs` returns.

    Shown in a notebook as static HTML (saved with it), with markdown and plain-text twins;
    `print(diff)` gives the text. A program reads `first_divergence`, `tool_path_a`,
    `tool_path_b`, `same_tool_path` and the transcripts `steps_a` / `steps_b`.
    """

    def __init__(self, a: RunResult, b: RunResult) -> None:
        self.a = a
        """Run a."""
        self.b = b
        """Run b."""
        self.steps_a = transcript(a)
        """Run a's transcript."""
        self.steps_b = transcript(b)
        """Run b's transcript."""
        self.first_divergence = first_divergence(self.steps_a, self.steps_b)
        """Where the transcripts first differ: a `Divergence` (index, kind, reason), None when identical."""
        self.tool_path_a = tuple(s.name for s in self.steps_a if s.kind == "tool_call")
        """The names of the tools run a called, in order."""
        self.tool_path_b = tuple(s.name for s in self.steps_b if s.kind == "tool_call")
        """The names of the tools run b called, in order."""
        self.tool_path_divergence = _path_divergence(self.tool_path_a, self.tool_path_b)
        """The first position where the tool paths differ, None when they are the same."""

    @property
    def identical(self) -> bool:
        """True when the two transcripts are the same."""
        return self.first_divergence is None

    @property
    def same_tool_path(self) -> bool:
        """True when both runs called the same tools in the same order."""
        return self.tool_path_divergence is None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from openstackai_nb.render.diff import diff_bundle

        return diff_bundle(self)

    def _repr_html_(self) -> str:
        from openstackai_nb.render.diff import diff_html

        return diff_html(self)

    def _repr_markdown_(self) -> str:
        from openstackai_nb.render.diff import diff_markdown

        return diff_markdown(self)

    def __repr__(self) -> str:
        from openstackai_nb.render.diff import diff_text

        return diff_text(self)

    __str__ = __repr__


RunRef = RunResult | str | int
"""A run for `diff_runs`: a RunResult, a run id (or a unique prefix of one), or a history index."""


def _lookup(ref: RunRef, side: str, history: RunHistory | None) -> RunResult:
    if isinstance(ref, RunResult):
        return ref
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise ConfigError(
            f"diff_runs: {side} must be a RunResult, a run id or a history index, got {type(ref).__name__}"
        )
    if history is None:
        from openstackai_nb.store import get_history

        history = get_history()
    if isinstance(ref, int):
        try:
            return history[ref]
        except IndexError:
            n = len(history)
            allowed = f"indices go from {-n} to {n - 1}" if n else "it has no runs yet"
            raise ConfigError(f"diff_runs: {side}={ref} is no run of {history!r}: {allowed}") from None
    try:
        return history[ref]
    except KeyError:
        pass
    matches = [run_id for run_id in history.run_ids if run_id.startswith(ref)] if ref else []
    if len(matches) == 1:
        return history[matches[0]]
    shown = scrub(ref)
    if matches:
        some = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise ConfigError(
            f"diff_runs: {side}={shown!r} is the start of {len(matches)} run ids ({some}); give more of it"
        )
    raise ConfigError(
        f"diff_runs: {side}={shown!r} is not a run id in {history!r}; "
        "see history.run_ids (or %agent history) for the ids there"
    )


def diff_runs(a: RunRef, b: RunRef, *, history: RunHistory | None = None) -> RunDiff:
    """Compare two runs: both transcripts side by side, the first step where they differ, their tool paths.

    Args:
        a: a RunResult, a run id (or a unique start of one) in the history, or an index into it
            (`-1` is the newest run).
        b: the same, for the other run.
        history: where ids and indices are looked up; default the session's `openstackai_nb.history`.

    Returns:
        A `RunDiff`: shown as static HTML in a notebook (text with `print`), with
        `first_divergence` (None when the transcripts are the same), `tool_path_a`,
        `tool_path_b` and `same_tool_path` for programs.

    Raises:
        ConfigError: an id or index that names no run of the history (the message says which
            history was searched), or a prefix shared by several ids.

    Example:
        >>> from openstackai_nb import Agent, Runner, diff_runs
        >>> a = Runner.run_sync(Agent(name="terse", instructions="Be terse.", model="scripted"), "Hi!")
        >>> b = Runner.run_sync(Agent(name="chatty", instructions="Say more.", model="scripted"), "Hi!")
        >>> d = diff_runs(a, b)
        >>> d.first_divergence.index, d.first_divergence.kind
        (1, 'answer')
    """
    return RunDiff(_lookup(a, "a", history), _lookup(b, "b", history))
