"""Moved: `notebook/display.py` was a grab-bag. Its names now live in modules named for what they do.

`usage_errors` (our errors as one UsageError line, a limit's advice in `%%agent` terms),
`provenance` (the display metadata of an output), `settings_view` (`%agent config`'s table) and
`tables` (DataFrames scrubbed or made inert to show), all under `openstackai_nb.notebook`. Kept
because docs/api.md listed this path: reading a name here still works and warns
(DeprecationWarning) with its new path.
"""

from __future__ import annotations

from openstackai_nb._warnings import moved

__all__: list[str] = []

_PACKAGE = "openstackai_nb.notebook."
_MOVED = {
    "LIMIT_OPTIONS": "usage_errors",
    "MarkdownText": "settings_view",
    "as_usage_errors": "usage_errors",
    "cassette_of": "provenance",
    "for_display": "usage_errors",
    "in_magic_terms": "usage_errors",
    "inert_frame": "tables",
    "provenance": "provenance",
    "scrubbed_frame": "tables",
    "settings_view": "settings_view",
    "without_credentials": "settings_view",
}


__getattr__ = moved(__name__, {name: _PACKAGE + module for name, module in _MOVED.items()})
