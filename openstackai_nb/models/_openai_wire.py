"""The OpenAI chat-completions wire format, read as the servers that speak it really write it.

`ChunkDecoder` turns `chat.completion.chunk` payloads (and, through the same path, a whole
`chat.completion` message) into `ModelDelta`s:

- `content` is a string, or a list of typed parts (Mistral's reasoning models stream
  `[{"type": "thinking", "thinking": [{"type": "text", "text": ...}]}]` before plain strings):
  text parts are joined into the answer, thinking/reasoning parts go to the reasoning channel,
  refusal parts to the refusal. Anything else is a `ModelError` naming the field and the model:
  no value other than `str` ever reaches the answer.
- `reasoning_content` (DeepSeek, vLLM, Qwen) or `reasoning` (OpenRouter, Ollama, Groq, gpt-oss)
  are reasoning deltas, never part of the answer.
- `refusal` (OpenAI structured refusals) becomes the answer's text and finish_reason "refusal".
- an `error` object in a chunk (OpenAI, OpenRouter) or finish_reason "error" fails the answer
  with the server's message; a chunk with empty `choices` (Azure's first chunk carrying
  `prompt_filter_results`, the usage chunk) is fine.

`error_detail` makes one line out of an error body: the message of a JSON error, or the
`<title>` of an HTML page (a proxy's 502), never the page itself.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from openstackai_nb._secrets import scrub
from openstackai_nb.errors import ModelError
from openstackai_nb.messages import ModelDelta, ToolCallRequest, Usage

__all__ = [
    "DONE_GRACE",
    "ChunkDecoder",
    "StreamBroke",
    "amended",
    "attempts_text",
    "chunk_payload",
    "drain_after_done",
    "error_detail",
    "split_content",
    "usage_of",
    "whole_answer",
    "with_instruction",
]

_TEXT_PARTS = frozenset({"text", "output_text"})
_THINKING_PARTS = frozenset({"thinking", "reasoning"})
_SILENT_PARTS = frozenset({"reference"})  # Mistral's citation markers: ids, no text
_NOTHING: list[ModelDelta] = []
_PLAIN_DELTA = frozenset({"content", "role"})
"""The keys of the common streamed delta, a piece of text: it takes the short way in `decode`."""
_scan: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
"""`json.loads`'s own scanner (C), without the two whitespace regex passes around it."""


def chunk_payload(data: str) -> Any:
    """`json.loads(data)` of one streamed chunk; None when `data` is not JSON."""
    try:
        value, end = _scan(data, 0)
    except (StopIteration, ValueError):
        value, end = None, -1
    if end == len(data):
        return value
    try:  # white space around the value, or not JSON: the full parser says which
        return json.loads(data)
    except ValueError:
        return None


def _shown(value: Any) -> str:
    return scrub(repr(value)[:120])


def _unreadable(
    field: str, model: str, value: Any, expected: str = "a string or a list of content parts (text, thinking)"
) -> ModelError:
    return ModelError(
        f"model {model!r} sent {field} as a {type(value).__name__} ({_shown(value)}), not {expected}; the "
        "answer cannot be read. Check the server's version and settings, or report this format"
    )


def _part_string(part: dict[str, Any], key: str, where: str, model: str) -> str:
    value = part.get(key)
    if value is None or isinstance(value, str):
        return value or ""
    raise _unreadable(f"{where}.{key}", model, value)


def split_content(value: Any, field: str, model: str) -> tuple[str, str, str]:
    """Return (text, reasoning, refusal) of a `content` value: a string or a list of parts.

    Raises:
        ModelError: a value or part that is neither (naming `field` and `model`).
    """
    if value is None:
        return "", "", ""
    if isinstance(value, str):
        return value, "", ""
    if not isinstance(value, list):
        raise _unreadable(field, model, value)
    text: list[str] = []
    thought: list[str] = []
    refusal: list[str] = []
    for i, part in enumerate(value):
        where = f"{field}[{i}]"
        if isinstance(part, str):
            text.append(part)
            continue
        if not isinstance(part, dict):
            raise _unreadable(where, model, part)
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            text.append(_part_string(part, "text", where, model))
        elif kind in _THINKING_PARTS:
            # Mistral: {"type": "thinking", "thinking": [{"type": "text", ...}]}; others: a string.
            inner = part.get(kind, part.get("text"))
            t, r, _ = split_content(inner, f"{where}.{kind}", model)
            thought.append(r + t)
        elif kind == "refusal":
            refusal.append(_part_string(part, "refusal", where, model))
        elif kind not in _SILENT_PARTS:
            raise ModelError(
                f"model {model!r} sent a content part of type {scrub(str(kind))!r} in {where}; only text, "
                "thinking/reasoning and refusal parts can be read. Check the server's settings, or report this format"
            )
    return "".join(text), "".join(thought), "".join(refusal)


def _reasoning(value: Any, field: str, model: str) -> str:
    """A reasoning value's text; a value that is neither text nor parts is left out (never the answer)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        t, r, _ = split_content(value, field, model)
        return r + t
    return ""


def usage_of(raw: Any) -> Usage:
    """Usage from a response's `usage` object (one request)."""
    if not isinstance(raw, dict):
        return Usage(requests=1)
    return Usage(
        prompt_tokens=_count(raw.get("prompt_tokens")),
        completion_tokens=_count(raw.get("completion_tokens")),
        requests=1,
    )


def _count(value: Any) -> int:
    """A token count as the server wrote it; 0 for what is not a count (null, "n/a").

    Counts are informational: a server's odd usage object must never fail an answer that arrived.
    """
    if isinstance(value, bool):
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError, OverflowError):
        return 0


class _Call:
    """One tool call being assembled from its deltas."""

    __slots__ = ("arguments", "extra", "id", "name")

    def __init__(self, call_id: str) -> None:
        self.id = call_id
        self.name = ""
        self.arguments = ""
        self.extra: dict[str, Any] | None = None


class ChunkDecoder:
    """Turns one answer's chunk payloads into deltas; `end()` gives what comes once it is whole.

    Args:
        model: the model's name (named in errors).
        part: "delta" for streamed chunks, "message" for a whole non-streamed answer.
    """

    __slots__ = ("by_index", "calls", "chunks", "finish", "model", "part", "refused", "seen", "usage")

    def __init__(self, model: str, part: str = "delta") -> None:
        self.model = model
        self.part = part
        self.calls: list[_Call] = []
        """The answer's tool calls, in the order they started."""
        self.by_index: dict[int, _Call] = {}
        """The latest call of each `index` the server gave."""
        self.chunks = 0
        """Data payloads seen (the [DONE] marker excluded)."""
        self.finish: str | None = None
        """The last finish_reason reported."""
        self.refused = False
        self.seen = False
        """Whether any choice arrived (False: the server sent an empty stream)."""
        self.usage: Usage | None = None

    def decode(self, payload: dict[str, Any]) -> list[ModelDelta]:
        """The text and reasoning deltas of one payload (tool calls, finish, usage wait for `end`).

        Raises:
            ModelError: the payload carries an error, or a field cannot be read.
        """
        if payload.get("error"):
            raise ModelError(
                f"the server reported an error mid-answer for model {self.model!r}: "
                f"{scrub(error_detail(json.dumps(payload), limit=300))}"
            )
        if payload.get("usage"):
            self.usage = usage_of(payload["usage"])
        choices = payload.get("choices")
        if not choices:
            return _NOTHING
        if type(choices) is list and len(choices) == 1:  # the common chunk: one choice, a piece of text
            choice = choices[0]
            delta = choice.get(self.part) if type(choice) is dict else None
            if type(delta) is dict and delta.keys() <= _PLAIN_DELTA and not choice.get("finish_reason"):
                content = delta.get("content")
                if not content or type(content) is str:
                    self.seen = True
                    return [ModelDelta("text", text=content)] if content else []
        if not isinstance(choices, list):
            raise _unreadable("choices", self.model, choices, "a list of choices")
        out: list[ModelDelta] = []
        for i, choice in enumerate(choices):
            if not isinstance(choice, dict):
                raise _unreadable(f"choices[{i}]", self.model, choice, "an object")
            self.seen = True
            self._choice(choice, f"choices[{i}].{self.part}", out)
        return out

    def _choice(self, choice: dict[str, Any], field: str, out: list[ModelDelta]) -> None:
        delta = choice.get(self.part) or {}
        if not isinstance(delta, dict):
            raise _unreadable(field, self.model, delta)
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if thought:
            thought = _reasoning(thought, f"{field}.reasoning", self.model)
            if thought:
                out.append(ModelDelta("reasoning", text=thought))
        content = delta.get("content")
        if content:
            if type(content) is str:
                out.append(ModelDelta("text", text=content))
            else:
                text, thought, refusal = split_content(content, f"{field}.content", self.model)
                if thought:
                    out.append(ModelDelta("reasoning", text=thought))
                if text:
                    out.append(ModelDelta("text", text=text))
                if refusal:
                    self.refused = True
                    out.append(ModelDelta("text", text=refusal))
        refusal = delta.get("refusal")
        if refusal:
            if not isinstance(refusal, str):
                raise _unreadable(f"{field}.refusal", self.model, refusal)
            self.refused = True
            out.append(ModelDelta("text", text=refusal))
        for tc in delta.get("tool_calls") or ():
            self._tool_call(tc, f"{field}.tool_calls")
        finish = choice.get("finish_reason")
        if finish:
            if finish == "error":
                raise ModelError(
                    f"the server ended the answer of model {self.model!r} with finish_reason 'error' "
                    "(it gave no reason): try again"
                )
            self.finish = str(finish)

    def _tool_call(self, tc: Any, field: str) -> None:
        if not isinstance(tc, dict):
            raise _unreadable(field, self.model, tc)
        fn = tc.get("function") or {}
        if not isinstance(fn, dict):
            raise _unreadable(f"{field}.function", self.model, fn)
        call = self._call_of(tc, fn)
        name, args, extra = fn.get("name"), fn.get("arguments"), tc.get("extra_content")
        if name and str(name) != call.name:  # some servers repeat the whole name on every delta
            call.name += str(name)
        if args:
            call.arguments += args if isinstance(args, str) else json.dumps(args)  # some servers send an object
        if isinstance(extra, dict):
            call.extra = {**(call.extra or {}), **extra}

    def _call_of(self, tc: dict[str, Any], fn: dict[str, Any]) -> _Call:
        """The call a tool-call delta belongs to.

        OpenAI's deltas carry an `index`, the id and name on their first delta only. Gemini's
        OpenAI-compatible stream omits the index (a delta with an id or a name then starts a call,
        one without continues the last) or gives every call index 0 (a new id then starts a call).
        """
        index, call_id = tc.get("index"), str(tc.get("id") or "")
        call = self.by_index.get(index) if isinstance(index, int) else None
        if call is None and not isinstance(index, int) and not call_id and not fn.get("name") and self.calls:
            call = self.calls[-1]  # an indexless continuation
        if call is None and not isinstance(index, int) and call_id:
            call = next((c for c in self.calls if c.id == call_id), None)
        if call is None or (call_id and call.id and call_id != call.id):
            call = _Call(call_id)
            self.calls.append(call)
            if isinstance(index, int):
                self.by_index[index] = call
        elif call_id and not call.id:
            call.id = call_id
        return call

    def end(self) -> list[ModelDelta]:
        """The complete tool calls, the finish reason and the usage, once the answer is whole."""
        out = [
            ModelDelta(
                "tool_call",
                tool_call=ToolCallRequest(
                    id=c.id or f"call_{i}", name=c.name, arguments=c.arguments or "{}", extra_content=c.extra
                ),
            )
            for i, c in enumerate(self.calls)
        ]
        finish = "refusal" if self.refused else self.finish
        if finish:
            out.append(ModelDelta("finish", text=finish))
        out.append(ModelDelta("usage", usage=self.usage or Usage(requests=1)))
        return out


def whole_answer(raw: bytes, model: str, url: str) -> list[ModelDelta]:
    """The deltas of a non-streamed answer (`chat.completion`), read through the streaming path.

    Raises:
        ModelError: an error object, or a body that is not a chat completion.
    """
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error") and not data.get("choices"):
        detail = error_detail(raw.decode("utf-8", "replace"))
        raise ModelError(scrub(f"{url} answered with an error for model {model!r}: {detail}"))
    choices = data.get("choices") if isinstance(data, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(data, dict) or not isinstance(first, dict):
        head = scrub(raw[:200].decode("utf-8", "replace"))
        raise ModelError(f"unexpected answer from {url} (not a chat completion): {head!r}")
    decoder = ChunkDecoder(model, "message")
    # The whole message goes through the streaming path: one reader for both shapes.
    whole = {"message": first.get("message"), "finish_reason": first.get("finish_reason")}
    return [*decoder.decode({"choices": [whole], "usage": data.get("usage")}), *decoder.end()]


_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def error_detail(body: str, content_type: str = "", *, limit: int = 200) -> str:
    """One line out of an error body: a JSON error's message, an HTML page's title, else the text."""
    head = body.lstrip()[:300].lower()
    if "html" in content_type.lower() or head.startswith(("<!doctype html", "<html")) or "<html" in head:
        found = _TITLE.search(body) or _H1.search(body)
        title = " ".join(html.unescape(_TAG.sub("", found.group(1))).split()) if found else ""
        return f"an HTML page titled {title[:limit]!r}" if title else "an HTML page without a title"
    try:
        data = json.loads(body)
        err = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(err, dict):
            text = err.get("message") or err.get("detail") or ""
            text = text if isinstance(text, str) else json.dumps(text)
        else:
            text = str(err)
    except ValueError:
        text = body
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


class StreamBroke(Exception):
    """A stream that broke off (dropped, or ended early): retryable while nothing was yielded."""

    def __init__(self, reason: str, error: ModelError) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


DONE_GRACE = 0.05
"""Seconds to wait after [DONE] for the response's end, so the connection can be reused."""


async def drain_after_done(raw_chunks: AsyncIterator[bytes]) -> None:
    """Read what follows [DONE] (normally just the body's end) for at most `DONE_GRACE` seconds.

    [DONE] ends the answer: a server that keeps the connection open after it must not hold the
    run. Reading the body's end lets the pool reuse the connection; if it does not come at
    once, the connection is closed instead.
    """
    import httpx2

    try:
        async with asyncio.timeout(DONE_GRACE):
            async for _ in raw_chunks:
                pass
    except (TimeoutError, httpx2.TransportError):
        pass


def with_instruction(wire: list[dict[str, Any]], instruction: str) -> list[dict[str, Any]]:
    """The messages with `instruction` added to the system message (or as one, first)."""
    if wire and wire[0].get("role") == "system" and isinstance(wire[0].get("content"), str):
        first = {**wire[0], "content": f"{wire[0]['content']}\n\n{instruction}"}
        return [first, *wire[1:]]
    return [{"role": "system", "content": instruction}, *wire]


def attempts_text(attempts: int, seconds: float) -> str:
    """What an error after retries says, e.g. '4 attempts over 2.3 s'."""
    return f"{attempts} attempt{'s' if attempts != 1 else ''} over {seconds:.1f} s"


def amended(error: ModelError, note: str) -> ModelError:
    """The same error (class and fields) with a note on the attempts made."""
    return error.replace(message=f"{error.message} (after {note})")
