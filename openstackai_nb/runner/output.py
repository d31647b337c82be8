"""Deprecated import path: the typed answer of a turn lives in `openstackai_nb.output.answers`.

Typed answers have one home, `openstackai_nb.output`. The names below still import from here,
with a DeprecationWarning naming their new path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openstackai_nb._warnings import moved

if TYPE_CHECKING:
    from openstackai_nb.output.answers import Answer, find_answer, never_valid

__all__ = ["Answer", "find_answer", "never_valid"]

_MOVED = [*__all__, "ACCEPTED", "NOT_RUN", "ONE_ANSWER"]
__getattr__ = moved(__name__, dict.fromkeys(_MOVED, "openstackai_nb.output.answers"))
