"""The static HTML of `summarize()` and `paired()` results: a table, each CI drawn as a bar, a caption.

Built from plain values (no pandas here). Every string shown (group names, case ids, column and
metric names, the caption) is scrubbed of secrets, its control characters made inert
(`_secrets.shown`), and escaped; numbers are
formatted here. The bar is a small inline SVG (a line from ci_low to ci_high, a dot at the
mean; one scale for every row of a table, with 0 marked when it is in range; the dot and the 0 mark
in the text's colour, so light and dark themes both show them) whose `<title>`
repeats the numbers; the numbers are also in their own columns, so a renderer that drops SVG or
styles (GitHub sanitizes notebook HTML) still shows everything. No JavaScript, no external file:
the table is saved with the notebook.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from openstackai_nb._secrets import shown
from openstackai_nb.render.markdown import esc

__all__ = ["ci_bar_svg", "format_value", "paired_html", "summary_html"]

BAR_WIDTH = 140
"""Width of a CI bar in pixels."""
_BAR_HEIGHT = 14
_STYLE = (
    "<style>.osnb-eval{font-size:12px}.osnb-eval table{border-collapse:collapse}"
    ".osnb-eval th,.osnb-eval td{padding:2px 8px;text-align:right;"
    "border-bottom:1px solid var(--jp-border-color2,rgba(128,128,128,.35))}"
    ".osnb-eval th.osnb-key,.osnb-eval td.osnb-key{text-align:left}"
    ".osnb-eval caption{caption-side:bottom;text-align:left;opacity:.75;padding-top:4px}</style>"
)
_BAR_AFTER = "ci_high"  # the bar column follows this column


def _text(value: object) -> str:
    return esc(shown(str(value)))


def format_value(value: object) -> str:
    """A cell's text (unescaped): integers as they are, other numbers to 4 significant digits, NaN as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return ""
        return f"{x:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) if value else "none"
    return str(value)


def _number(value: object) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _scale(points: Sequence[float], *, around_zero: bool) -> tuple[float, float]:
    """The bar's domain: [0, 1] when everything is inside it, else the points' span (padded)."""
    finite = [p for p in points if math.isfinite(p)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if around_zero:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m * 1.05, m * 1.05
    if 0.0 <= lo and hi <= 1.0:
        return 0.0, 1.0
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    return lo - pad, hi + pad


def ci_bar_svg(mean: float, low: float, high: float, domain: tuple[float, float], *, label: str = "") -> str:
    """An inline SVG: a line from `low` to `high`, a dot at `mean`, 0 marked when inside `domain`.

    Args:
        mean: the point estimate (NaN: no dot).
        low: the interval's lower end (NaN: no line).
        high: the interval's upper end.
        domain: the values at the bar's left and right ends.
        label: what the numbers are (escaped here); the `<title>` is "label mean [low, high]".
    """
    d0, d1 = domain
    span = (d1 - d0) or 1.0

    def x(v: float) -> float:
        return 4.0 + (BAR_WIDTH - 8.0) * min(1.0, max(0.0, (v - d0) / span))

    y = _BAR_HEIGHT / 2
    title = f"{label} {format_value(mean)} [{format_value(low)}, {format_value(high)}]".strip()
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{BAR_WIDTH}" height="{_BAR_HEIGHT}" '
        f'viewBox="0 0 {BAR_WIDTH} {_BAR_HEIGHT}" role="img" aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
        f'<line x1="{x(d0):.1f}" y1="{y}" x2="{x(d1):.1f}" y2="{y}" stroke="#888" stroke-opacity="0.35"/>',
    ]
    if d0 < 0.0 < d1:
        parts.append(f'<line x1="{x(0.0):.1f}" y1="1" x2="{x(0.0):.1f}" y2="{_BAR_HEIGHT - 1}" stroke="currentColor"/>')
    if math.isfinite(low) and math.isfinite(high):
        parts.append(
            f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" stroke="#3b82d6" stroke-width="4"/>'
        )
    if math.isfinite(mean):
        parts.append(f'<circle cx="{x(mean):.1f}" cy="{y}" r="3.5" fill="currentColor"/>')
    parts.append("</svg>")
    return "".join(parts)


def summary_html(
    index_names: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[tuple[Sequence[object], Sequence[object]]],
    caption: str,
) -> str:
    """The HTML table of a summary: key columns, then the value columns with a CI bar after ci_high.

    Args:
        index_names: the names of the group key columns (e.g. ["agent"]).
        columns: the value columns, in order.
        rows: per group, (its key values, its values in `columns` order).
        caption: the line under the table (metric, method, seed, notes).
    """
    has_bar = all(c in columns for c in ("mean", "ci_low", "ci_high"))
    at = {c: i for i, c in enumerate(columns)}
    domain = (0.0, 1.0)
    if has_bar:
        points = [_number(vals[at[c]]) for _, vals in rows for c in ("mean", "ci_low", "ci_high")]
        domain = _scale(points, around_zero=False)
    head = [f'<th class="osnb-key">{_text(n)}</th>' for n in index_names]
    for c in columns:
        head.append(f"<th>{_text(c)}</th>")
        if has_bar and c == _BAR_AFTER:
            head.append(f"<th>{_text(f'CI (scale {format_value(domain[0])} to {format_value(domain[1])})')}</th>")
    out = [_STYLE, '<div class="osnb-eval"><table>']
    if caption:
        out.append(f"<caption>{_text(caption)}</caption>")
    out.append("<thead><tr>" + "".join(head) + "</tr></thead><tbody>")
    for key, vals in rows:
        cells = [f'<td class="osnb-key">{_text(format_value(k))}</td>' for k in key]
        for c, v in zip(columns, vals, strict=True):
            cells.append(f"<td>{_text(format_value(v))}</td>")
            if has_bar and c == _BAR_AFTER:
                mean, low, high = (_number(vals[at[n]]) for n in ("mean", "ci_low", "ci_high"))
                label = " / ".join(format_value(k) for k in key)
                cells.append(f"<td>{ci_bar_svg(mean, low, high, domain, label=label)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def paired_html(name: str, fields: Sequence[tuple[str, object]], caption: str) -> str:
    """The HTML of a paired comparison: one row per field, the CI of the difference as a bar.

    Args:
        name: what is compared ("a vs b").
        fields: (field, value) pairs in order (n, mean_diff, ci_low, ci_high, p_value, ...).
        caption: the line under the table.
    """
    values = dict(fields)
    out = [_STYLE, '<div class="osnb-eval"><table>']
    if caption:
        out.append(f"<caption>{_text(caption)}</caption>")
    out.append(f'<thead><tr><th class="osnb-key" colspan="2">{_text(name)}</th></tr></thead><tbody>')
    for field, value in fields:
        out.append(f'<tr><th class="osnb-key">{_text(field)}</th><td>{_text(format_value(value))}</td></tr>')
        if field == _BAR_AFTER and all(k in values for k in ("mean_diff", "ci_low")):
            mean, low, high = (_number(values[k]) for k in ("mean_diff", "ci_low", "ci_high"))
            domain = _scale([mean, low, high], around_zero=True)
            bar = ci_bar_svg(mean, low, high, domain, label=f"{name} mean_diff")
            scale = f"CI (scale {format_value(domain[0])} to {format_value(domain[1])}, 0 marked)"
            out.append(f'<tr><th class="osnb-key">{_text(scale)}</th><td>{bar}</td></tr>')
    out.append("</tbody></table></div>")
    return "".join(out)
