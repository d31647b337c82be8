"""The notebook layer: `%%agent` / `%agent` magics (`magics.py`) and the live view (`widgets.py`).

The only package modules that import IPython; `%load_ext openstackai_nb` loads `magics.py`, and
`widgets.py` imports anywidget only when a live view is first shown.
"""

from __future__ import annotations

__all__: list[str] = []
