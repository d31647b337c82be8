"""`{{name}}` in a `%%agent` cell's prompt: filled in with a bounded summary of the notebook's variable.

Stdlib only: a DataFrame is summarised through its own methods, pandas is never imported.
(Formerly half of `notebook/prompt.py`; that path still works, with a DeprecationWarning.)
"""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError

__all__ = ["SUMMARY_CHARS", "interpolate", "summarise"]

SUMMARY_CHARS = 4000
"""Longest text a `{{name}}` substitution puts into a prompt."""
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


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
