"""Deprecated import path: typed answers as DataFrame columns live in `openstackai_nb.output.columns`.

Typed answers have one home, `openstackai_nb.output`. The names below still import from here,
with a DeprecationWarning naming their new path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openstackai_nb.output.columns import PREFIX, output_columns, schema_key

__all__ = ["PREFIX", "output_columns", "schema_key"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from openstackai_nb._warnings import warn
    from openstackai_nb.output import columns

    warn(f"{__name__}.{name} moved: import it from openstackai_nb.output.columns", DeprecationWarning)
    return getattr(columns, name)
