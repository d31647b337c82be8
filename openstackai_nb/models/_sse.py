"""A pure, incremental server-sent-events parser.

`SSEParser.feed(chunk)` accepts bytes split anywhere (mid-line, mid-UTF-8 character, between
CR and LF) and returns the `SSEEvent`s completed by that chunk: each one's `data`, its `event`
name and any field the SSE spec does not define (`extra`). Servers put errors in such fields:
llama.cpp's server writes `error: {...}` as the field name, others send `event: error`.

Unlike a browser's EventSource (which drops an event without data), an event is reported when
it has data lines, an event name or an unknown field; `id:` and `retry:` alone report nothing.

Lines are cut in bytes (CR and LF never occur inside a UTF-8 character) and decoded whole. The
bytes of an unfinished line are appended to one buffer and only each new chunk is searched for
a line end, so a long line costs time in proportion to its length (re-joining the whole buffer
on every chunk made a 40 MB line take seconds). One line may hold at most `max_line` bytes
(`OPENSTACKAI_NB_SSE_MAX_LINE_MB`, default 8 MB): a server that sends more without a newline
fails the answer with a ModelError that says so, instead of filling memory until a time limit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from openstackai_nb._secrets import scrub
from openstackai_nb.errors import ConfigError, ModelError

__all__ = ["MAX_LINE_ENV", "SSEEvent", "SSEParser", "max_line_bytes"]

_NO_EXTRA: Mapping[str, str] = MappingProxyType({})
_MB = 1024 * 1024
MAX_LINE_ENV = "OPENSTACKAI_NB_SSE_MAX_LINE_MB"
"""The environment variable that sets the longest line a stream may send, in MB (default 8)."""
_DEFAULT_MAX_LINE_MB = 8.0


def max_line_bytes() -> int:
    """The cap on one SSE line, in bytes: `OPENSTACKAI_NB_SSE_MAX_LINE_MB` (MB, > 0) or 8 MB."""
    raw = os.environ.get(MAX_LINE_ENV, "").strip()
    if not raw:
        return int(_DEFAULT_MAX_LINE_MB * _MB)
    try:
        mb = float(raw)
    except ValueError:
        mb = 0.0
    if not mb > 0 or mb == float("inf"):
        raise ConfigError(f"{MAX_LINE_ENV} must be a number of MB above 0 (e.g. 8 or 0.5), got {raw!r}")
    return max(1, int(mb * _MB))


@dataclass(slots=True)
class SSEEvent:
    """One dispatched server-sent event (one per streamed token: a plain class, cheap to make)."""

    data: str = ""
    """The data lines, joined with newlines ("" when the event had none)."""
    event: str = ""
    """The `event:` name ("" when none was given: the spec's "message")."""
    extra: Mapping[str, str] = field(default_factory=lambda: _NO_EXTRA)
    """Fields outside the spec (e.g. llama.cpp's `error`), each field's lines joined with newlines."""


class SSEParser:
    """Turn a byte stream into its events.

    Args:
        max_line: the longest line allowed, in bytes; default `max_line_bytes()` (8 MB).
        source: who sends the stream, named in the error about a too long line (e.g. its URL).

    Raises:
        ModelError: from `feed`/`flush`, when a line is longer than `max_line`.
    """

    __slots__ = ("_buf", "_data", "_event", "_extra", "_max_line", "_pending_cr", "_source")

    def __init__(self, max_line: int | None = None, *, source: str = "") -> None:
        self._max_line = max_line if max_line is not None else max_line_bytes()
        self._source = source
        self._buf = bytearray()  # the bytes of the line not yet ended
        self._data: list[str] = []
        self._event = ""
        self._extra: dict[str, str] | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Feed bytes; return the events they complete."""
        if chunk.endswith(b"\n\n") and chunk.startswith(b"data: ") and self._clean(chunk):
            # The common chunk: one whole event of one data line, nothing held from before. Its
            # data is the bytes between, decoded: no line splitting, no buffer.
            return [SSEEvent(chunk[6:-2].decode("utf-8", "replace"))]
        return self._feed_lines(chunk)

    def _feed_lines(self, chunk: bytes) -> list[SSEEvent]:
        """`feed`'s general way: any bytes, cut anywhere."""
        if self._pending_cr and chunk:
            self._pending_cr = False
            if chunk[0] == 0x0A:  # the LF of a CRLF cut after its CR
                chunk = chunk[1:]
        if chunk.endswith(b"\n"):  # the common case: whole events
            head, rest = chunk, b""
        else:
            end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))  # only the new bytes are searched
            if end < 0:  # a piece of a line
                self._buf += chunk
                if len(self._buf) > self._max_line:
                    raise self._too_long()
                return []
            head, rest = chunk[: end + 1], chunk[end + 1 :]
            if not rest:
                self._pending_cr = True  # a CR at the end may be the first half of CRLF: drop a following LF
        if self._buf:
            self._buf += head
            head = bytes(self._buf)
            self._buf.clear()
        if len(head) > self._max_line and any(len(line) > self._max_line for line in head.splitlines()):
            raise self._too_long()
        text = head.decode("utf-8", "replace")  # whole lines: no character is cut
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # "" after the last line end
        out: list[SSEEvent] = []
        for line in lines:
            if line:
                self._line(line)
            elif self._data or self._event or self._extra:
                out.append(self._dispatch())
        if rest:
            self._buf += rest
            if len(self._buf) > self._max_line:
                raise self._too_long()
        return out

    def _clean(self, chunk: bytes) -> bool:
        """Whether `chunk` (a data line and a blank line) is one whole event, with nothing held from before."""
        return (
            chunk.find(b"\n") == len(chunk) - 2
            and not self._buf
            and not self._pending_cr
            and not self._data
            and not self._event
            and self._extra is None
            and b"\r" not in chunk
            and len(chunk) <= self._max_line
        )

    def flush(self) -> list[SSEEvent]:
        """End of stream: return an event left without its blank line (per spec, dropped)."""
        # The spec discards an unterminated event; we report it so the caller can decide.
        rest = bytes(self._buf)
        self._buf.clear()
        if rest:
            self._line(rest.decode("utf-8", "replace"))
        return [self._dispatch()] if self._data or self._event or self._extra else []

    def _too_long(self) -> ModelError:
        self._buf.clear()
        mb = self._max_line / _MB
        size = f"{mb:g} MB" if mb >= 0.01 else f"{self._max_line} bytes"
        where = f" ({scrub(self._source)})" if self._source else ""
        return ModelError(
            f"the server sent a line over {size} without a newline{where}; the answer was abandoned "
            f"(set {MAX_LINE_ENV} to allow longer lines)"
        )

    def _line(self, line: str) -> None:
        if line[0] == ":":
            return  # a comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name not in ("id", "retry"):
            extra = self._extra if self._extra is not None else {}
            extra[name] = f"{extra[name]}\n{value}" if name in extra else value
            self._extra = extra

    def _dispatch(self) -> SSEEvent:
        event = SSEEvent("\n".join(self._data), self._event, self._extra or _NO_EXTRA)
        self._data = []
        self._event = ""
        self._extra = None
        return event
