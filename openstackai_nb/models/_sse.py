"""A pure, incremental server-sent-events parser (the `data:` part of the SSE spec).

`SSEParser.feed(chunk)` accepts bytes split anywhere (mid-line, mid-UTF-8 character, between
CR and LF) and returns the `data` payloads of the events completed by that chunk.
"""

from __future__ import annotations

import codecs

__all__ = ["SSEParser"]


class SSEParser:
    """Turn a byte stream into the data strings of its events."""

    __slots__ = ("_buf", "_data", "_decoder", "_pending_cr")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[str]:
        """Feed bytes; return the data payloads of the events they complete."""
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
        out: list[str] = []
        for line in lines:
            if not line:
                if self._data:
                    out.append("\n".join(self._data))
                    self._data = []
                continue
            if line[0] == ":":
                continue
            field, sep, value = line.partition(":")
            if sep and value.startswith(" "):
                value = value[1:]
            if field == "data":
                self._data.append(value)
        return out

    def flush(self) -> list[str]:
        """End of stream: return an event left without its blank line (per spec, dropped)."""
        # The spec discards an unterminated event; we report it so the caller can decide.
        rest = self._buf
        self._buf = ""
        data = list(self._data)
        self._data = []
        if rest.startswith("data"):
            _, _, value = rest.partition(":")
            data.append(value[1:] if value.startswith(" ") else value)
        return ["\n".join(data)] if data else []
