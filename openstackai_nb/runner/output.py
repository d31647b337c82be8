"""Deprecated import path: the typed answer of a turn lives in `openstackai_nb.output.answers`.

Typed answers have one home, `openstackai_nb.output`. The names below still import from here,
with a DeprecationWarning naming their new path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openstackai_nb.output.answers import Answer, find_answer, never_valid

__all__ = ["Answer", "find_answer", "never_valid"]

_MOVED = frozenset({*__all__, "ACCEPTED", "NOT_RUN", "ONE_ANSWER"})


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from openstackai_nb._warnings import warn
    from openstackai_nb.output import answers

    warn(f"{__name__}.{name} moved: import it from openstackai_nb.output.answers", DeprecationWarning)
    return getattr(answers, name)
