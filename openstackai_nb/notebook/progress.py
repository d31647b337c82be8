"""The progress view of `compare()`: a live table in a notebook, a progress line in a terminal.

In a Jupyter kernel (or Colab) the table is one display output updated in place through a
display id (`display(..., display_id=True)` then `handle.update(...)`), at most 4 times a
second: no widget front end is needed, and the final table stays in the saved notebook.
Everywhere else one line on stderr (rewritten in place when stderr is a terminal; printed
once at the end otherwise). Every agent name and model output is scrubbed of secrets, its
control characters made inert (`_secrets.shown`), and escaped before it becomes HTML. The view
only reads events; it never drives the runs.

When the runs are scored as they finish (`finished(label, result, score)`), each agent's row
also shows the running mean ± 95% CI of its scores: over the runs so far (not per case, as
`summarize` does at the end: a live view cannot wait for a case's repeats), with the Student-t
interval of `comparison.intervals`. The terminal line shows the same ("score A 0.72 ± 0.05").
"""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import shown
from openstackai_nb.comparison.intervals import RunningMean
from openstackai_nb.notebook import is_jupyter
from openstackai_nb.render.progress import ProgressRow, compare_progress_html

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["CompareProgress", "make_progress"]

_MIN_INTERVAL = 0.25  # seconds between two updates of the view


class _AgentRow:
    __slots__ = ("completion", "done", "elapsed", "failed", "last", "model", "prompt", "running", "scores")

    def __init__(self) -> None:
        self.done = self.failed = self.running = 0
        self.prompt = self.completion = 0
        self.elapsed = 0.0
        self.model = ""
        self.last = ""
        self.scores = RunningMean()

    def score_text(self) -> str:
        """The running mean and the 95% CI half width ("0.72 ± 0.05"; "0.72" with one score, "" with none)."""
        if not self.scores.n:
            return ""
        half = self.scores.half_width()
        return f"{self.scores.mean:.2f}" + ("" if math.isnan(half) else f" ± {half:.2f}")


class CompareProgress:
    """Counts of a comparison per agent, drawn by a subclass (`_draw`)."""

    def __init__(self, labels: list[str], per_agent: int) -> None:
        self.rows = {label: _AgentRow() for label in labels}
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
        row.model = shown(result.model) or row.model
        text = result.output_text if result.succeeded else (result.error or "")
        row.last = " ".join(shown(text or "").split())
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
                model=r.model,
                done=r.done,
                total=self.per_agent,
                running=r.running,
                failed=r.failed,
                elapsed=r.elapsed,
                tokens=r.prompt + r.completion,
                latest=r.last,
                score_mean=r.scores.mean,
                score_half=r.scores.half_width(),
                scored=r.scores.n,
            )
            for label, r in self.rows.items()
        ]
        return compare_progress_html(self.summary(final=final, interrupted=interrupted), rows, scores=self.scored)

    def _draw(self, *, final: bool, interrupted: bool = False) -> None:
        raise NotImplementedError


class _NullProgress(CompareProgress):
    def _draw(self, *, final: bool, interrupted: bool = False) -> None:
        return None


class _TerminalProgress(CompareProgress):
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
    """The progress view for this environment: notebook table, terminal line, or nothing."""
    if not enabled:
        return _NullProgress(labels, per_agent)
    if is_jupyter():
        return _NotebookProgress(labels, per_agent)
    return _TerminalProgress(labels, per_agent)
