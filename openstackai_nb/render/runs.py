"""Static HTML, markdown and plain text of runs: the only place that formats a run for display.

`RunResult._repr_html_`/`_repr_markdown_`, the end-of-run bundle of `%%agent` and `%agent last`
all call this module; it uses only the stdlib so those callers can import it lazily (the run
loop never imports it). Model and tool text is untrusted: every such string goes through
`html.escape(quote=True)` before it becomes HTML, and through the same escape in markdown, so a
`<script>` in an answer stays visible text everywhere. Markdown formatting of the final answer
is `render.markdown`'s.

Secrets: every string of a run (status line, input, answer, error, tool arguments and results)
goes through `_secrets.scrub` before it is formatted, so no view of a run shows a key, whatever
the tool, the model or the error put into it. Scrubbing comes first because escaping, markdown
quoting and the preview's cut could otherwise split a key or change its bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub, scrub_data
from openstackai_nb.render.markdown import esc as _esc
from openstackai_nb.render.markdown import markdown_to_html

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult, ToolCall

__all__ = [
    "preview",
    "run_bundle",
    "run_html",
    "run_markdown",
    "run_text",
    "status_line",
    "tool_rows",
]

PREVIEW_CHARS = 120
"""Longest preview of a tool's arguments or result in the tool table."""
OUTPUT_CHARS = 100_000
"""Longest final output kept in a static bundle (the RunResult keeps all of it)."""

_FINISH_WORDS = {
    "length": "cut at the token limit",
    "content_filter": "stopped by a content filter",
    "refusal": "refused",
}
"""How the status line says a finish reason that makes an answer incomplete."""

_STATUS_COLOURS = {
    "COMPLETED": "#1a7f37",
    "FAILED": "#cf222e",
    "CANCELLED": "#9a6700",
    "RUNNING": "#0969da",
    "QUEUED": "#57606a",
}


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """Return a one-line preview of a tool argument or result, at most `limit` characters.

    Example:
        >>> preview({"city": "Paris"})
        '{"city": "Paris"}'
    """
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def _tokens(result: RunResult) -> int:
    return result.usage.prompt_tokens + result.usage.completion_tokens


def status_line(
    status: str,
    *,
    model: str = "",
    turns: int = 0,
    tokens: int | None = None,
    elapsed: float | None = None,
    agent: str = "",
    note: str = "",
    finish_reason: str | None = None,
) -> str:
    """Return the one-line status shown above a run, as plain text.

    A finish reason that makes a COMPLETED answer incomplete is said in words: "cut at the
    token limit" (length), "stopped by a content filter" (content_filter), "refused" (refusal).

    Example:
        >>> status_line("COMPLETED", model="scripted", turns=2, tokens=40, elapsed=0.5)
        'COMPLETED · scripted · 2 turns · 40 tokens · 0.50s'
        >>> status_line("COMPLETED", turns=1, finish_reason="length")
        'COMPLETED · 1 turn · cut at the token limit'
    """
    parts = [status]
    if agent:
        parts.append(agent)
    if model:
        parts.append(model)
    parts.append(f"{turns} turn{'s' if turns != 1 else ''}")
    if tokens is not None:
        parts.append(f"{tokens} tokens")
    if elapsed is not None:
        parts.append(f"{elapsed:.2f}s")
    if finish_reason in _FINISH_WORDS:
        parts.append(_FINISH_WORDS[finish_reason])
    line = " · ".join(parts)
    return f"{line} · {note}" if note else line


def _result_status(result: RunResult, note: str = "") -> str:
    return scrub(_status_of(result, note))


def _status_of(result: RunResult, note: str) -> str:
    return status_line(
        result.status.value,
        model=result.model,
        turns=result.turn_count,
        tokens=_tokens(result),
        elapsed=result.elapsed_time,
        agent=result.agent_name,
        note=note,
        finish_reason=result.finish_reason,
    )


def tool_rows(tool_calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Return the tool table's rows (name, arguments, result preview, status, duration) as plain data.

    Secrets are scrubbed from the values before they are cut to a preview.
    """
    rows = []
    for c in tool_calls:
        rows.append(
            {
                "call_id": scrub(c.call_id),
                "name": scrub(c.name),
                "args": preview(scrub_data(c.arguments)),
                "status": "ok" if c.error is None else "error",
                "result": preview(scrub(c.error) if c.error is not None else scrub_data(c.result)),
                "duration": c.elapsed_time,
            }
        )
    return rows


def _clip(text: str, limit: int = OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n\n[… {len(text) - limit} more characters in the RunResult]"


def _answer(result: RunResult, *, fenced: bool) -> str:
    """The answer to show, scrubbed and clipped: its text; a typed answer as indented JSON.

    Fenced, the JSON is a ```json code block: its lines never start with a backtick (JSON
    strings escape newlines), so no answer can close the fence, and markdown shows a code
    block's content as text.
    """
    if not result.typed:
        return _clip(scrub(result.output_text or ""))
    value = result.model_dump(mode="json", include={"final_output"})["final_output"]
    text = _clip(json.dumps(scrub_data(value), indent=2, ensure_ascii=False))
    return f"```json\n{text}\n```" if fenced else text


# -- HTML ------------------------------------------------------------------------------------
_CSS = (
    "<style>"
    ".osnb-run{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;line-height:1.45;"
    "border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:2px 0;max-width:100%;overflow:auto}"
    ".osnb-run .osnb-status{font-size:12px;color:#57606a;margin-bottom:6px}"
    ".osnb-run .osnb-input{color:#57606a;white-space:pre-wrap;margin:0 0 6px;font-style:italic}"
    ".osnb-run .osnb-error{color:#cf222e;white-space:pre-wrap;margin:6px 0}"
    ".osnb-run table{border-collapse:collapse;margin-top:8px;font-size:12px}"
    ".osnb-run th,.osnb-run td{border:1px solid #d0d7de;padding:2px 6px;text-align:left!important;vertical-align:top}"
    ".osnb-run td.osnb-prev{font-family:var(--jp-code-font-family,monospace);max-width:28em;"
    "overflow-wrap:anywhere}"
    "</style>"
)


def _tool_table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    body = []
    for r in rows:
        colour = "#1a7f37" if r["status"] == "ok" else "#cf222e" if r["status"] == "error" else "#0969da"
        duration = f"{r['duration']:.2f}s" if r.get("duration") is not None else ""
        body.append(
            "<tr>"
            f"<td>{_esc(r['name'])}</td>"
            f"<td class='osnb-prev'>{_esc(r['args'])}</td>"
            f"<td class='osnb-prev'>{_esc(r['result'])}</td>"
            f"<td style='color:{colour}'>{_esc(r['status'])}</td>"
            f"<td>{_esc(duration)}</td>"
            "</tr>"
        )
    return (
        "<table class='osnb-tools'><thead><tr><th>tool</th><th>arguments</th><th>result</th>"
        "<th>status</th><th>time</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def run_html(result: RunResult, *, note: str = "", show_input: bool = True) -> str:
    """Return the run as one self-contained, escaped HTML fragment.

    Holds the status line, the input, the final output (markdown rendered safely), the error
    and the tool table.
    """
    status = result.status.value
    colour = _STATUS_COLOURS.get(status, "#57606a")
    parts = [
        _CSS,
        f"<div class='osnb-run' data-run-id='{_esc(scrub(result.run_id))}'>",
        f"<div class='osnb-status'><b style='color:{colour}'>{_esc(status)}</b>"
        f"{_esc(_result_status(result, note)[len(status) :])}</div>",
    ]
    if show_input and result.input:
        parts.append(f"<div class='osnb-input'>&gt; {_esc(preview(scrub(result.input), 300))}</div>")
    if result.output_text:
        parts.append(f"<div class='osnb-output'>{markdown_to_html(_answer(result, fenced=True))}</div>")
    if result.error:
        parts.append(f"<div class='osnb-error'>{_esc(scrub(result.error))}</div>")
    parts.append(_tool_table_html(tool_rows(result.tool_calls)))
    parts.append("</div>")
    return "".join(parts)


# -- markdown --------------------------------------------------------------------------------
def _md_text(text: str) -> str:
    # Escape HTML so raw tags in model text stay text (markdown renderers show &quot; as ");
    # markdown syntax itself is kept.
    return _esc(text)


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("`", "\\`")


def run_markdown(result: RunResult, *, note: str = "", show_input: bool = True) -> str:
    """Return the run as markdown (HTML in model or tool text is escaped, so it stays text)."""
    status = _result_status(result, note)
    parts = [f"**{_esc(result.status.value)}**{_esc(status[len(result.status.value) :])}", ""]
    if show_input and result.input:
        parts += [f"> {_md_text(preview(scrub(result.input), 300))}", ""]
    if result.output_text:
        answer = _answer(result, fenced=True)
        parts += [answer if result.typed else _md_text(answer), ""]
    if result.error:
        parts += [f"**Error:** {_md_text(' '.join(scrub(result.error).split()))}", ""]
    rows = tool_rows(result.tool_calls)
    if rows:
        parts += ["| tool | arguments | result | status | time |", "|---|---|---|---|---|"]
        for r in rows:
            parts.append(
                f"| {_md_cell(r['name'])} | {_md_cell(r['args'])} | {_md_cell(r['result'])} "
                f"| {r['status']} | {r['duration']:.2f}s |"
            )
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


# -- plain text ------------------------------------------------------------------------------
def run_text(result: RunResult, *, note: str = "", show_input: bool = False) -> str:
    """Return the run as plain text: status line, output, error, one line per tool call."""
    parts = [_result_status(result, note)]
    if show_input and result.input:
        parts += ["", f"> {preview(scrub(result.input), 300)}"]
    if result.output_text:
        parts += ["", _answer(result, fenced=False)]
    if result.error:
        parts += ["", f"Error: {scrub(result.error)}"]
    rows = tool_rows(result.tool_calls)
    if rows:
        parts.append("")
        for r in rows:
            parts.append(f"  [{r['status']}] {r['name']}({r['args']}) -> {r['result']} ({r['duration']:.2f}s)")
    return "\n".join(parts)


def run_bundle(result: RunResult, *, note: str = "", show_input: bool = True) -> dict[str, str]:
    """Return the static mime bundle of a run: text/html, text/markdown and text/plain.

    Args:
        result: the run.
        note: an extra note for the status line.
        show_input: include the prompt (False under a `%%agent` cell, which shows it already).
    """
    return {
        "text/html": run_html(result, note=note, show_input=show_input),
        "text/markdown": run_markdown(result, note=note, show_input=show_input),
        "text/plain": run_text(result, note=note, show_input=show_input),
    }
