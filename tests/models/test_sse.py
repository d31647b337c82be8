from __future__ import annotations

import pytest

from openstackai_nb.models._sse import SSEEvent, SSEParser

STREAM = (
    b": keep-alive comment\r\n"
    b'data: {"a": "h\xc3\xa9llo"}\r\n\r\n'
    b"event: message\n"
    b"data: line1\n"
    b"data: line2\n\n"
    b"data:nospace\r\r"
    b'error: {"code":500,"message":"context too long"}\n\n'  # llama.cpp: the field name is `error`
    b"event: error\r\n"
    b'data: {"error": {"message": "overloaded"}}\r\n\r\n'
    b"id: 7\n"
    b"retry: 100\n\n"  # id and retry alone dispatch nothing
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a": "héllo"}'),
    SSEEvent("line1\nline2", event="message"),
    SSEEvent("nospace"),
    SSEEvent("", extra={"error": '{"code":500,"message":"context too long"}'}),
    SSEEvent('{"error": {"message": "overloaded"}}', event="error"),
    SSEEvent("[DONE]"),
]


def feed_all(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    out: list[SSEEvent] = []
    for c in chunks:
        out.extend(parser.feed(c))
    return out + parser.flush()


def test_whole_stream() -> None:
    assert feed_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    assert feed_all([STREAM[:cut], STREAM[cut:]]) == EXPECTED


@pytest.mark.parametrize("size", range(1, 8))
def test_pieces_of_every_size_from_1_to_7_bytes(size: int) -> None:
    assert feed_all([STREAM[i : i + size] for i in range(0, len(STREAM), size)]) == EXPECTED


def test_crlf_line_ends_everywhere() -> None:
    crlf = STREAM.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    assert feed_all([crlf[i : i + 1] for i in range(len(crlf))]) == EXPECTED


def test_unterminated_last_event_is_reported_by_flush() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: tail") == []
    assert parser.flush() == [SSEEvent("tail")]
    parser.feed(b"error: boom")
    assert parser.flush() == [SSEEvent("", extra={"error": "boom"})]


def test_field_without_colon_and_unknown_fields() -> None:
    assert feed_all([b"data\nretry: 10\nfoo: bar\nfoo: baz\n\n"]) == [SSEEvent("", extra={"foo": "bar\nbaz"})]
