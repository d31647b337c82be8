"""The progress of a comparison: the protocol a view follows, its counts, and the terminal line.

`compare(progress=...)` takes True (the view for where it runs), False (none), or a function
``(rows, runs_per_row) -> ProgressView`` that makes the view: the comparison layer knows views
only through the small `ProgressView` protocol (started, finished, refresh, close), called on
compare's thread. `CompareProgress` keeps the counts per row (an agent, or "judges") and
writes them as a line of text or an escaped HTML table (`render.progress`); `TerminalProgress`
draws the line on stderr (rewritten in place on a terminal, printed once at the end
otherwise), `NullProgress` draws nothing.

In a Jupyter kernel, True means the notebook's table (`openstackai_nb.notebook.progress`: one
display output updated in place). The comparison layer does not import the notebook layer: that
view is named once, below, as an import path (`NOTEBOOK_PROGRESS`, as the runner names its
default observers), imported only when IPython is loaded; the notebook layer can also pass its
view in (`progress=make_progress`).

When the runs are scored as they finish (`finished(label, result, score)`), each row also shows
the running mean ± 95% CI of its scores: over the runs so far (not per case, as `summarize`
does at the end: a live view cannot wait for a case's repeats), with the Student-t interval of
`comparison.intervals`. Every label and answer is scrubbed of secrets and its control
characters made inert (`_secrets.shown`).
"""

from __future__ import annotations

import importlib
import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from openstackai_nb._secrets import shown
from openstackai_nb.comparison.intervals import RunningMean
from openstackai_nb.errors import ConfigError
from openstackai_nb.render.progress import ProgressRow, compare_progress_html

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = [
    "CompareProgress",
    "NOTEBOOK_PROGRESS",
    "NullProgress",
    "Progress",
    "ProgressView",
    "TerminalProgress",
    "progress_view",
]

_MIN_INTERVAL = 0.25  # seconds between two updates of the view

NOTEBOOK_PROGRESS = "openstackai_nb.notebook.progress:make_progress"
"""The view `progress=True` makes when IPython is loaded (a table in a kernel, else the terminal
line), as a ``module:function`` path: imported only then, so this layer never imports the notebook's."""


class ProgressView(Protocol):
    """What `compare` tells a progress view, on its own thread, as the runs start and end."""

    def started(self, label: str) -> None:
        """A run of row `label` started."""
        ...

    def finished(self, label: str, result: RunResult, score: float | None = None) -> None:
        """A run of row `label` ended with `result`, scored `score` by the first scorer (None: no score)."""
        ...

    def refresh(self, *, force: bool = False) -> None:
        """Redraw if it is time to (called about 10 times a second while runs go on)."""
        ...

    def close(self, *, interrupted: bool = False) -> None:
        """Draw the final state once (the comparison ended, or was interrupted)."""
        ...


Progress = Callable[[list[str], int], ProgressView]
"""A function ``(rows, runs_per_row) -> ProgressView``: what `compare(progress=...)` takes besides True and False."""


class _Row:
    __slots__ = ("_model", "_shown", "_text", "completion", "done", "elapsed", "failed", "prompt", "running", "scores")

    def __init__(self) -> None:
        self.done = self.failed = self.running = 0
        self.prompt = self.completion = 0
        self.elapsed = 0.0
        self._model = ""
        self._text = ""
        self._shown: tuple[str, str] | None = ("", "")
        self.scores = RunningMean()

    def ended(self, model: str, text: str) -> None:
        """The latest run's model and answer (or error), as they came: scrubbed when drawn (`shown`)."""
        self._model = model or self._model
        self._text = text
        self._shown = None

    def shown(self) -> tuple[str, str]:
        """(model, latest answer on one line), scrubbed and made inert, as the view draws them.

        Scrubbed here, once per change, not as each run ends: the view draws about 10 times a
        second at most, and scrubbing a long answer costs about 0.02 ms per KB.
        """
        if self._shown is None:
            self._shown = (shown(self._model), " ".join(shown(self._text).split()))
        return self._shown

    def score_text(self) -> str:
        """The running mean and the 95% CI half width ("0.72 ± 0.05"; "0.72" with one score, "" with none)."""
        if not self.scores.n:
            return ""
        half = self.scores.half_width()
        return f"{self.scores.mean:.2f}" + ("" if math.isnan(half) else f" ± {half:.2f}")


class CompareProgress:
    """Counts of a comparison per row (agent), drawn by a subclass (`_draw`): a `ProgressView`."""

    def __init__(self, labels: list[str], per_agent: int) -> None:
        self.rows = {label: _Row() for label in labels}
        self.shown = {label: shown(label) for label in labels}
        """Each label as the view shows it (scrubbed)."""
        self.per_agent = per_agent
        self.total = per_agent * len(labels)
        self.t0 = time.monotonic()
        self._last_draw = 0.0
        self._dirty = True
        self.closed = False
        self.scored = False
        """True once a run came with a score (the score column is shown from then on)."""

    # events -------------------------------------------------------------------------------------
    def started(self, label: str) -> None:
        """A run of `label` started."""
        self.rows[label].running += 1
        self._dirty = True

    def finished(self, label: str, result: RunResult, score: float | None = None) -> None:
        """A run of `label` ended with `result`, scored `score` by the first scorer (None: no score)."""
        row = self.rows[label]
        if score is not None:
            self.scored = True
            row.scores.add(float(score))
        row.running = max(0, row.running - 1)
        row.done += 1
        if result.status.value != "COMPLETED":
            row.failed += 1
        row.prompt += result.usage.prompt_tokens
        row.completion += result.usage.completion_tokens
        row.elapsed += result.elapsed_time
        row.ended(result.model, (result.output_text if result.succeeded else result.error) or "")
        self._dirty = True

    # drawing ------------------------------------------------------------------------------------
    @property
    def done(self) -> int:
        """Runs ended so far."""
        return sum(r.done for r in self.rows.values())

    def refresh(self, *, force: bool = False) -> None:
        """Redraw if something changed and the last draw is old enough (or `force`)."""
        now = time.monotonic()
        if self.closed or not (force or (self._dirty and now - self._last_draw >= _MIN_INTERVAL)):
            return
        self._last_draw = now
        self._dirty = False
        self._draw(final=False)

    def close(self, *, interrupted: bool = False) -> None:
        """Draw the final state once."""
        if self.closed:
            return
        self._draw(final=True, interrupted=interrupted)
        self.closed = True

    def summary(self, *, final: bool = False, interrupted: bool = False) -> str:
        """One line: runs done, failed, running, elapsed."""
        rows = self.rows.values()
        failed = sum(r.failed for r in rows)
        running = sum(r.running for r in rows)
        state = "interrupted" if interrupted else ("done" if final else "running")
        parts = [f"compare {state}: {self.done}/{self.total} runs"]
        if failed:
            parts.append(f"{failed} failed")
        if running and not final:
            parts.append(f"{running} in flight")
        parts.append(f"{time.monotonic() - self.t0:.1f}s")
        line = ", ".join(parts)
        if self.scored:
            scores = [f"{self.shown[label]} {r.score_text() or '-'}" for label, r in self.rows.items()]
            line += "; score " + ", ".join(scores)
        return line

    def text(self, *, final: bool, interrupted: bool = False) -> str:
        """The plain-text twin of the table."""
        lines = [self.summary(final=final, interrupted=interrupted)]
        for label, r in self.rows.items():
            failed = f", {r.failed} failed" if r.failed else ""
            score = f", score {r.score_text()} ({r.scores.n} scored runs)" if r.scores.n else ""
            lines.append(f"  {self.shown[label]}: {r.done}/{self.per_agent} done{failed}{score}")
        return "\n".join(lines)

    def html(self, *, final: bool, interrupted: bool = False) -> str:
        """The escaped HTML table (built by `render.progress`)."""
        rows = [
            ProgressRow(
                agent=self.shown[label],
                model=model,
                done=r.done,
                total=self.per_agent,
                running=r.running,
                failed=r.failed,
                elapsed=r.elapsed,
                tokens=r.prompt + r.completion,
                latest=latest,
                score_mean=r.scores.mean,
                score_half=r.scores.half_width(),
                scored=r.scores.n,
            )
            for label, r in self.rows.items()
            for model, latest in [r.shown()]
        ]
        return compare_progress_html(self.summary(final=final, interrupted=interrupted), rows, scores=self.scored)

    def _draw(self, *, final: bool, interrupted: bool = False) -> None:
        raise NotImplementedError


class NullProgress(CompareProgress):
    """Counts, draws nothing (`progress=False`)."""

    def _draw(self, *, final: bool, interrupted: bool = False) -> None:
        return None


class TerminalProgress(CompareProgress):
    """One line on stderr: rewritten in place on a terminal, printed once at the end otherwise."""

    def __init__(self, labels: list[str], per_agent: int) -> None:
        super().__init__(labels, per_agent)
        stream = sys.stderr
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def _draw(self, *, final: bool, interrupted: bool = False) -> None:
        stream = sys.stderr
        line = self.summary(final=final, interrupted=interrupted)
        if self.tty:
            stream.write("\r\x1b[2K" + _bar(self.done, self.total) + " " + line + ("\n" if final else ""))
        elif final:
            stream.write(line + "\n")
        stream.flush()


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def progress_view(progress: bool | Progress, labels: list[str], per_agent: int) -> ProgressView:
    """The view `compare(progress=...)` asked for (see the module docs).

    Raises:
        ConfigError: `progress` is neither a bool nor a function making a view.
    """
    if progress is False:
        return NullProgress(labels, per_agent)
    if progress is True:
        if "IPython" not in sys.modules:  # no kernel can be running: the terminal line
            return TerminalProgress(labels, per_agent)
        module, name = NOTEBOOK_PROGRESS.split(":")
        make: Any = getattr(importlib.import_module(module), name)
        return make(labels, per_agent)
    if callable(progress):
        return progress(labels, per_agent)
    raise ConfigError(
        f"compare: progress must be True, False or a function (rows, runs_per_row) -> view, got {progress!r}"
    )
