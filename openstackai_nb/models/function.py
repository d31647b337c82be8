"""Offline models: `FunctionModel` (a Python function plays the model) and `ScriptedModel`.

`ScriptedModel` (`model="scripted"`) is a ready-made deterministic demo model for notebooks,
tests and Binder.

Typed answers: a function sees the answer's schema as `info.output` (an `OutputSpec`, None for a
text answer) and may return the answer as JSON text, as `call(info.output.tool_name, **fields)`,
or as the value itself (a dict, a pydantic model, a dataclass, a number...), sent as JSON text.
The scripted model answers with a valid example built from the schema (`_example.example_of`).

Both stream their text word by word through the same `Model.stream` interface as HTTP models,
so every view (live widget, run_stream, history) behaves exactly as with a real endpoint.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openstackai_nb._tool_calls import CallProgress, run_in_tool_thread
from openstackai_nb.errors import ConfigError, ModelError
from openstackai_nb.messages import (
    OUTPUT_ERRORS,
    Message,
    ModelDelta,
    OutputSpec,
    ToolCallRequest,
    ToolDefinition,
    Usage,
)
from openstackai_nb.models import _arithmetic as arithmetic
from openstackai_nb.models._example import example_of
from openstackai_nb.models._instructions import Style
from openstackai_nb.models.base import Model, ModelRequestParameters

__all__ = ["AgentInfo", "FunctionModel", "Reply", "ScriptedModel", "call"]

_ids = itertools.count(1)
_WORD_RE = re.compile(r"\S+\s*|\s+")


def call(name: str, /, **arguments: Any) -> ToolCallRequest:
    """A tool call for a FunctionModel to return: `call("get_weather", city="Paris")`."""
    return ToolCallRequest(id=f"call_{next(_ids)}", name=name, arguments=json.dumps(arguments))


@dataclass(frozen=True)
class Reply:
    """What a model function may return: text, tool calls, or both; optionally reasoning and a finish reason."""

    text: str = ""
    """The answer text (streamed word by word)."""
    tool_calls: Sequence[ToolCallRequest] = field(default_factory=tuple)
    """Tools to call (use `call(name, **args)`)."""
    reasoning: str = ""
    """Reasoning ("thinking") text, streamed before the answer and kept apart from it."""
    finish_reason: str | None = None
    """Why the answer ended: "stop", "length", "content_filter", "refusal"...; default "tool_calls"
    when there are tool calls, else "stop"."""


@dataclass(frozen=True)
class AgentInfo:
    """What a model function knows besides the messages."""

    tools: Sequence[ToolDefinition]
    """The tools offered to the model."""
    turn: int
    """1 for the first model call of a run, 2 for the next..."""
    output: OutputSpec | None = None
    """The typed answer asked for (its name and JSON schema), None for a text answer."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The request settings an HTTP model would send: the agent's `model_settings`, with the
    run's `RunConfig.model_settings` over them (e.g. ``{"seed": 7}`` from `compare(seed=)`)."""


ModelFunction = Callable[
    [list[Message], AgentInfo], "str | Reply | ToolCallRequest | Sequence[ToolCallRequest] | Awaitable[Any]"
]


class FunctionModel(Model):
    """A Python function plays the model: it gets the messages and tools, returns the answer.

    Args:
        fn: ``fn(messages, info) -> str | Reply | call(...) | [call(...), ...]`` (may be async);
            when `info.output` is set, also the typed answer itself (sent as JSON text).
        name: the name shown in history (and, with `cacheable`, the model's part of the cache key).
        delay: seconds to wait between streamed words (0 = as fast as possible).
        cacheable: let the response cache answer this model (`RunConfig(cache=True)`,
            `compare(..., cache=True)`), for a function that wraps an expensive computation (a
            local pipeline, a slow simulator). Off by default: an offline model is not cached. The
            key holds the model's name, not the function's code: give the model a new `name`
            when you change the function (or clear the cache), or old answers come back.

    Example:
        >>> def model(messages, info):
        ...     return "Hello from a function"
        >>> FunctionModel(model).name
        'function:model'
    """

    def __init__(
        self, fn: ModelFunction, *, name: str | None = None, delay: float = 0.0, cacheable: bool = False
    ) -> None:
        if not callable(fn):
            raise ConfigError(f"FunctionModel needs a function, got {type(fn).__name__}")
        if not isinstance(cacheable, bool):
            raise ConfigError(f"FunctionModel: cacheable must be True or False, got {cacheable!r}")
        self.fn = fn
        self.name = name or f"function:{getattr(fn, '__name__', 'model')}"
        self.delay = float(delay)
        self.cacheable = cacheable
        # A sync function runs in a worker thread so it cannot block the loop past the run's
        # time limits (the ScriptedModel's own, instant function runs inline).
        self._inline = False

    async def stream(self, messages: Sequence[Message], params: ModelRequestParameters) -> AsyncIterator[ModelDelta]:
        """Call the function and stream its reply word by word."""
        turn = 1 + sum(1 for m in _since_last_user(messages) if m.role == "assistant")
        output = params.output
        info = AgentInfo(tools=tuple(params.tools), turn=turn, output=output, settings=dict(params.settings))
        if self._inline or inspect.iscoroutinefunction(self.fn):
            out = self.fn(list(messages), info)
        else:
            # The tool-thread pool, not the loop's default executor: a model function that hangs
            # past its turn's limit must not hold a worker that every later run waits for.
            call = functools.partial(self.fn, list(messages), info)
            out = await run_in_tool_thread(call, {}, CallProgress())
        if inspect.isawaitable(out):
            out = await out
        reply = _as_reply(out, output)
        words = 0
        for word in _WORD_RE.findall(reply.reasoning):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield ModelDelta("reasoning", text=word)
        for word in _WORD_RE.findall(reply.text):
            if self.delay:
                await asyncio.sleep(self.delay)
            words += 1
            yield ModelDelta("text", text=word)
        for tc in reply.tool_calls:
            yield ModelDelta("tool_call", tool_call=tc)
        yield ModelDelta("finish", text=reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop"))
        prompt = sum(len((m.content or "").split()) for m in messages)
        yield ModelDelta("usage", usage=Usage(prompt_tokens=prompt, completion_tokens=words, requests=1))


def _as_reply(out: Any, output: OutputSpec | None = None) -> Reply:
    if isinstance(out, Reply):
        for name in ("text", "reasoning"):
            value = getattr(out, name)
            if not isinstance(value, str):
                raise ModelError(f"Reply.{name} must be a str, got {type(value).__name__}: {value!r:.80}")
        return out
    if isinstance(out, str):
        return Reply(text=out)
    if isinstance(out, ToolCallRequest):
        return Reply(tool_calls=(out,))
    if isinstance(out, list | tuple) and (out or output is None) and all(isinstance(c, ToolCallRequest) for c in out):
        return Reply(tool_calls=tuple(out))
    if output is not None:
        from pydantic_core import to_json

        try:
            return Reply(text=to_json(out).decode())
        except Exception as exc:  # noqa: BLE001 - reported as the function's mistake
            raise ModelError(
                f"a FunctionModel function returned a {type(out).__name__} that cannot be sent as JSON ({exc})"
            ) from None
    raise ModelError(
        f"a FunctionModel function must return str, Reply, call(...) or a list of call(...), got {type(out).__name__}"
    )


def _since_last_user(messages: Sequence[Message]) -> Sequence[Message]:
    """The messages after the user's input (a typed answer's errors, a user message the run wrote, do not count)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user" and messages[i].name != OUTPUT_ERRORS:
            return messages[i + 1 :]
    return messages


_LOREM = (
    "the agent walked through the quiet notebook reading each cell and weighing every tool it "
    "could call while the kernel hummed and the tokens streamed one after another into the "
    "output where a patient researcher watched the answer grow"
).split()


class ScriptedModel(Model):
    """A deterministic offline model for demos and tests (`model="scripted"`).

    Turn 1 calls every offered tool whose name (or words of it) the prompt mentions, or every
    tool when none is mentioned, with arguments taken from the prompt (capitalised words for
    strings, numbers for numbers). The next turn answers with the tools' results. Without
    tools it answers the prompt; "N words" in the prompt makes it stream a text of N words.
    For a typed answer (`output_type`), it answers with an example of the schema filled from
    the prompt (its numbers in order, its capitalised words, then 1 and the fields' names).

    It follows a few words of the agent's instructions, visibly and deterministically, so that
    agents that differ only in their instructions give different answers:

    - "terse", "brief", "short", "one line", "one sentence": a one-sentence answer;
    - "say more", "detailed", "in detail", "explain", "elaborate", "verbose", "thorough": the
      usual answer plus a paragraph explaining it (brevity wins when both are asked);
    - "French", "français": its own sentences in French;
    - "uppercase", "all caps", "capitals", "shout": the answer upper-cased.

    "N words" in the prompt still gives exactly N words (only upper case applies); typed answers
    are not restyled; other instructions change nothing.

    A prompt that is one operation on two numbers ("What is 17 + 25?") gets a bare number that
    is right 95% of the time when the instructions ask for care ("careful", "step by step",
    "double-check"), else 70%, drawn from the model settings' "seed" and the prompt: an offline
    model to try evaluations on (`models._arithmetic`).

    Args:
        delay: seconds between streamed words; default `OPENSTACKAI_NB_SCRIPTED_DELAY` or 0.
        name: the name shown in history.
        cacheable: let the response cache answer it, as `FunctionModel(cacheable=True)` (e.g. to
            show a re-run grid served from the cache offline); off by default.
    """

    def __init__(self, *, delay: float | None = None, name: str = "scripted", cacheable: bool = False) -> None:
        if not isinstance(cacheable, bool):
            raise ConfigError(f"ScriptedModel: cacheable must be True or False, got {cacheable!r}")
        self.name = name
        self.cacheable = cacheable
        env = os.environ.get("OPENSTACKAI_NB_SCRIPTED_DELAY", "")
        try:
            self.delay = float(delay if delay is not None else (env or 0.0))
        except ValueError:
            raise ConfigError(f"OPENSTACKAI_NB_SCRIPTED_DELAY must be a number of seconds, got {env!r}") from None
        self._inner = FunctionModel(self._play, name=name, delay=self.delay)
        self._inner._inline = True

    def stream(self, messages: Sequence[Message], params: ModelRequestParameters) -> AsyncIterator[ModelDelta]:
        """Stream the scripted answer."""
        return self._inner.stream(messages, params)

    def _play(self, messages: list[Message], info: AgentInfo) -> Reply:
        prompt = next((m.content or "" for m in reversed(messages) if m.role == "user" and m.name != OUTPUT_ERRORS), "")
        results = [m for m in _since_last_user(messages) if m.role == "tool"]
        if info.tools and not results:
            return Reply(tool_calls=[_scripted_call(t, prompt) for t in _mentioned(info.tools, prompt)])
        if info.output is not None:
            return Reply(text=json.dumps(example_of(info.output.schema, prompt), ensure_ascii=False))
        instructions = [msg.content or "" for msg in messages if msg.role == "system"]
        style = Style.of(instructions)
        if results:
            return Reply(text=style.tools_answer([(msg.name or "tool", msg.content or "") for msg in results]))
        asked = arithmetic.question(prompt)
        if asked is not None:
            return Reply(text=arithmetic.answer(asked, instructions, info.settings))
        m = re.search(r"(\d+)\s+words", prompt)
        if m:
            n = min(int(m.group(1)), 200_000)
            return Reply(text=style.words_answer(" ".join(_LOREM[i % len(_LOREM)] for i in range(n))))
        summary = " ".join(prompt.split())
        if len(summary) > 200:
            summary = summary[:197] + "..."
        return Reply(text=style.echo_answer(summary))


def _mentioned(tools: Sequence[ToolDefinition], prompt: str) -> Sequence[ToolDefinition]:
    low = prompt.lower()
    picked = [
        t for t in tools if t.name.lower() in low or any(w in low for w in t.name.lower().split("_") if len(w) > 3)
    ]
    return picked or tools


def _scripted_call(tool_def: ToolDefinition, prompt: str) -> ToolCallRequest:
    caps = [w.strip("?,.!:;\"'") for w in prompt.split() if w[:1].isupper()]
    caps = [w for w in caps[1:] or caps if w]  # skip the sentence's first word when there are others
    numbers = re.findall(r"-?\d+(?:\.\d+)?", prompt)
    args: dict[str, Any] = {}
    props: dict[str, Any] = tool_def.parameters.get("properties", {})
    required = set(tool_def.parameters.get("required", []))
    for name, schema in props.items():
        if name not in required:
            continue  # optional parameters keep their defaults
        kind = schema.get("type")
        if kind == "string":
            args[name] = caps.pop(0) if caps else (prompt.strip()[:80] or name)
        elif kind in ("integer", "number"):
            value = numbers.pop(0) if numbers else "1"
            args[name] = int(float(value)) if kind == "integer" else float(value)
        elif kind == "boolean":
            args[name] = True
        else:
            args[name] = [] if kind == "array" else {}
    return call(tool_def.name, **args)
