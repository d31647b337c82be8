"""A pure, incremental server-sent-events parser.

`SSEParser.feed(chunk)` accepts bytes split anywhere (mid-line, mid-UTF-8 character, between
CR and LF) and returns the `SSEEvent`s completed by that chunk: each one's `data`, its `event`
name and any field the SSE spec does not define (`extra`). Servers put errors in such fields:
llama.cpp's server writes `error: {...}` as the field name, others send `event: error`.

Unlike a browser's EventSource (which drops an event without data), an event is reported when
it has data lines, an event name or an unknown field; `id:` and `retry:` alone report nothing.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["SSEEvent", "SSEParser"]

_NO_EXTRA: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched server-sent event."""

    data: str = ""
    """The data lines, joined with newlines ("" when the event had none)."""
    event: str = ""
    """The `event:` name ("" when none was given: the spec's "message")."""
    extra: Mapping[str, str] = field(default_factory=lambda: _NO_EXTRA)
    """Fields outside the spec (e.g. llama.cpp's `error`), each field's lines joined with newlines."""


class SSEParser:
    """Turn a byte stream into its events."""

    __slots__ = ("_buf", "_data", "_decoder", "_event", "_extra", "_pending_cr")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._data: list[str] = []
        self._event = ""
        self._extra: dict[str, str] | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Feed bytes; return the events they complete."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        if text.endswith("\r"):
            # A CR at the end may be the first half of CRLF: drop a following LF.
            self._pending_cr = True
        buf = self._buf + text
        if "\r" in buf:
            buf = buf.replace("\r\n", "\n").replace("\r", "\n")
        lines = buf.split("\n")
        self._buf = lines.pop()
        out: list[SSEEvent] = []
        for line in lines:
            if line:
                self._line(line)
            elif self._data or self._event or self._extra:
                out.append(self._dispatch())
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream: return an event left without its blank line (per spec, dropped)."""
        # The spec discards an unterminated event; we report it so the caller can decide.
        rest, self._buf = self._buf, ""
        if rest:
            self._line(rest)
        return [self._dispatch()] if self._data or self._event or self._extra else []

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
