"""Moved: `notebook/prompt.py` was option reading, not prompting. Its names now live in two modules.

`openstackai_nb.notebook.options` (the options' values: names, quotes, `--over` items, the default
model) and `openstackai_nb.notebook.placeholders` (`{{name}}` in the prompt). Kept because
docs/api.md listed this path: reading a name here still works and warns (DeprecationWarning)
with its new path.
"""

from __future__ import annotations

import importlib
from typing import Any

from openstackai_nb._warnings import warn

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


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warn(f"{__name__}.{name} moved to {module}.{name}; import it from there", DeprecationWarning)
    return getattr(importlib.import_module(module), name)
