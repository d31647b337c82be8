"""The short ways of the streaming hot path give what the general ones give (issue 25).

The SSE parser's one-event chunk, the chunk payload's JSON scan, the decoder's one-choice text
delta and `ModelDelta`'s own constructor each skip work for the common case; each is checked
here against the general path on the same input, including the inputs that must not take it.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from typing import Any

import pytest

from openstackai_nb.errors import ModelError
from openstackai_nb.messages import ModelDelta, ToolCallRequest, Usage
from openstackai_nb.models._openai_wire import ChunkDecoder, chunk_payload
from openstackai_nb.models._sse import SSEEvent, SSEParser


def events(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    out: list[SSEEvent] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out + parser.flush()


def chunk(text: str | None, **delta: object) -> bytes:
    body = {"choices": [{"index": 0, "delta": {"content": text, **delta}, "finish_reason": None}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def test_one_event_per_chunk_gives_what_one_buffer_gives() -> None:
    chunks = [chunk(f"w{i} ") for i in range(20)] + [chunk("h\u00e9"), b"data: [DONE]\n\n"]
    whole = b"".join(chunks)
    assert events(chunks) == events([whole]) == events([whole[i : i + 7] for i in range(0, len(whole), 7)])
    assert events(chunks)[-2] == SSEEvent(json.dumps(json.loads(chunks[-2][6:])))


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        # a data line held from the chunk before: the next whole-looking chunk continues it
        ([b"data: ab", b"data: c\n\n"], [SSEEvent("abdata: c")]),
        # an event name first: the data joins that event
        ([b"event: note\n", b"data: x\n\n"], [SSEEvent("x", event="note")]),
        # a data line before: two data lines in one event
        ([b"data: a\n", b"data: b\n\n"], [SSEEvent("a\nb")]),
        # a CR at the end of the chunk before, then its LF: not a blank line of the next event
        ([b"data: a\r", b"\ndata: b\n\n"], [SSEEvent("a\nb")]),
        # a CR inside (a line end: "b" is a field of its own), two events in one chunk, a comment
        ([b"data: a\rb\n\n"], [SSEEvent("a", extra={"b": ""})]),
        ([b"data: a\n\ndata: b\n\n"], [SSEEvent("a"), SSEEvent("b")]),
        ([b": ping\n\n", b"data: c\n\n"], [SSEEvent("c")]),
    ],
)
def test_chunks_that_must_not_take_the_short_way(chunks: list[bytes], expected: list[SSEEvent]) -> None:
    assert events(chunks) == expected
    assert events([b"".join(chunks)]) == expected


def test_a_one_event_chunk_over_the_line_cap_still_fails() -> None:
    parser = SSEParser(max_line=10)
    with pytest.raises(ModelError, match="without a newline"):
        parser.feed(b"data: " + b"x" * 20 + b"\n\n")


@pytest.mark.parametrize(
    "data",
    ['{"a": 1}', ' {"a": 1} ', '{"a": [1, 2.5, "\\u00e9", null, true]}', "[1]", '"s"', "12", "NaN"],
)
def test_chunk_payload_is_json_loads(data: str) -> None:
    assert json.dumps(chunk_payload(data)) == json.dumps(json.loads(data))


@pytest.mark.parametrize("data", ["", "{", '{"a": 1} x', "not json", '{"a": 1}{"b": 2}', "\ufeff{}"])
def test_chunk_payload_of_what_is_not_json_is_none(data: str) -> None:
    assert chunk_payload(data) is None


def decode_both(payloads: list[dict[str, Any]]) -> tuple[list[ModelDelta], list[ModelDelta]]:
    """Deltas through `decode` and through the general per-choice path (`_choice`) alone."""
    fast, general = ChunkDecoder("m"), ChunkDecoder("m")
    got: list[ModelDelta] = []
    want: list[ModelDelta] = []
    for payload in payloads:
        got += fast.decode(payload)
        for i, choice in enumerate(payload["choices"]):
            general.seen = True
            general._choice(choice, f"choices[{i}].delta", want)
    assert fast.seen == general.seen and fast.finish == general.finish and fast.refused == general.refused
    return got + fast.end(), want + general.end()


@pytest.mark.parametrize(
    "delta",
    [
        {"role": "assistant", "content": ""},
        {"role": "assistant"},
        {"content": "hello"},
        {"content": None},
        {"content": "a", "reasoning_content": "think"},
        {"content": [{"type": "text", "text": "parts"}]},
        {"content": "x", "refusal": "no"},
        {"content": None, "tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]},
    ],
)
def test_decode_gives_what_the_general_path_gives(delta: dict[str, object]) -> None:
    payloads: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "end"}, "finish_reason": "stop"}]},
    ]
    got, want = decode_both(payloads)
    assert got == want


def test_model_delta_is_still_a_frozen_dataclass() -> None:
    usage = Usage(prompt_tokens=1, requests=1)
    call = ToolCallRequest(id="c", name="f")
    for delta in (
        ModelDelta("text", text="x"),
        ModelDelta("text", "x"),
        ModelDelta("usage", usage=usage),
        ModelDelta("tool_call", tool_call=call),
        ModelDelta("retry", text="429", delay=1.5),
    ):
        assert delta == pickle.loads(pickle.dumps(delta))
        assert dataclasses.replace(delta) == delta
        with pytest.raises(dataclasses.FrozenInstanceError):
            delta.text = "y"  # type: ignore[misc]
    assert ModelDelta("text", text="x") == ModelDelta("text", "x", None, None, 0.0)
    assert hash(ModelDelta("text", text="x")) == hash(ModelDelta("text", "x"))
    assert dataclasses.asdict(ModelDelta("finish", text="stop")) == {
        "kind": "finish", "text": "stop", "tool_call": None, "usage": None, "delay": 0.0
    }  # fmt: skip
    assert (
        repr(ModelDelta("text", text="x")) == "ModelDelta(kind='text', text='x', tool_call=None, usage=None, delay=0.0)"
    )
