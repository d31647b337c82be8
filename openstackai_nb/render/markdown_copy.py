"""Moved to `openstackai_nb.render.markdown_escape` (the module escapes; "copy" said what it was used for).

Kept because docs/api.md listed this path: reading a name here still works and warns
(DeprecationWarning) with the new path.
"""

from __future__ import annotations

from openstackai_nb._warnings import moved

__all__: list[str] = []

_MOVED = {
    "md_literal": "openstackai_nb.render.markdown_escape",
    "tokens_to_markdown": "openstackai_nb.render.markdown_escape",
}


__getattr__ = moved(__name__, _MOVED)
