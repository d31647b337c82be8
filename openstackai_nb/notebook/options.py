"""The values of `%%agent`'s options: names (`--tools f,g`), quotes, `--over` items, the default model.

Parsing itself is IPython's magic_arguments (`magics.py`); this module checks and reads what it
gives. Stdlib only (pandas is looked up in `sys.modules`, never imported).
(Formerly half of `notebook/prompt.py`; that path still works, with a DeprecationWarning.)
"""

from __future__ import annotations

import numbers
import os
import sys
from datetime import date, time, timedelta
from typing import Any

from IPython.core.error import UsageError

__all__ = [
    "OFFLINE_NOTE",
    "OVER_ACCEPTS",
    "VALUE_OPTIONS",
    "default_model",
    "is_scalar",
    "over_items",
    "split_names",
    "unquote",
]

OFFLINE_NOTE = "offline scripted model (set OPENAI_API_KEY or OPENAI_BASE_URL for a real one)"
"""The status line's note when a cell falls back to the offline scripted model."""


def default_model() -> tuple[str, str]:
    """Return the model a `%%agent` cell uses when none is named, and a note for the status line.

    `OPENSTACKAI_NB_MODEL` if set; else "gpt-4o-mini" when `OPENAI_API_KEY` or `OPENAI_BASE_URL`
    is set; else the offline "scripted" model (with a note saying so).
    """
    from openstackai_nb.models import default_model_name

    if os.environ.get("OPENSTACKAI_NB_MODEL") or os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return default_model_name(), ""  # the API's rule: OPENSTACKAI_NB_MODEL, else gpt-4o-mini
    return "scripted", OFFLINE_NOTE


OVER_ACCEPTS = "--over takes a list, tuple, pandas Series or Index of strings or numbers, or cases"
"""What `--over` accepts, as its errors say it."""


def over_items(name: str, value: Any) -> list[Any]:
    """The items of `--over NAME`, or a one-line UsageError saying what --over accepts."""
    kind = type(value).__name__
    pandas = sys.modules.get("pandas")
    ok = isinstance(value, list | tuple) or (
        pandas is not None
        and isinstance(value, pandas.Series | pandas.Index)
        and not isinstance(value, pandas.MultiIndex)
    )
    if not ok:
        raise UsageError(f"--over {name} is a {kind}; {OVER_ACCEPTS} (e.g. {name} = ['first', 'second'])")
    items = list(value)
    for i, item in enumerate(items):
        if not is_scalar(item):
            raise UsageError(f"--over {name}: item {i} is a {type(item).__name__}; {OVER_ACCEPTS}")
    return items


def is_scalar(item: Any) -> bool:
    """True for a string, number, date or time (numpy scalars included): what --over accepts."""
    if item is None or isinstance(item, str | bytes | numbers.Number | date | time | timedelta):
        return True
    # numpy scalars (np.str_, np.datetime64, ...) without importing numpy
    return type(item).__module__ == "numpy" and getattr(item, "ndim", None) == 0


def split_names(text: str | None) -> list[str]:
    """The names of a comma-separated option value (blanks dropped)."""
    return [n.strip() for n in (text or "").split(",") if n.strip()]


VALUE_OPTIONS = ("agent", "model", "tools", "out", "agents", "over")
"""Options whose value names something: an empty value is a mistake (--instructions "" is not)."""


def unquote(text: str | None) -> str | None:
    """An option's value without the quotes IPython keeps (it splits magic lines the non-POSIX way)."""
    if text and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
