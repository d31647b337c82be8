"""A run's trace as a waterfall: static HTML with an inline SVG, a table of details, a text twin.

It reads `RunResult.trace` only (and `tool_calls` for a tool's arguments and result), so a run
loaded from history or from an export draws exactly as it did in the session that made it.
Each span is one row: its turn first, then that turn's model call and tool calls. A bar starts
at the span's start and is as long as its duration, on one time scale for the whole run; its
colour says the outcome. Tool calls that ran at the same time (parallel calls) sit on adjacent
rows with overlapping bars and are marked "∥"; a model call that was retried shows "↻N".

Static on purpose: no script, nothing fetched; geometry and colours are SVG attributes, so the
drawing survives GitHub's and nbviewer's sanitising of saved notebooks. Hovering a bar shows its
details (an SVG <title>); the same details are in the table below for viewers without hover.
Every name and detail is scrubbed of secrets and its control characters shown inert
(`_secrets.shown`), then escaped. The time axis is labelled in the unit the run's length calls
for: µs for a run under a millisecond, ms under a second.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub_data, shown
from openstackai_nb.render.markdown import esc

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult, Span, ToolCall

__all__ = ["LABEL_WIDTH", "PLOT_WIDTH", "ROW_HEIGHT", "TOP", "TraceView", "trace_bundle", "trace_html", "trace_text"]

LABEL_WIDTH = 220
"""Pixels left of the time axis, for the span names."""
PLOT_WIDTH = 560
"""Pixels of the time axis: the run's whole duration."""
ROW_HEIGHT = 22
"""Pixels per span."""
TOP = 28
"""Pixels above the first row (the time axis)."""
_RIGHT = 120  # room for the duration and outcome after the longest bar
_TEXT_BAR = 40  # characters of the text twin's bars
DETAIL_CHARS = 160
"""Longest detail (arguments, result, error, reasoning) in the hover text and the table."""

_OK_COLOURS = {"turn": "#8c959f", "model": "#0969da", "tool": "#1a7f37"}
"""Bars that ended ok, by kind."""
_COLOURS = {
    "error": "#cf222e",
    "timeout": "#bc4c00",
    "cancelled": "#9a6700",
    "running": "#6e7781",
}
"""Bars that did not end ok, by outcome."""
_CSS = (
    "<style>"
    ".osnb-trace{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:12px;margin:2px 0;"
    "max-width:100%;overflow:auto}"
    ".osnb-trace .osnb-trace-title{font-size:12px;color:#57606a;margin-bottom:4px}"
    ".osnb-trace table{border-collapse:collapse;margin-top:6px;font-size:12px}"
    ".osnb-trace th,.osnb-trace td{border:1px solid #d0d7de;padding:2px 6px;text-align:left!important;"
    "vertical-align:top}"
    ".osnb-trace td.osnb-num{text-align:right!important;font-variant-numeric:tabular-nums}"
    ".osnb-trace td.osnb-details{font-family:var(--jp-code-font-family,monospace);max-width:36em;"
    "overflow-wrap:anywhere}"
    "</style>"
)


@dataclass(frozen=True, slots=True)
class _Row:
    span: Span
    label: str  # scrubbed, not escaped
    depth: int
    details: list[str]  # scrubbed, not escaped
    parallel: int  # how many tool calls of the turn overlap this one (itself included); 0 for others


class TraceView:
    """What `RunResult.show_trace()` returns: shown as the waterfall in a notebook, as text elsewhere.

    As a cell's last expression it displays (and is saved with the notebook); elsewhere,
    `IPython.display.display(view)` or `print(view)`.
    """

    def __init__(self, result: RunResult) -> None:
        self.result = result

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return trace_bundle(self.result)

    def _repr_html_(self) -> str:
        return trace_html(self.result)

    def __repr__(self) -> str:
        return trace_text(self.result)

    @property
    def html(self) -> str:
        """The waterfall as one HTML fragment."""
        return trace_html(self.result)


def trace_bundle(result: RunResult) -> dict[str, str]:
    """The waterfall's mime bundle: text/html and its text/plain twin."""
    return {"text/html": trace_html(result), "text/plain": trace_text(result)}


# -- rows -------------------------------------------------------------------------------------------
def _preview(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(scrub_data(value), ensure_ascii=False, default=str)
    text = " ".join(shown(text).split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def _calls_by_span(spans: Sequence[Span], calls: Sequence[ToolCall]) -> dict[int, ToolCall]:
    """Each tool span's ToolCall: by call id (recorded on the span), else by name and turn in order."""
    by_id = {c.call_id: c for c in calls}
    rest = [c for c in calls if c.call_id not in {s.attributes.get("call_id") for s in spans}]
    out: dict[int, ToolCall] = {}
    for span in spans:
        call = by_id.get(str(span.attributes.get("call_id")))
        if call is None:
            call = next((c for c in rest if c.name == span.name and c.turn == span.turn), None)
            if call is not None:
                rest.remove(call)
        if call is not None:
            out[id(span)] = call
    return out


def _model_details(span: Span) -> list[str]:
    attrs = span.attributes
    out = []
    if attrs.get("finish_reason"):
        out.append(f"finish: {attrs['finish_reason']}")
    for retry in attrs.get("retries") or ():
        out.append(f"retry: {retry}")
    if attrs.get("error"):
        out.append(f"error: {_preview(attrs['error'])}")
    if attrs.get("reasoning"):
        out.append(f"reasoning: {_preview(attrs['reasoning'])}")
    return out


def _tool_details(span: Span, call: ToolCall | None) -> list[str]:
    attrs = span.attributes
    out = [f"call: {shown(str(attrs['call_id']))}"] if attrs.get("call_id") else []
    if call is not None:
        out.append(f"arguments: {_preview(call.arguments)}")
        out.append(f"error: {_preview(call.error)}" if call.error else f"result: {_preview(call.result)}")
    elif attrs.get("error"):
        out.append(f"error: {_preview(attrs['error'])}")
    if attrs.get("blocked_loop_s"):
        out.append(f"blocked the event loop {attrs['blocked_loop_s']}s")
    return out


def _overlaps(span: Span, others: Sequence[Span]) -> int:
    end = span.start + span.duration
    return sum(1 for o in others if o.start < end and span.start < o.start + o.duration)


def _rows(result: RunResult) -> list[_Row]:
    spans = list(result.trace)
    calls = _calls_by_span([s for s in spans if s.kind == "tool"], result.tool_calls)
    order = {"turn": 0, "model": 1, "tool": 2}
    rows: list[_Row] = []
    for span in sorted(spans, key=lambda s: (s.turn, order.get(s.kind, 3), s.start)):
        name = shown(span.name)
        if span.kind == "turn":
            rows.append(_Row(span, name, 0, [], 0))
        elif span.kind == "model":
            retries = len(span.attributes.get("retries") or ())
            label = f"model {name}" + (f" ↻{retries}" if retries else "")
            rows.append(_Row(span, label, 1, [shown(d) for d in _model_details(span)], 0))
        else:
            turn_tools = [s for s in spans if s.kind == "tool" and s.turn == span.turn]
            parallel = _overlaps(span, turn_tools) if len(turn_tools) > 1 else 0
            label = f"tool {name}" + (" ∥" if parallel > 1 else "")
            rows.append(_Row(span, label, 1, _tool_details(span, calls.get(id(span))), parallel))
    return rows


def _total(result: RunResult) -> float:
    ends = [s.start + s.duration for s in result.trace]
    return max([result.elapsed_time, *ends, 1e-9])


def _title(result: RunResult) -> str:
    parts = [f"Trace of {shown(result.run_id)}", result.status.value]
    if result.agent_name:
        parts.append(shown(result.agent_name))
    if result.model:
        parts.append(shown(result.model))
    parts.append(f"{result.turn_count} turn{'s' if result.turn_count != 1 else ''}")
    parts.append(f"{result.elapsed_time:.3f}s")
    return " · ".join(parts)


def _colour(span: Span) -> str:
    if span.outcome == "ok":
        return _OK_COLOURS.get(span.kind, "#0969da")
    return _COLOURS.get(span.outcome, "#6e7781")


def _ticks(total: float) -> list[float]:
    """About five round times across [0, total]."""
    raw = total / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    # (1e-9 of slack both ways: a run of 2.5 ms measured as 0.0025000000000000005 s keeps its 0.5 ms
    # steps, and a tick at the very end counts: 0.0003 / 0.0001 is 2.9999999999999996 in floating point)
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return [i * step for i in range(int(total / step + 1e-9) + 1)]


def _seconds(value: float) -> str:
    """A span's duration: µs below a millisecond, ms below a second, else seconds."""
    if 0 < value < 1e-3:
        return f"{value * 1e6:.0f}µs"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def _tick_label(value: float, total: float) -> str:
    """A tick of the time axis, in the unit the run's span calls for (µs under a millisecond).

    Ticks fall on steps of 1, 2, 2.5 or 5 of a power of ten (`_ticks`), so a label needs up to
    three significant decimals ("0.25ms"), never rounding to a neighbour ("0ms", "0ms").
    """
    if total < 1e-3:
        return f"{round(value * 1e6, 3):g}µs"
    if total < 1 or value < 1:
        return f"{round(value * 1e3, 3):g}ms"
    return f"{value:.2f}s"


# -- HTML -------------------------------------------------------------------------------------------
def trace_html(result: RunResult) -> str:
    """The waterfall of a run as one escaped HTML fragment (SVG bars, then a table of details)."""
    rows = _rows(result)
    head = (
        f"{_CSS}<div class='osnb-trace' data-run-id='{esc(shown(result.run_id))}'>"
        f"<div class='osnb-trace-title'>{esc(_title(result))}</div>"
    )
    if not rows:
        why = "this run kept no trace (RunConfig(trace_enabled=False))" if result.turn_count else "no spans yet"
        return head + f"<div class='osnb-trace-empty'>{esc(why)}</div></div>"
    return head + _svg(rows, _total(result)) + _table(rows) + "</div>"


def _svg(rows: Sequence[_Row], total: float) -> str:
    scale = PLOT_WIDTH / total
    width, height = LABEL_WIDTH + PLOT_WIDTH + _RIGHT, TOP + ROW_HEIGHT * len(rows) + 4
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"role='img' aria-label='trace waterfall' data-total='{total!r}' data-scale='{scale!r}' "
        f"font-family='system-ui, sans-serif' font-size='11'>"
    ]
    for tick in _ticks(total):
        x = LABEL_WIDTH + tick * scale
        label = esc(_tick_label(tick, total))
        out.append(
            f"<line x1='{x:.2f}' y1='{TOP - 6}' x2='{x:.2f}' y2='{height}' stroke='#d0d7de' stroke-width='1'/>"
            f"<text x='{x:.2f}' y='{TOP - 10}' text-anchor='middle' fill='#57606a'>{label}</text>"
        )
    for i, row in enumerate(rows):
        out.append(_bar(i, row, scale))
    out.append("</svg>")
    return "".join(out)


def _bar(i: int, row: _Row, scale: float) -> str:
    span = row.span
    y = TOP + i * ROW_HEIGHT
    x = LABEL_WIDTH + span.start * scale
    bar = max(span.duration * scale, 1.0)
    turn = span.kind == "turn"
    bold = " font-weight='bold'" if turn else ""
    hover = " · ".join(
        [row.label, f"turn {span.turn}", f"start {span.start:.3f}s", f"took {span.duration:.3f}s", span.outcome]
        + row.details
    )
    label = row.label if len(row.label) <= 34 else row.label[:33] + "…"
    return (
        f"<g class='osnb-span' data-kind='{esc(span.kind)}' data-turn='{span.turn}' data-start='{span.start!r}' "
        f"data-duration='{span.duration!r}' data-outcome='{esc(span.outcome)}' data-parallel='{row.parallel}'>"
        f"<title>{esc(hover)}</title>"
        f"<text x='{4 + 12 * row.depth}' y='{y + 15}' fill='currentColor'{bold}>{esc(label)}</text>"
        f"<rect x='{x:.2f}' y='{y + (7 if turn else 4)}' width='{bar:.2f}' height='{6 if turn else 14}' rx='2' "
        f"fill='{_colour(span)}'/>"
        f"<text x='{x + bar + 4:.2f}' y='{y + 15}' fill='{'#57606a' if span.outcome == 'ok' else _colour(span)}'>"
        f"{esc(_seconds(span.duration))}{'' if span.outcome == 'ok' else ' ' + esc(span.outcome)}</text>"
        "</g>"
    )


def _table(rows: Sequence[_Row]) -> str:
    body = []
    for row in rows:
        span = row.span
        colour = _colour(span) if span.outcome != "ok" else "#1a7f37"
        indent = "&nbsp;&nbsp;" * row.depth
        body.append(
            "<tr>"
            f"<td>{indent}{esc(row.label)}</td>"
            f"<td class='osnb-num'>{span.turn}</td>"
            f"<td class='osnb-num'>{span.start:.3f}s</td>"
            f"<td class='osnb-num'>{span.duration:.3f}s</td>"
            f"<td style='color:{colour}'>{esc(span.outcome)}</td>"
            f"<td class='osnb-details'>{'<br>'.join(esc(d) for d in row.details)}</td>"
            "</tr>"
        )
    return (
        "<table class='osnb-trace-table'><thead><tr><th>span</th><th>turn</th><th>start</th><th>duration</th>"
        "<th>outcome</th><th>details</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


# -- text -------------------------------------------------------------------------------------------
def trace_text(result: RunResult) -> str:
    """The waterfall as plain text: one line per span with a bar of characters."""
    rows = _rows(result)
    lines = [_title(result)]
    if not rows:
        return lines[0] + "\n(no spans: this run kept no trace)"
    total = _total(result)
    width = max(len("  " * r.depth + r.label) for r in rows)
    for row in rows:
        span = row.span
        first = round(span.start / total * _TEXT_BAR)
        length = max(1, round(span.duration / total * _TEXT_BAR))
        bar = (" " * first + ("=" if span.kind == "turn" else "#") * length)[:_TEXT_BAR].ljust(_TEXT_BAR)
        name = ("  " * row.depth + row.label).ljust(width)
        lines.append(f"{name}  |{bar}|  {span.start:7.3f}s +{span.duration:.3f}s  {span.outcome}")
    return "\n".join(lines)
