from __future__ import annotations

import pytest

from openstackai_nb.models._sse import SSEParser

STREAM = (
    b": keep-alive comment\r\n"
    b'data: {"a": "h\xc3\xa9llo"}\r\n\r\n'
    b"event: message\n"
    b"data: line1\n"
    b"data: line2\n\n"
    b"data:nospace\r\r"
    b"id: 7\n"
    b"data: [DONE]\n\n"
)
EXPECTED = ['{"a": "héllo"}', "line1\nline2", "nospace", "[DONE]"]


def feed_all(chunks: list[bytes]) -> list[str]:
    parser = SSEParser()
    out: list[str] = []
    for c in chunks:
        out.extend(parser.feed(c))
    return out + parser.flush()


def test_whole_stream() -> None:
    assert feed_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    assert feed_all([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert feed_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_unterminated_last_event_is_reported_by_flush() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: tail") == []
    assert parser.flush() == ["tail"]


def test_field_without_colon_and_unknown_fields_are_ignored() -> None:
    assert feed_all([b"data\nretry: 10\nfoo: bar\n\n"]) == [""]
