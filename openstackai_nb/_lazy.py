"""Module-level things made on first use, so that importing the package does not pay for them."""

from __future__ import annotations

import re

__all__ = ["LazyPattern"]


class LazyPattern:
    """A regular expression compiled on its first use, not at import.

    Compiling the scrubber's patterns was ~5 ms of `import openstackai_nb`; most processes use
    only a few of them. ``PATTERN()`` is the compiled pattern: one call and an attribute test
    once it is compiled.

    Example:
        >>> WORD = LazyPattern("[a-z]+")
        >>> WORD().findall("two words")
        ['two', 'words']
    """

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source, self._flags = source, flags
        self._compiled: re.Pattern[str] | None = None

    def __call__(self) -> re.Pattern[str]:
        """The compiled pattern (compiled by the first call)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source, self._flags)
        return compiled
