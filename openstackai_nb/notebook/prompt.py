"""Moved: `notebook/prompt.py` was option reading, not prompting. Its names now live in two modules.

`openstackai_nb.notebook.options` (the options' values: names, quotes, `--over` items, the default
model) and `openstackai_nb.notebook.placeholders` (`{{name}}` in the prompt). Kept because
docs/api.md listed this path: reading a name here still works and warns (DeprecationWarning)
with its new path.
"""

from __future__ import annotations

from openstackai_nb._warnings import moved

__all__: list[str] = []

_OPTIONS = "openstackai_nb.notebook.options"
_PLACEHOLDERS = "openstackai_nb.notebook.placeholders"
_MOVED = {
    "OFFLINE_NOTE": _OPTIONS,
    "OVER_ACCEPTS": _OPTIONS,
    "SUMMARY_CHARS": _PLACEHOLDERS,
    "VALUE_OPTIONS": _OPTIONS,
    "default_model": _OPTIONS,
    "interpolate": _PLACEHOLDERS,
    "is_scalar": _OPTIONS,
    "over_items": _OPTIONS,
    "split_names": _OPTIONS,
    "summarise": _PLACEHOLDERS,
    "unquote": _OPTIONS,
}


__getattr__ = moved(__name__, _MOVED)
