"""DataFrames as the magics show them: scrubbed of secrets, or with control characters made inert.

Scrubbed: what `-o` stores (displayed later through pandas, not our scrubber). Inert: what is
shown now (pandas' HTML escapes markup but passes ESC and the bidi overrides on).

pandas is imported inside the functions: they are only called with a DataFrame in hand.
"""

from __future__ import annotations

from typing import Any

__all__ = ["inert_frame", "scrubbed_frame"]


def scrubbed_frame(frame: Any) -> Any:
    """A copy of a DataFrame whose strings (cells, row and column labels) are scrubbed, to display."""
    from pandas import MultiIndex
    from pandas.api.types import is_numeric_dtype

    from openstackai_nb._secrets import scrub_data

    def clean(value: Any) -> Any:
        return scrub_data(value) if isinstance(value, str | list | dict) else value

    out = frame.map(clean)
    for axis in ("index", "columns"):
        labels = getattr(frame, axis)
        if not isinstance(labels, MultiIndex) and not is_numeric_dtype(labels):
            setattr(out, axis, labels.map(clean))
    return out


def inert_frame(frame: Any) -> Any:
    """A copy of a DataFrame to show now: its text cells' control characters made inert (`_secrets.inert`).

    The magic's table is shown through pandas, whose HTML escapes markup but passes ESC and the
    bidi overrides on; the frame `-o` stores keeps the text as the history does.
    """
    from openstackai_nb._secrets import inert

    return frame.map(lambda value: inert(value) if isinstance(value, str) else value)
