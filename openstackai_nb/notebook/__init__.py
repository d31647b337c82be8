"""The notebook layer: magics (`magics.py`), the live view (`widgets.py`, fed by `driver.py`), progress.

`%%agent` / `%agent` are the magics; `progress.py` is compare's live progress table.

The only package modules that import IPython; `%load_ext openstackai_nb` loads `magics.py`, and
`widgets.py` imports anywidget only when a live view is first shown. This module stays light: it
is imported by `compare()` in plain scripts too.
"""

from __future__ import annotations

import sys

__all__ = ["is_jupyter"]


def is_jupyter() -> bool:
    """Return True inside a kernel with a rich front end (JupyterLab, Notebook, VS Code, Colab).

    Terminal IPython and plain Python get streamed text instead of widgets and HTML tables.
    Never imports IPython: without it loaded, this is not a notebook.
    """
    ipython_mod = sys.modules.get("IPython")
    if ipython_mod is None:
        return False
    shell = ipython_mod.get_ipython()
    if shell is None:
        return False
    if "google.colab" in sys.modules:
        return True
    return type(shell).__name__ == "ZMQInteractiveShell" or hasattr(shell, "kernel")
