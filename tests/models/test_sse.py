from __future__ import annotations

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import ConfigError, ModelError
from openstackai_nb.models._sse import MAX_LINE_ENV, SSEEvent, SSEParser, max_line_bytes
from openstackai_nb.runner import RunConfig
from tests._server import DONE, SSE_HEADERS, OpenAIServer, Reply

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


# -- giant lines: linear, capped ---------------------------------------------------------------

MB = 1024 * 1024


@pytest.mark.parametrize("cut", [None, 1000, 4096])
def test_a_line_over_the_cap_fails_whatever_the_chunking(cut: int | None) -> None:
    line = b"data: " + b"y" * 5000 + b"\n\n"
    parser = SSEParser(max_line=4096, source="http://127.0.0.1:1/v1/chat/completions")
    chunks = [line] if cut is None else [line[i : i + cut] for i in range(0, len(line), cut)]
    with pytest.raises(ModelError, match=r"the server sent a line over 4096 bytes without a newline \(http://"):
        for chunk in chunks:
            parser.feed(chunk)


def test_lines_up_to_the_cap_pass_and_the_parser_goes_on() -> None:
    parser = SSEParser(max_line=16)
    assert parser.feed(b"data: 0123456789") == []  # 16 bytes: at the cap
    assert parser.feed(b"\n\ndata: ok\n\n") == [SSEEvent("0123456789"), SSEEvent("ok")]


def test_the_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_line_bytes() == 8 * MB
    monkeypatch.setenv(MAX_LINE_ENV, "0.5")
    assert max_line_bytes() == MB // 2
    with pytest.raises(ModelError, match=r"over 0.5 MB without a newline"):
        SSEParser().feed(b"data: " + b"z" * MB)
    for bad in ("0", "-1", "lots", "nan"):
        monkeypatch.setenv(MAX_LINE_ENV, bad)
        with pytest.raises(ConfigError, match=rf"{MAX_LINE_ENV} must be a number of MB above 0.*{bad!r}"):
            max_line_bytes()


def test_a_server_sending_100_mb_without_a_newline_fails_the_run(openai_server: OpenAIServer) -> None:
    block = b"x" * MB  # one object sent 100 times: the test holds 1 MB, the wire carries 100
    openai_server.script(Reply(headers=dict(SSE_HEADERS), chunks=[b"data: ", *([block] * 100), b"\n\n", DONE]))
    agent = Agent(name="T", instructions="Be brief.", model="gpt-4o-mini")
    result = Runner.run_sync(agent, "Hi", config=RunConfig(max_time=60, timeout_per_turn=60))
    assert result.status is RunStatus.FAILED
    assert "the server sent a line over 8 MB without a newline" in (result.error or "")
    assert "/chat/completions" in (result.error or "") and "waiting for the model" not in (result.error or "")
    assert len(openai_server.requests) == 1  # not retried
