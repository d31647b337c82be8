"""What a `%%agent` cell becomes: its prompt with `{{name}}` filled in, its `--over` items, its model.

Stdlib only (pandas is looked up in `sys.modules`, never imported).
"""

from __future__ import annotations

import numbers
import os
import re
import sys
from datetime import date, time, timedelta
from typing import Any

from IPython.core.error import UsageError

__all__ = [
    "OFFLINE_NOTE",
    "OVER_ACCEPTS",
    "VALUE_OPTIONS",
    "default_model",
    "interpolate",
    "is_scalar",
    "over_items",
    "split_names",
    "summarise",
    "unquote",
]

OFFLINE_NOTE = "offline scripted model (set OPENAI_API_KEY or OPENAI_BASE_URL for a real one)"
"""The status line's note when a cell falls back to the offline scripted model."""
SUMMARY_CHARS = 4000
"""Longest text a `{{name}}` substitution puts into a prompt."""
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def default_model() -> tuple[str, str]:
    """Return the model a `%%agent` cell uses when none is named, and a note for the status line.

    `OPENSTACKAI_NB_MODEL` if set; else "gpt-4o-mini" when `OPENAI_API_KEY` or `OPENAI_BASE_URL`
    is set; else the offline "scripted" model (with a note saying so).
    """
    from openstackai_nb.models import default_model_name

    if os.environ.get("OPENSTACKAI_NB_MODEL") or os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return default_model_name(), ""  # the API's rule: OPENSTACKAI_NB_MODEL, else gpt-4o-mini
    return "scripted", OFFLINE_NOTE


def summarise(value: Any, limit: int = SUMMARY_CHARS) -> str:
    """Return `value` as prompt text of at most about `limit` characters.

    A DataFrame or Series becomes its first rows as text (with its shape), a long string is cut,
    anything else is its str (cut as well). pandas is never imported here.
    """
    if isinstance(value, str):
        text = value
    elif hasattr(value, "head") and hasattr(value, "to_string") and hasattr(value, "shape"):
        shape = "x".join(str(n) for n in value.shape)
        text = f"{value.head(10).to_string()}\n[{type(value).__name__}, shape {shape}]"
    else:
        text = str(value)
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit} more characters]"
    return text


def interpolate(prompt: str, namespace: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """Replace each `{{name}}` in `prompt` by a bounded summary of `namespace[name]`.

    Single braces (code, JSON, f-string examples) pass through untouched.

    Raises:
        UsageError: a `{{name}}` names no variable.
    """
    extra = extra or {}

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in extra:
            return summarise(extra[name])
        if name not in namespace:
            raise UsageError(f"{{{{{name}}}}} in the prompt names no variable: define {name} first")
        return summarise(namespace[name])

    return _PLACEHOLDER.sub(sub, prompt)


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
