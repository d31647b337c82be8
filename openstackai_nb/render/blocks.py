"""Cut markdown into blocks that render on their own: the unit of the live view and of the static copy.

A block ends at a blank line outside a code fence, or right after a fence that opened at the
start of a line closes. A blank line does not end a block when the next line continues it: an
indented line (a list item's next paragraph, indented code) or, after a list, the next list
item; so a loose list stays one list. The decision is taken on the first character of the next
line (a whole line only when a list could go on), so it is the same whether the text arrives at
once or in pieces: the live view, which renders each block as soon as it ends, and the static
copy, which cuts the whole answer at the end, show the same blocks, hence the same HTML.

The cost is one scan of each new line; nothing already cut is looked at again.
"""

from __future__ import annotations

import re

__all__ = ["BlockSplitter", "split_blocks"]

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")
_LIST_START = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])[ \t]")
_LIST_MAYBE = re.compile(r"^(?:[-+*]|\d{1,9}[.)]?)$")


class BlockSplitter:
    r"""Cut text that arrives in pieces into finished markdown blocks.

    Example:
        >>> s = BlockSplitter()
        >>> s.feed("# Title\n\nSome te")
        ['# Title\n\n']
        >>> s.feed("xt.\n\nMore")
        ['Some text.\n\n']
        >>> s.finish()
        'More'
    """

    __slots__ = ("_blank", "_content", "_fence", "_fence_top", "_list", "_scan", "buf")

    def __init__(self) -> None:
        self.buf = ""
        """The text of the block not finished yet."""
        self._reset()

    def _reset(self) -> None:
        self._scan = 0  # buf[:_scan] is whole lines already looked at
        self._fence: tuple[str, int] | None = None  # the open fence's character and length
        self._fence_top = False  # the open fence started at the start of a line
        self._content = False  # the block has a non-blank line
        self._list = False  # the block holds a list item
        self._blank = False  # a blank line outside a fence came after the content

    def feed(self, text: str) -> list[str]:
        """Add text; return the blocks it finished (their texts, joined, are the text fed so far)."""
        self.buf += text
        out: list[str] = []
        while (cut := self._advance()) is not None:
            out.append(self.buf[:cut])
            self.buf = self.buf[cut:]
            self._reset()
        return out

    def finish(self) -> str:
        """The text is complete: return the rest as the last block ("" when there is none)."""
        rest, self.buf = self.buf, ""
        self._reset()
        return rest

    def _advance(self) -> int | None:
        """Look at the lines not seen yet; return where a finished block ends, or None."""
        buf = self.buf
        while self._scan < len(buf):
            nl = buf.find("\n", self._scan)
            complete = nl >= 0
            line = buf[self._scan : nl] if complete else buf[self._scan :]
            if self._blank and line.strip():
                starts = self._starts_block(line, complete)
                if starts is None:
                    return None
                if starts:
                    return self._scan
                self._blank = False
            if not complete:
                return None
            self._scan = nl + 1
            if self._take(line.rstrip("\r")):
                return self._scan
        return None

    def _starts_block(self, line: str, complete: bool) -> bool | None:
        """After a blank line: does `line` start a new block? None when it cannot be told yet."""
        if line[0] in " \t":
            return False  # indented: a list item's next paragraph, or code
        if not self._list or line[0] not in "-+*0123456789":
            return True
        if complete:
            return not _LIST_ITEM.match(line.rstrip("\r"))
        if _LIST_START.match(line):
            return False
        return None if _LIST_MAYBE.match(line) else True

    def _take(self, line: str) -> bool:
        """Take one whole line; True when the block ends after it (a top-level fence closed)."""
        if self._fence is not None:
            m = _FENCE.match(line)
            char, size = self._fence
            if m and m.group(1)[0] == char and len(m.group(1)) >= size and not m.group(2).strip():
                self._fence = None
                return self._fence_top
            return False
        if not line.strip():
            self._blank = self._content
            return False
        self._content = True
        m = _FENCE.match(line)
        if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            self._fence = (m.group(1)[0], len(m.group(1)))
            self._fence_top = line[0] in "`~"
        elif _LIST_ITEM.match(line):
            self._list = True
        return False


def split_blocks(text: str) -> list[str]:
    r"""Cut a whole text into its blocks (their texts, joined, are `text`).

    Example:
        >>> split_blocks("a\n\n- x\n\n- y\n\nb")
        ['a\n\n', '- x\n\n- y\n\n', 'b']
    """
    splitter = BlockSplitter()
    blocks = splitter.feed(text)
    rest = splitter.finish()
    if rest:
        blocks.append(rest)
    return blocks
