"""The tool-call table: one row builder for the live view and the static copy, and its HTML, markdown and text.

`tool_row` turns one call (from stream events while a run goes on, from a `ToolCall` after it)
into a plain row; `tool_table_html` / `tool_head_html` / `tool_row_html` write rows as HTML. The
live view receives exactly these row and header HTML strings, so its table and the static
copy's are the same table: the same columns, alignment, classes and colours (`render.theme`).

A row's arguments and result show as a one-line preview; when a one-line cell may not show all of
it, the cell is a `<details>` that opens on the full value (pretty JSON, up to `DETAIL_CHARS`).
A "turn" column appears when the calls belong to more than one turn. An ``async def`` tool that
blocked the event loop says so under its status ("blocked the event loop 1.2 s"), and so does a
call that needed approval: "waiting for approval" while pending, then who decided ("approved by
you (live view) after 3.1 s"); a rejected call's status is "rejected", its result what the model
read ("the user rejected this call: <reason>").

Every value is scrubbed of secrets and its control characters made inert (`_secrets.shown`)
before it is cut to a preview and escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import inert, scrub, scrub_data, shown
from openstackai_nb.render.markdown import esc
from openstackai_nb.render.markdown_escape import md_literal

if TYPE_CHECKING:
    from openstackai_nb.results import Approval, Span, ToolCall

__all__ = [
    "DETAIL_CHARS",
    "PARSED_FROM_TEXT",
    "PREVIEW_CHARS",
    "preview",
    "several_turns",
    "tool_head_html",
    "tool_row",
    "tool_row_html",
    "tool_rows",
    "tool_table_html",
    "tool_table_markdown",
    "tool_text_line",
]

PREVIEW_CHARS = 120
"""Longest preview of a tool's arguments or result in the tool table."""
DETAIL_CHARS = 10_000
"""Longest value shown when a row's arguments or result are opened."""
PARSED_FROM_TEXT = "parsed from text"
"""The note of a tool call the model wrote as text, recovered by its provider (`parse_text_tool_calls`)."""
OPEN_FROM_CHARS = 48
"""A value longer than this (about what a cell shows on one line) can be opened."""


def _compact(value: Any) -> str:
    # Inert before anything splits on whitespace: str.split() would eat \x1c-\x1f unseen.
    if isinstance(value, str):
        return inert(value)
    try:
        return inert(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError):
        return inert(str(value))


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """Return a one-line preview of a tool argument or result, at most `limit` characters.

    Example:
        >>> preview({"city": "Paris"})
        '{"city": "Paris"}'
    """
    if value is None:
        return ""
    text = " ".join(_compact(value).split())
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def _full(value: Any) -> str | None:
    """The whole value as text, when a one-line cell may not show all of it (else None)."""
    if value is None:
        return None
    compact = _compact(value)
    if len(" ".join(compact.split())) <= OPEN_FROM_CHARS and "\n" not in compact.strip():
        return None
    if not isinstance(value, str):
        try:
            compact = inert(json.dumps(value, ensure_ascii=False, indent=2))
        except (TypeError, ValueError):
            pass
    if len(compact) > DETAIL_CHARS:
        compact = compact[:DETAIL_CHARS] + f"\n[… {len(compact) - DETAIL_CHARS:,} more characters in the RunResult]"
    return compact


def tool_row(
    call_id: str,
    name: str,
    arguments: Any,
    *,
    status: str,
    result: Any = None,
    error: str | None = None,
    duration: float | None = None,
    turn: int = 0,
    blocked_loop_s: float | None = None,
    approval: Approval | None = None,
    asked: str | None = None,
    parsed_from_text: bool = False,
) -> dict[str, Any]:
    """Return one row of the tool table as plain data (scrubbed; previews cut to one line).

    Keys: call_id, name, args, result (previews), args_full, result_full (the whole values when
    the previews do not show them, else None), status (pending, running, ok, error, rejected),
    duration, turn, note (that the tool blocked the event loop; the approval: who is asked while
    pending (`asked`), who decided (`approval`); "parsed from text" for a call the model wrote as
    text, recovered by its provider).
    """
    args = scrub_data(arguments)
    value = scrub(error) if error is not None else scrub_data(result)
    notes = [f"blocked the event loop {blocked_loop_s:.1f} s"] if blocked_loop_s else []
    if parsed_from_text:
        notes.append(PARSED_FROM_TEXT)
    if status == "pending":
        notes.append(f"waiting for approval ({asked})" if asked else "waiting for approval")
    elif approval is not None:
        verb = "approved" if approval.approved else "rejected"
        # A person takes seconds; an approver function, milliseconds (not worth a word).
        wait = f" after {approval.waited:.1f} s" if approval.waited >= 1.0 else ""
        notes.append(f"{verb} by {approval.decided_by}{wait}")
    note = shown(" · ".join(notes))
    return {
        "call_id": shown(call_id),
        "name": shown(name),
        "args": preview(args),
        "args_full": _full(args),
        "result": preview(value),
        "result_full": _full(value),
        "status": status,
        "duration": duration,
        "turn": turn,
        "note": note,
    }


def _blocked(tool_calls: Sequence[ToolCall], trace: Sequence[Span]) -> list[float | None]:
    # A call's span is closed just before its ToolCall is recorded, so the n-th tool span is the
    # n-th call's (checked by name and turn; without a trace there is nothing to read).
    spans = [s for s in trace if s.kind == "tool"]
    out: list[float | None] = []
    for i, call in enumerate(tool_calls):
        span = spans[i] if i < len(spans) else None
        ok = span is not None and span.turn == call.turn and scrub(span.name) == scrub(call.name)
        out.append(span.attributes.get("blocked_loop_s") if ok and span is not None else None)
    return out


def tool_rows(tool_calls: Sequence[ToolCall], trace: Sequence[Span] = ()) -> list[dict[str, Any]]:
    """Return the tool table's rows (see `tool_row`) of a finished run's calls.

    Args:
        tool_calls: the run's `ToolCall` records.
        trace: the run's spans, for the facts only a span holds (a blocked event loop).
    """
    blocked = _blocked(tool_calls, trace)
    # In the order the calls started, as the live view added them (the record is in the order
    # they ended); a call that waited for approval was added when it asked, before its wait.
    order = sorted(range(len(tool_calls)), key=lambda i: _asked_at(tool_calls[i]))
    return [
        tool_row(
            c.call_id,
            c.name,
            c.arguments,
            status=c.status,
            result=c.result,
            error=c.error,
            duration=None if c.rejected else c.elapsed_time,
            turn=c.turn,
            blocked_loop_s=blocked[i],
            approval=c.approval,
            parsed_from_text=c.parsed_from_text,
        )
        for i in order
        for c in (tool_calls[i],)
    ]


def _asked_at(call: ToolCall) -> datetime:
    """When the call was added to the table: its start, or for one that waited for approval, when it asked."""
    if call.approval is not None:
        return call.approval.decided_at - timedelta(seconds=call.approval.waited)
    return call.started_at


def several_turns(rows: Sequence[Mapping[str, Any]]) -> bool:
    """True when the rows belong to more than one turn (the table then shows a turn column)."""
    return len({r.get("turn") for r in rows}) > 1


def _duration(row: Mapping[str, Any]) -> str:
    return f"{row['duration']:.2f}s" if row.get("duration") is not None else ""


def _cell(line: str, full: str | None) -> str:
    if full is None:
        return f"<div class='osnb-line' title='{esc(line)}'>{esc(line)}</div>"
    return f"<details><summary>{esc(line)}</summary><pre>{esc(full)}</pre></details>"


def tool_head_html(turns: bool) -> str:
    """The table's header row (`turns`: with the turn column)."""
    turn = "<th class='osnb-num'>turn</th>" if turns else ""
    return f"<tr>{turn}<th>tool</th><th>arguments</th><th>result</th><th>status</th><th class='osnb-num'>time</th></tr>"


def tool_row_html(row: Mapping[str, Any], turns: bool) -> str:
    """One row as a `<tr>` (`turns`: with the turn column)."""
    status = str(row.get("status") or "pending")
    note = f"<span class='osnb-note'>{esc(row['note'])}</span>" if row.get("note") else ""
    turn = f"<td class='osnb-num osnb-turn'>{esc(row.get('turn', ''))}</td>" if turns else ""
    return (
        f"<tr class='osnb-tool osnb-tool-{esc(status)}' data-call-id='{esc(row.get('call_id', ''))}'>{turn}"
        f"<td class='osnb-tname'>{esc(row.get('name', ''))}</td>"
        f"<td class='osnb-prev osnb-targs'>{_cell(row.get('args', ''), row.get('args_full'))}</td>"
        f"<td class='osnb-prev osnb-tresult'>{_cell(row.get('result', ''), row.get('result_full'))}</td>"
        f"<td class='osnb-tstatus'>{esc(status)}{note}</td>"
        f"<td class='osnb-num osnb-time'>{esc(_duration(row))}</td></tr>"
    )


def tool_table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """The whole table ("" without rows)."""
    if not rows:
        return ""
    turns = several_turns(rows)
    body = "".join(tool_row_html(r, turns) for r in rows)
    return f"<table class='osnb-tools'><thead>{tool_head_html(turns)}</thead><tbody>{body}</tbody></table>"


def tool_table_markdown(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table as markdown lines (every value escaped to show literally)."""
    if not rows:
        return []
    turns = several_turns(rows)
    head = "| turn " if turns else ""
    lines = [f"{head}| tool | arguments | result | status | time |", "|---" * (6 if turns else 5) + "|"]
    for r in rows:
        status = r["status"] + (f" ({r['note']})" if r.get("note") else "")
        cells = [str(r["turn"])] if turns else []
        cells += [r["name"], r["args"], r["result"], status, _duration(r)]
        lines.append("| " + " | ".join(md_literal(c) for c in cells) + " |")
    return lines


def tool_text_line(row: Mapping[str, Any], turns: bool = False) -> str:
    """One row as a line of plain text."""
    where = f"turn {row['turn']} " if turns else ""
    note = f" [{row['note']}]" if row.get("note") else ""
    took = f" ({row['duration']:.2f}s)" if row.get("duration") is not None else ""
    return f"  {where}[{row['status']}] {row['name']}({row['args']}) -> {row['result']}{took}{note}"
