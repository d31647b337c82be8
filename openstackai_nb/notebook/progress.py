"""The progress view of `compare()`: a live table in a notebook, a progress line in a terminal.

In a Jupyter kernel (or Colab) the table is one display output updated in place through a
display id (`display(..., display_id=True)` then `handle.update(...)`), at most 4 times a
second: no widget front end is needed, and the final table stays in the saved notebook.
Everywhere else one line on stderr (rewritten in place when stderr is a terminal; printed
once at the end otherwise). Every agent name and model output is scrubbed of secrets
(`_secrets.scrub`) and escaped before it becomes HTML. The view only reads events; it never
drives the runs.
"""

from __future__ import annotations

import html
import sys
import time
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub

if TYPE_CHECKING:
    from openstackai_nb.runner.result import RunResult

__all__ = ["CompareProgress", "in_notebook", "make_progress"]

_MIN_INTERVAL = 0.25  # seconds between two updates of the view


def in_notebook() -> bool:
    """True inside a Jupyter kernel or Colab (a front end that renders HTML outputs)."""
    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    if shell is None:
        return False
    name = type(shell).__name__
    return name == "ZMQInteractiveShell" or "google.colab" in type(shell).__module__


class _AgentRow:
    __slots__ = ("completion", "done", "elapsed", "failed", "last", "model", "prompt", "running")

    def __init__(self) -> None:
        self.done = self.failed = self.running = 0
        self.prompt = self.completion = 0
        self.elapsed = 0.0
        self.model = ""
        self.last = ""


class CompareProgress:
    """Counts of a comparison per agent, drawn by a subclass (`_draw`)."""

    def __init__(self, labels: list[str], per_agent: int) -> None:
        self.rows = {label: _AgentRow() for label in labels}
        self.shown = {label: scrub(label) for label in labels}
        """Each label as the view shows it (scrubbed)."""
        self.per_agent = per_agent
        self.total = per_agent * len(labels)
        self.t0 = time.monotonic()
        self._last_draw = 0.0
        self._dirty = True
        self.closed = False

    # events -------------------------------------------------------------------------------------
    def started(self, label: str) -> None:
        """A run of `label` started."""
        self.rows[label].running += 1
        self._dirty = True

    def finished(self, label: str, result: RunResult) -> None:
        """A run of `label` ended with `result`."""
        row = self.rows[label]
        row.running = max(0, row.running - 1)
        row.done += 1
        if result.status.value != "COMPLETED":
            row.failed += 1
        row.prompt += result.usage.prompt_tokens
        row.completion += result.usage.completion_tokens
        row.elapsed += result.elapsed_time
        row.model = scrub(result.model) or row.model
        text = result.final_output if result.succeeded else (result.error or "")
        row.last = " ".join(scrub(text or "").split())
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
        return ", ".join(parts)

    def text(self, *, final: bool, interrupted: bool = False) -> str:
        """The plain-text twin of the table."""
        lines = [self.summary(final=final, interrupted=interrupted)]
        for label, r in self.rows.items():
            failed = f", {r.failed} failed" if r.failed else ""
            lines.append(f"  {self.shown[label]}: {r.done}/{self.per_agent} done{failed}")
        return "\n".join(lines)

    def html(self, *, final: bool, interrupted: bool = False) -> str:
        """The escaped HTML table."""
        e = html.escape
        out = [
            _STYLE,
            '<div class="osnb-cmp">',
            f"<div><b>{e(self.summary(final=final, interrupted=interrupted))}</b></div>",
        ]
        out.append(
            "<table><thead><tr><th>agent</th><th>model</th><th>progress</th><th>done</th><th>in flight</th>"
            "<th>failed</th><th>mean time</th><th>tokens</th><th>latest answer</th></tr></thead><tbody>"
        )
        for label, r in self.rows.items():
            width = int(80 * r.done / self.per_agent) if self.per_agent else 80
            mean = f"{r.elapsed / r.done:.2f}s" if r.done else ""
            last = r.last if len(r.last) <= 80 else r.last[:77] + "..."
            failed = f'<span class="fail">{r.failed}</span>' if r.failed else "0"
            out.append(
                f"<tr><td>{e(self.shown[label], quote=True)}</td><td>{e(r.model, quote=True)}</td>"
                f'<td><span class="bar" style="width:{width}px"></span></td>'
                f"<td>{r.done}/{self.per_agent}</td><td>{r.running}</td><td>{failed}</td><td>{mean}</td>"
                f"<td>{r.prompt + r.completion}</td><td>{e(last, quote=True)}</td></tr>"
            )
        out.append("</tbody></table></div>")
        return "".join(out)

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


_STYLE = (
    "<style>.osnb-cmp table{border-collapse:collapse;font-size:12px}"
    ".osnb-cmp th,.osnb-cmp td{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}"
    ".osnb-cmp .bar{display:inline-block;height:8px;background:#4c8bf5;vertical-align:middle}"
    ".osnb-cmp .fail{color:#c62828}</style>"
)


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
    if in_notebook():
        return _NotebookProgress(labels, per_agent)
    return _TerminalProgress(labels, per_agent)
