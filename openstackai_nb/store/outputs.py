"""Deprecated import path: typed answers as DataFrame columns live in `openstackai_nb.output.columns`.

Typed answers have one home, `openstackai_nb.output`. The names below still import from here,
with a DeprecationWarning naming their new path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openstackai_nb._warnings import moved

if TYPE_CHECKING:
    from openstackai_nb.output.columns import PREFIX, output_columns, schema_key

__all__ = ["PREFIX", "output_columns", "schema_key"]


__getattr__ = moved(__name__, dict.fromkeys(__all__, "openstackai_nb.output.columns"))
