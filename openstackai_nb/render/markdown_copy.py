"""Moved to `openstackai_nb.render.markdown_escape` (the module escapes; "copy" said what it was used for).

Kept because docs/api.md listed this path: reading a name here still works and warns
(DeprecationWarning) with the new path.
"""

from __future__ import annotations

import importlib
from typing import Any

from openstackai_nb._warnings import warn

__all__: list[str] = []

_MOVED = {
    "md_literal": "openstackai_nb.render.markdown_escape",
    "tokens_to_markdown": "openstackai_nb.render.markdown_escape",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warn(f"{__name__}.{name} moved to {module}.{name}; import it from there", DeprecationWarning)
    return getattr(importlib.import_module(module), name)
