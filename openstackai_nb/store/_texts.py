"""A column of texts kept as UTF-8 bytes until it is read: what `compare()` keeps of each run's texts.

Why (`Texts` below): strings made while a grid runs and kept until its DataFrame is deleted
pin CPython's small-object arenas; bytes in one buffer do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

__all__ = ["Texts"]


class Texts(Sequence["str | None"]):
    """A column of `size` optional strings, set row by row in any order, kept as UTF-8 bytes in one buffer.

    Why not an object array of the strings: a string made during a run is a small object in
    CPython's allocator (obmalloc: 1 MiB arenas of 16 KiB pools, an arena given back to the
    system only once every block in it is free). Kept until the DataFrame is deleted, a grid's
    texts sat in arenas shared with the runs' short-lived objects and the few objects made
    meanwhile that outlive the grid (the history writer's last batch, caches): after ``del df``
    those few pinned one arena each, and the arenas in use grew with the grid (+30 arenas,
    about 30 MB, after 100,000 runs with the same 0.3 MB of live objects; `sys._debugmallocstats`,
    benchmarks/README.md). Here the texts are bytes in one buffer (malloc'd, not obmalloc) and
    `array()` makes their strings at the end, one after another: they fill arenas of their own
    and free them together with the frame.

    Example:
        >>> texts = Texts(3)
        >>> texts.put(2, "two"); texts.put(0, "zero")
        >>> texts.array().tolist()
        ['zero', None, 'two']
    """

    def __init__(self, size: int) -> None:
        import numpy as np

        self._buffer = bytearray()
        self._start = np.full(size, -1, dtype=np.int64)  # byte offset in the buffer; -1: None
        self._end = np.zeros(size, dtype=np.int64)

    def put(self, row: int, text: str | None) -> None:
        """Set row `row` to `text` (None: no value)."""
        if text is None:
            self._start[row] = -1
            return
        start = len(self._buffer)
        self._buffer += text.encode("utf-8", "surrogatepass")  # a lone surrogate comes back as it was
        self._start[row] = start
        self._end[row] = len(self._buffer)

    def __len__(self) -> int:
        return len(self._start)

    @overload
    def __getitem__(self, row: int) -> str | None: ...
    @overload
    def __getitem__(self, row: slice) -> list[str | None]: ...
    def __getitem__(self, row: int | slice) -> str | None | list[str | None]:
        if isinstance(row, slice):
            return [self[i] for i in range(len(self))[row]]
        start = int(self._start[row])
        return None if start < 0 else self._buffer[start : self._end[row]].decode("utf-8", "surrogatepass")

    def array(self) -> Any:
        """The column as a numpy object array (new strings, made now, one after another)."""
        import numpy as np

        out = np.full(len(self._start), None, dtype=object)
        view = memoryview(self._buffer)
        out[:] = [
            None if start < 0 else str(view[start:end], "utf-8", "surrogatepass")
            for start, end in zip(self._start.tolist(), self._end.tolist(), strict=True)
        ]
        view.release()
        return out
