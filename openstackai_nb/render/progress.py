"""The HTML of `compare()`'s live progress table (one row per agent), from plain counts.

With scores, a column "score (mean ± 95% CI, runs so far)": the running mean over the scored
runs so far and the half width of its Student-t interval (the caller computes both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from openstackai_nb.render.markdown import esc

__all__ = ["ProgressRow", "compare_progress_html"]

_STYLE = (
    "<style>.osnb-cmp table{border-collapse:collapse;font-size:12px}"
    ".osnb-cmp th,.osnb-cmp td{padding:2px 8px;text-align:left;"
    "border-bottom:1px solid var(--jp-border-color2,#ddd)}"
    ".osnb-cmp .bar{display:inline-block;height:8px;background:#4c8bf5;vertical-align:middle}"
    ".osnb-cmp .fail{color:#c62828}</style>"
)
_HEAD = (
    "<table><thead><tr><th>agent</th><th>model</th><th>progress</th><th>done</th><th>in flight</th>"
    "<th>failed</th><th>mean time</th><th>tokens</th>{score}<th>latest answer</th></tr></thead><tbody>"
)
SCORE_TITLE = "score (mean ± 95% CI, runs so far)"
"""The title of the score column: a running per-run statistic, not `summarize`'s per-case one."""


@dataclass(frozen=True, slots=True)
class ProgressRow:
    """One agent's counts, already scrubbed of secrets (the caller's duty)."""

    agent: str
    model: str
    done: int
    total: int
    running: int
    failed: int
    elapsed: float
    """Seconds summed over the finished runs."""
    tokens: int
    latest: str
    """The latest answer (or error), on one line."""
    score_mean: float = math.nan
    """The mean of the scores so far (NaN: none yet)."""
    score_half: float = math.nan
    """Half the width of the scores' 95% CI (NaN below two scores)."""
    scored: int = 0
    """Runs scored so far."""


def compare_progress_html(summary: str, rows: Sequence[ProgressRow], *, scores: bool = False) -> str:
    """Return the escaped HTML table: a summary line, then a bar and counts per agent.

    Args:
        summary: the line above the table.
        rows: one per agent.
        scores: show the score column (the runs are scored as they finish).
    """
    head = _HEAD.format(score=f"<th>{esc(SCORE_TITLE)}</th>" if scores else "")
    out = [_STYLE, '<div class="osnb-cmp">', f"<div><b>{esc(summary)}</b></div>", head]
    for r in rows:
        width = int(80 * r.done / r.total) if r.total else 80
        mean = f"{r.elapsed / r.done:.2f}s" if r.done else ""
        latest = r.latest if len(r.latest) <= 80 else r.latest[:77] + "..."
        failed = f'<span class="fail">{r.failed}</span>' if r.failed else "0"
        out.append(
            f"<tr><td>{esc(r.agent)}</td><td>{esc(r.model)}</td>"
            f'<td><span class="bar" style="width:{width}px"></span></td>'
            f"<td>{r.done}/{r.total}</td><td>{r.running}</td><td>{failed}</td><td>{mean}</td>"
            f"<td>{r.tokens}</td>{_score_cell(r) if scores else ''}<td>{esc(latest)}</td></tr>"
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _score_cell(r: ProgressRow) -> str:
    if not r.scored or math.isnan(r.score_mean):
        return "<td></td>"
    half = "" if math.isnan(r.score_half) else f" ± {r.score_half:.2f}"
    return f'<td title="{r.scored} scored runs">{r.score_mean:.2f}{half}</td>'
