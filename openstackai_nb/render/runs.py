r"""Static HTML, markdown and plain text of runs: the only place that formats a run for display.

`RunResult._repr_html_`/`_repr_markdown_`, the end-of-run bundle of `%%agent` and `%agent last`
all call this module (the run loop never imports it). The HTML card is the live view's layout
(`notebook/static/live_view.js` builds the same elements with the same classes): status line,
input, the reasoning (collapsed, dimmed), the answer (`render.markdown`), the error and the tool
table (`render.tools`), styled by `render.theme`.

Model and tool text is untrusted: it is escaped before it becomes HTML (`esc`), and the
markdown copy writes the answer back from its parse (`markdown_to_markdown`) and every other
string escaped to show literally (`md_literal`), so a `<script>` in an answer stays visible text
everywhere and no link other than http(s) is live.

Secrets: every string of a run (status line, input, reasoning, answer, error, tool arguments and
results) goes through `_secrets.shown` before it is formatted, so no view of a run shows a key,
whatever the tool, the model or the error put into it, and every control character (ANSI escape
sequences, BEL, NUL, bidi overrides...) shows as an inert escape such as ``\x1b`` or ``\u202e``:
a terminal or a browser never acts on it. Scrubbing comes first because escaping, markdown and
the preview's cut could otherwise split a key or change its bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from openstackai_nb._secrets import inert, scrub_data, shown
from openstackai_nb.render.markdown import esc as _esc
from openstackai_nb.render.markdown import markdown_to_html, markdown_to_markdown
from openstackai_nb.render.markdown_escape import md_literal
from openstackai_nb.render.theme import style_tag
from openstackai_nb.render.tools import (
    preview,
    several_turns,
    tool_rows,
    tool_table_html,
    tool_table_markdown,
    tool_text_line,
)

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = [
    "REASONING_LABEL",
    "answer_html",
    "reasoning_html",
    "run_bundle",
    "run_html",
    "run_markdown",
    "run_status",
    "run_text",
    "status_html",
    "status_line",
]

OUTPUT_CHARS = 100_000
"""Longest final output kept in a static bundle (the RunResult keeps all of it)."""
REASONING_LABEL = "Reasoning"
"""The summary of the collapsed reasoning (live and static)."""

_FINISH_WORDS = {
    "length": "cut at the token limit",
    "content_filter": "stopped by a content filter",
    "refusal": "refused",
}
"""How the status line says a finish reason that makes an answer incomplete."""


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
    warning: str = "",
) -> str:
    """Return the one-line status shown above a run, as plain text.

    A finish reason that makes a COMPLETED answer incomplete is said in words: "cut at the
    token limit" (length), "stopped by a content filter" (content_filter), "refused" (refusal).
    A `warning` (the first clause of the run's first warning) follows a "⚠"; the views show the
    whole warnings under the line.

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
    if warning:
        parts.append(f"⚠ {warning}")
    line = " · ".join(parts)
    return f"{line} · {note}" if note else line


def run_status(result: RunResult, *, note: str = "") -> str:
    """Return the status line of a finished run (scrubbed), as `status_line` writes it."""
    return shown(
        status_line(
            result.status.value,
            model=result.model,
            turns=result.turn_count,
            tokens=result.usage.total_tokens,
            elapsed=result.elapsed_time,
            agent=result.agent_name,
            note=note,
            finish_reason=result.finish_reason,
            warning=result.warnings[0].partition(":")[0] if result.warnings else "",
        )
    )


def _clip(text: str, limit: int = OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n\n[… {len(text) - limit} more characters in the RunResult]"


def _said_before(result: RunResult) -> list[str]:
    """The text the model wrote in this run's turns before its answer (e.g. "Let me look that up").

    The live view streams every turn's text, so the static copy shows it too, in order, before
    the answer: nothing the reader saw disappears when the run ends. A typed answer's earlier
    attempts are not prose and are left out (the turn count and the tool table tell of them).
    """
    if result.typed:
        return []
    start = 0
    for i in range(len(result.messages) - 1, -1, -1):
        message = result.messages[i]
        if message.role == "user" and message.content == result.input:
            start = i + 1
            break
    texts = [m.content for m in result.messages[start:] if m.role == "assistant" and m.content is not None]
    if texts and texts[-1] == result.output_text:
        texts.pop()  # the answer itself
    return [t for t in texts if t.strip()]


def _answer(result: RunResult, *, fenced: bool) -> str:
    """The answer to show, scrubbed and clipped ("" for none): its text; a typed answer as indented JSON.

    A text answer comes after the text of the turns before it (`_said_before`), a blank line
    between each, as the live view showed them.

    Fenced, the JSON is a ```json code block: its lines never start with a backtick (JSON
    strings escape newlines), so no answer can close the fence, and markdown shows a code
    block's content as text.
    """
    if not result.typed:
        return _clip(shown("\n\n".join([*_said_before(result), result.output_text or ""]).strip()))
    if not result.output_text:
        return ""
    value = result.model_dump(mode="json", include={"final_output"})["final_output"]
    text = _clip(inert(json.dumps(scrub_data(value), indent=2, ensure_ascii=False)))
    return f"```json\n{text}\n```" if fenced else text


# -- HTML ------------------------------------------------------------------------------------
def status_html(line: str) -> str:
    """The status line as HTML: its first word (the state) coloured, the rest dimmed."""
    state, _, rest = line.partition(" ")
    return (
        f"<div class='osnb-status'><b class='osnb-state osnb-state-{_esc(state)}'>{_esc(state)}</b>"
        f"<span class='osnb-status-rest'>{' ' if rest else ''}{_esc(rest)}</span></div>"
    )


def reasoning_html(text: str) -> str:
    """The reasoning, collapsed (a `<details>` that opens on click); "" without any."""
    if not text:
        return ""
    return (
        f"<details class='osnb-reasoning'><summary>{REASONING_LABEL}</summary>"
        f"<div class='osnb-reasoning-text'>{_esc(text)}</div></details>"
    )


def answer_html(text: str) -> str:
    """The answer's markdown rendered (the live view shows the same blocks while it streams)."""
    return f"<div class='osnb-output osnb-md'>{markdown_to_html(text)}</div>"


def run_html(result: RunResult, *, note: str = "", show_input: bool = True) -> str:
    """Return the run as one self-contained, escaped HTML fragment.

    Holds the status line, the input, the reasoning (collapsed), the final output (markdown
    rendered safely), the error and the tool table.
    """
    parts = [
        f"<div class='osnb-run osnb-view' data-run-id='{_esc(shown(result.run_id))}'>",
        status_html(run_status(result, note=note)),
    ]
    if show_input and result.input:
        parts.append(f"<div class='osnb-input'>&gt; {_esc(preview(shown(result.input), 300))}</div>")
    parts.append(reasoning_html(_clip(shown(result.reasoning or ""))))
    if answer := _answer(result, fenced=True):
        parts.append(answer_html(answer))
    if result.error:
        parts.append(f"<div class='osnb-error'>{_esc(shown(result.error))}</div>")
    parts += [f"<div class='osnb-warning'>⚠ {_esc(shown(w))}</div>" for w in result.warnings]
    parts.append(tool_table_html(tool_rows(result.tool_calls, result.trace)))
    parts.append("</div>")
    body = "".join(parts)
    return style_tag(body) + body


# -- markdown --------------------------------------------------------------------------------
def _md_reasoning(text: str) -> list[str]:
    # GitHub and Jupyter both render <details> in markdown; the text inside is a quote whose
    # every character is escaped to show literally.
    quoted = "\n".join(f"> {md_literal(line)}" if line.strip() else ">" for line in text.split("\n"))
    return [f"<details><summary>{REASONING_LABEL}</summary>", "", quoted, "", "</details>", ""]


def run_markdown(result: RunResult, *, note: str = "", show_input: bool = True) -> str:
    """Return the run as safe markdown: the answer's own markdown, everything else shown literally."""
    status = run_status(result, note=note)
    state, _, rest = status.partition(" ")
    parts = [f"**{md_literal(state)}** {md_literal(rest, line_start=False)}".rstrip(), ""]
    if show_input and result.input:
        parts += [f"> {md_literal(preview(shown(result.input), 300))}", ""]
    if result.reasoning:
        parts += _md_reasoning(_clip(shown(result.reasoning)))
    if answer := _answer(result, fenced=True):
        parts += [answer if result.typed else markdown_to_markdown(answer), ""]
    if result.error:
        parts += [f"**Error:** {md_literal(' '.join(shown(result.error).split()), line_start=False)}", ""]
    for warning in result.warnings:
        parts += [f"**Warning:** {md_literal(' '.join(shown(warning).split()), line_start=False)}", ""]
    parts += tool_table_markdown(tool_rows(result.tool_calls, result.trace))
    return "\n".join(parts).rstrip() + "\n"


# -- plain text ------------------------------------------------------------------------------
def run_text(result: RunResult, *, note: str = "", show_input: bool = False) -> str:
    """Return the run as plain text: status line, output, error, one line per tool call."""
    parts = [run_status(result, note=note)]
    if show_input and result.input:
        parts += ["", f"> {preview(shown(result.input), 300)}"]
    if answer := _answer(result, fenced=False):
        parts += ["", answer]
    if result.error:
        parts += ["", f"Error: {shown(result.error)}"]
    parts += [f"Warning: {shown(w)}" for w in result.warnings]
    rows = tool_rows(result.tool_calls, result.trace)
    if rows:
        turns = several_turns(rows)
        parts += [""] + [tool_text_line(r, turns) for r in rows]
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
