"""One self-contained HTML report of runs, to mail or attach: `write_report(runs, path)`.

The file has no script and no external URL: inline CSS, figures embedded as base64 PNG. Each
run gets `render.runs`' card (status line, input, answer, error, tool table: the same view as in
the notebook) and its whole conversation in a collapsible transcript. Every model, tool and user
string is escaped (`html.escape(quote=True)`) and the finished page is scrubbed of secrets, its
control characters made inert (`_secrets.shown`), so a `<script>` in an answer stays text, no key
reaches the file and no ANSI sequence or bidi override acts on a reader's terminal or browser.

`RunHistory.to_html(path, runs=None)` calls `write_report`.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub_data, shown
from openstackai_nb.render import runs as render
from openstackai_nb.render.markdown import esc as _esc
from openstackai_nb.render.tools import preview

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["render_report", "write_report"]

Figure = Any
"""A matplotlib Figure, PNG bytes, or a `(caption, figure)` pair."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:960px;
padding:0 16px;color:#1f2328;line-height:1.45}
h1{font-size:22px;margin-bottom:4px}
h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a;font-size:13px}
table.summary{border-collapse:collapse;font-size:13px;margin:12px 0}
table.summary th,table.summary td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
table.summary td.num{text-align:right}
figure{margin:16px 0}
figure img{max-width:100%;border:1px solid #d0d7de}
figcaption{color:#57606a;font-size:13px}
details.transcript{margin:6px 0 0;font-size:13px}
details.transcript summary{cursor:pointer;color:#57606a}
.msg{margin:6px 0;padding:4px 8px;border-left:3px solid #d0d7de;white-space:pre-wrap;
overflow-wrap:anywhere}
.msg .role{font-weight:600;font-size:12px;color:#57606a;display:block}
.msg.user{border-color:#0969da}.msg.assistant{border-color:#1a7f37}.msg.tool{border-color:#9a6700}
.msg.system{border-color:#8c959f}
"""


def _as_result(run: RunResult | Mapping[str, Any]) -> RunResult:
    from openstackai_nb.results import RunResult

    if isinstance(run, RunResult):
        return run
    if isinstance(run, Mapping):
        return RunResult.from_dict(dict(run))
    raise TypeError(f"a report takes RunResults (or their to_dict()), got {type(run).__name__}")


def _png(figure: Any) -> bytes:
    if isinstance(figure, bytes | bytearray | memoryview):
        data = bytes(figure)
        if not data.startswith(_PNG_MAGIC):
            raise ValueError("figure bytes must be a PNG image")
        return data
    savefig = getattr(figure, "savefig", None)
    if savefig is None:  # e.g. a matplotlib Axes: take its figure
        savefig = getattr(getattr(figure, "figure", None), "savefig", None)
    if savefig is None:
        raise TypeError(f"a figure must be a matplotlib Figure or PNG bytes, got {type(figure).__name__}")
    buf = io.BytesIO()
    savefig(buf, format="png", bbox_inches="tight", dpi=100)
    return buf.getvalue()


def _figure_html(item: Any, index: int) -> str:
    caption = ""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        caption, item = item
    data = base64.b64encode(_png(item)).decode("ascii")
    alt = caption or f"figure {index}"
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f"<figure><img alt='{_esc(alt)}' src='data:image/png;base64,{data}'>{cap}</figure>"


def _transcript_html(result: RunResult) -> str:
    if not result.messages:
        return ""
    parts = []
    for m in result.messages:
        role = m.role if m.role != "tool" else f"tool {m.name or ''}".strip()
        body = _esc(m.content or "")
        for c in m.tool_calls:
            body += ("\n" if body else "") + f"→ {_esc(c.name)}({_esc(c.arguments)})"
        parts.append(f"<div class='msg {_esc(m.role)}'><span class='role'>{_esc(role)}</span>{body}</div>")
    n = len(result.messages)
    return (
        f"<details class='transcript'><summary>transcript ({n} message{'s' if n != 1 else ''})</summary>"
        + "".join(parts)
        + "</details>"
    )


def _summary_html(results: list[RunResult]) -> str:
    rows = []
    for i, r in enumerate(results, start=1):
        rows.append(
            "<tr>"
            f"<td><a href='#run-{i}'>{i}</a></td><td>{_esc(r.agent_name)}</td><td>{_esc(r.model)}</td>"
            f"<td>{_esc(preview(r.input, 60))}</td><td>{_esc(r.status.value)}</td>"
            f"<td class='num'>{r.turn_count}</td><td class='num'>{len(r.tool_calls)}</td>"
            f"<td class='num'>{r.usage.prompt_tokens + r.usage.completion_tokens}</td>"
            f"<td class='num'>{r.elapsed_time:.2f}s</td>"
            "</tr>"
        )
    return (
        "<table class='summary'><thead><tr><th>#</th><th>agent</th><th>model</th><th>input</th>"
        "<th>status</th><th>turns</th><th>tools</th><th>tokens</th><th>time</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_report(
    runs: Iterable[RunResult | Mapping[str, Any]],
    *,
    title: str = "openstackai-nb runs",
    figures: Iterable[Figure] = (),
) -> str:
    """Return the report as one HTML page (see `write_report`)."""
    results = [_as_result(r) for r in runs]
    # Scrub every string of every run first, so neither the card nor the transcript can show a key.
    results = [_as_result(scrub_data(r.to_dict())) for r in results]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    n = len(results)
    body = [
        f"<h1>{_esc(title)}</h1>",
        f"<p class='meta'>{n} run{'s' if n != 1 else ''} · generated {_esc(now)} by openstackai-nb</p>",
    ]
    figs = [_figure_html(f, i) for i, f in enumerate(figures, start=1)]
    if results:
        body.append(_summary_html(results))
    if figs:
        body.append("<h2>Figures</h2>")
        body.extend(figs)
    for i, r in enumerate(results, start=1):
        body.append(f"<h2 id='run-{i}'>Run {i}: {_esc(r.agent_name)}</h2>")
        body.append(f"<p class='meta'>run_id {_esc(r.run_id)} · started {_esc(r.started_at.isoformat())}</p>")
        body.append(render.run_html(r))
        body.append(_transcript_html(r))
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title><style>{_PAGE_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
    return shown(page)


def write_report(
    runs: Iterable[RunResult | Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str = "openstackai-nb runs",
    figures: Iterable[Figure] = (),
) -> Path:
    """Write one self-contained HTML file of runs: transcripts, tool tables, status, figures.

    Args:
        runs: RunResults (a RunHistory, a list, `history.filter(...)`) or their `to_dict()`s.
        path: the HTML file to write (parent folders are created).
        title: the page's title and heading.
        figures: matplotlib Figures (or Axes), PNG bytes, or `(caption, figure)` pairs, embedded
            as base64 PNG.

    Returns:
        The path written.

    Example:
        >>> write_report(history, "report.html", figures=[("tokens per run", fig)])  # doctest: +SKIP
    """
    page = render_report(runs, title=title, figures=figures)
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
