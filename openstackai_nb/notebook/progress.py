"""The progress view of `compare()` in a notebook: a live table, one display output updated in place.

In a Jupyter kernel (or Colab) the table is one display output updated in place through a
display id (`display(..., display_id=True)` then `handle.update(...)`), at most 4 times a
second: no widget front end is needed, and the final table stays in the saved notebook. Every
agent name and model output is scrubbed of secrets, its control characters made inert
(`_secrets.shown`), and escaped before it becomes HTML (`render.progress`). The view only reads
events; it never drives the runs.

The counts, the text line and the protocol a view follows are the comparison layer's
(`comparison.progress`); `make_progress` is the view for this environment (the notebook's
table in a kernel, else the terminal line), which `compare(progress=True)` uses when IPython is
loaded and which a caller can pass in (`compare(..., progress=make_progress)`).
"""

from __future__ import annotations

from typing import Any

from openstackai_nb.comparison.progress import CompareProgress, NullProgress, TerminalProgress
from openstackai_nb.notebook import is_jupyter

__all__ = ["CompareProgress", "make_progress"]


class _NotebookProgress(CompareProgress):
    """A table (one row per agent) in one display output, updated in place."""

    def __init__(self, labels: list[str], per_agent: int) -> None:
        super().__init__(labels, per_agent)
        from IPython.display import display

        self.handle: Any = display(self._bundle(final=False), raw=True, display_id=True)

    def _draw(self, *, final: bool, interrupted: bool = False) -> None:
        if self.handle is not None:
            self.handle.update(self._bundle(final=final, interrupted=interrupted), raw=True)

    def _bundle(self, *, final: bool, interrupted: bool = False) -> dict[str, str]:
        return {
            "text/html": self.html(final=final, interrupted=interrupted),
            "text/plain": self.text(final=final, interrupted=interrupted),
        }


def make_progress(labels: list[str], per_agent: int, *, enabled: bool = True) -> CompareProgress:
    """The progress view for this environment: notebook table, terminal line, or nothing.

    A `comparison.progress.Progress`: ``compare(..., progress=make_progress)`` shows it.
    """
    if not enabled:
        return NullProgress(labels, per_agent)
    if is_jupyter():
        return _NotebookProgress(labels, per_agent)
    return TerminalProgress(labels, per_agent)
