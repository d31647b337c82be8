r"""Two runs side by side (`diff_runs`): static HTML, markdown and plain text.

The view has three parts: a header that puts the two runs' facts next to each other (agent,
model, instructions, status, turns, tokens, time; a fact that differs is marked), the tool
paths (``a: search -> fetch | b: search``, the first difference marked), and the transcripts
step by step, one row per position, the first row where they differ marked "first difference"
and every later differing row marked too.

Static on purpose (no script, nothing fetched), with semantic marks (`<mark>`, `<b>`) that still
show where GitHub and nbviewer strip the `<style>`. Every string (model and tool text, ids,
names, errors) is scrubbed of secrets and its control characters made inert (`_secrets.shown`:
ESC as ``\x1b``, U+202E as ``\u202e``), then cut, then escaped.

This module reads a diff through the small protocols below, so it does not import
`comparison.diff` (whose display methods import this module).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from openstackai_nb._secrets import shown
from openstackai_nb.render.markdown import esc
from openstackai_nb.render.markdown_escape import md_literal
from openstackai_nb.render.tools import preview

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["DiffLike", "DivergenceLike", "StepLike", "diff_bundle", "diff_html", "diff_markdown", "diff_text"]

CELL_CHARS = 4_000
"""Longest text of one step shown in the HTML view (the RunResult keeps all of it)."""
LINE_CHARS = 60
"""Longest preview of one step in the markdown and text views."""

_CSS = (
    "<style>"
    ".osnb-diff{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:12px;margin:2px 0;"
    "max-width:100%;overflow:auto}"
    ".osnb-diff .osnb-diff-title{margin-bottom:4px}"
    ".osnb-diff table{border-collapse:collapse;margin:4px 0;font-size:12px;width:100%}"
    ".osnb-diff th,.osnb-diff td{border:1px solid var(--jp-border-color2,rgba(128,128,128,.35));"
    "padding:2px 6px;text-align:left!important;vertical-align:top}"
    ".osnb-diff td{width:49%}.osnb-diff td.osnb-diff-num,.osnb-diff th:first-child{white-space:nowrap;width:1%}"
    ".osnb-diff pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;"
    "font-family:var(--jp-code-font-family,monospace);background:none}"
    ".osnb-diff .osnb-diff-kind{opacity:.7;font-size:11px}"
    ".osnb-diff tr.osnb-diff-differs td{background:rgba(210,153,34,.10)}"
    ".osnb-diff tr.osnb-diff-first td{background:rgba(209,69,59,.14)}"
    ".osnb-diff mark{background:rgba(210,153,34,.35);color:inherit}"
    "</style>"
)


class StepLike(Protocol):
    """A transcript step as this module reads it (`comparison.diff.Step`)."""

    @property
    def kind(self) -> str:
        """What the step is (input, text, tool_call, tool_result, user, answer, error)."""
        ...

    @property
    def text(self) -> str:
        """What is compared and shown."""
        ...

    @property
    def name(self) -> str:
        """The tool's name, or ""."""
        ...

    @property
    def turn(self) -> int:
        """The model turn (0 for the input)."""
        ...

    @property
    def label(self) -> str:
        """The step in words."""
        ...


class DivergenceLike(Protocol):
    """Where two transcripts first differ (`comparison.diff.Divergence`)."""

    @property
    def index(self) -> int:
        """The position where the transcripts first differ."""
        ...

    @property
    def reason(self) -> str:
        """What differs, in words."""
        ...


class DiffLike(Protocol):
    """Two runs compared, as this module reads them (`comparison.diff.RunDiff`)."""

    @property
    def a(self) -> RunResult:
        """Run a."""
        ...

    @property
    def b(self) -> RunResult:
        """Run b."""
        ...

    @property
    def steps_a(self) -> Sequence[StepLike]:
        """Run a's transcript."""
        ...

    @property
    def steps_b(self) -> Sequence[StepLike]:
        """Run b's transcript."""
        ...

    @property
    def first_divergence(self) -> DivergenceLike | None:
        """Where the transcripts first differ (None when identical)."""
        ...

    @property
    def tool_path_a(self) -> Sequence[str]:
        """The tools run a called, in order."""
        ...

    @property
    def tool_path_b(self) -> Sequence[str]:
        """The tools run b called, in order."""
        ...

    @property
    def tool_path_divergence(self) -> int | None:
        """The first position where the tool paths differ (None when the same)."""
        ...


# -- the parts, as plain (scrubbed, unescaped) text ------------------------------------------------
def _instructions(result: RunResult) -> str:
    return "\n\n".join(m.content or "" for m in result.messages if m.role == "system")


def _facts(result: RunResult) -> list[tuple[str, str]]:
    return [
        ("run", result.run_id),
        ("agent", result.agent_name),
        ("model", result.model),
        ("instructions", _instructions(result)),
        ("status", str(result.status) + (f": {result.error}" if result.error else "")),
        ("turns", str(result.turn_count)),
        ("tokens", str(result.usage.total_tokens)),
        ("time", f"{result.elapsed_time:.2f}s"),
    ]


_COMPARED = {"agent", "model", "instructions", "status"}
"""Facts marked when they differ (a run id, time or token count always differs, or may)."""


def _head(diff: DiffLike) -> list[tuple[str, str, str, bool]]:
    rows = []
    for (name, va), (_, vb) in zip(_facts(diff.a), _facts(diff.b), strict=True):
        rows.append((name, shown(va), shown(vb), name in _COMPARED and va != vb))
    return rows


def _title(diff: DiffLike) -> str:
    first = diff.first_divergence
    runs = f"{diff.a.run_id} ({diff.a.agent_name or 'agent'}) and {diff.b.run_id} ({diff.b.agent_name or 'agent'})"
    if first is None:
        return shown(f"Runs {runs}: identical transcripts")
    at = _step_at(diff.steps_a, first.index) or _step_at(diff.steps_b, first.index)
    label = f" ({at.label})" if at is not None else ""
    return shown(f"Runs {runs}: first difference at step {first.index}{label}: {first.reason}")


def _step_at(steps: Sequence[StepLike], i: int) -> StepLike | None:
    return steps[i] if i < len(steps) else None


def _path(names: Sequence[str], at: int | None, mark: tuple[str, str]) -> str:
    """A tool path as text, the name at `at` (or "(end)" past the last) wrapped in `mark`."""
    parts = list(names)
    if at is not None:
        if at < len(parts):
            parts[at] = f"{mark[0]}{parts[at]}{mark[1]}"
        else:
            parts.append(f"{mark[0]}(end){mark[1]}")
    return " -> ".join(parts) or "(no tools)"


def _paths(diff: DiffLike, mark: tuple[str, str], name: Any = str) -> str:
    at = diff.tool_path_divergence
    a = _path([name(shown(n)) for n in diff.tool_path_a], at, mark)
    b = _path([name(shown(n)) for n in diff.tool_path_b], at, mark)
    same = " (same)" if at is None else ""
    return f"tool path: a: {a} | b: {b}{same}"


def _rows(diff: DiffLike) -> list[tuple[int, StepLike | None, StepLike | None, bool]]:
    """Each position: its number, the two steps (None past a transcript's end), whether they differ."""
    out = []
    for i in range(max(len(diff.steps_a), len(diff.steps_b))):
        sa, sb = _step_at(diff.steps_a, i), _step_at(diff.steps_b, i)
        same = sa is not None and sb is not None and (sa.kind, sa.name, sa.text) == (sb.kind, sb.name, sb.text)
        out.append((i, sa, sb, not same))
    return out


# -- HTML --------------------------------------------------------------------------------------------
def _cell_html(step: StepLike | None) -> str:
    if step is None:
        return "<td>—</td>"
    text = shown(step.text)
    if len(text) > CELL_CHARS:
        text = text[:CELL_CHARS] + f"\n[… {len(text) - CELL_CHARS:,} more characters in the RunResult]"
    turn = f" · turn {step.turn}" if step.turn else ""
    return f"<td><div class='osnb-diff-kind'>{esc(shown(step.label))}{turn}</div><pre>{esc(text)}</pre></td>"


def diff_html(diff: DiffLike) -> str:
    """The static HTML view of two runs compared."""
    first = diff.first_divergence
    marked = " class='osnb-diff-differs'"
    head = "".join(
        f"<tr{marked if differs else ''}><th>{esc(name)}</th>"
        f"<td><pre>{esc(va)}</pre></td><td><pre>{esc(vb)}</pre></td></tr>"
        for name, va, vb, differs in _head(diff)
    )
    body = []
    for i, sa, sb, differs in _rows(diff):
        is_first = first is not None and i == first.index
        classes = " class='osnb-diff-differs osnb-diff-first'" if is_first else " class='osnb-diff-differs'"
        num = f"<b>≠ {i}</b><br><mark>first difference</mark>" if is_first else (f"<b>≠ {i}</b>" if differs else str(i))
        body.append(
            f"<tr{classes if differs else ''}><td class='osnb-diff-num'>{num}</td>{_cell_html(sa)}{_cell_html(sb)}</tr>"
        )
    title = esc(_title(diff))
    paths = _paths(diff, ("<mark>", "</mark>"), esc)
    return (
        f"<div class='osnb-diff'>{_CSS}<div class='osnb-diff-title'><b>{title}</b></div>"
        f"<table class='osnb-diff-head'><thead><tr><th></th><th>a</th><th>b</th></tr></thead>"
        f"<tbody>{head}</tbody></table>"
        f"<div class='osnb-diff-path'>{paths}</div>"
        f"<table class='osnb-diff-steps'><thead><tr><th>step</th><th>a</th><th>b</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


# -- markdown and text --------------------------------------------------------------------------------
def _line(step: StepLike | None) -> str:
    if step is None:
        return "—"
    return f"{shown(step.label)}: {preview(shown(step.text), LINE_CHARS)}"


def diff_markdown(diff: DiffLike) -> str:
    """The view as markdown (every value escaped to show literally)."""
    first = diff.first_divergence
    lines = [f"**{md_literal(_title(diff))}**", "", "| | a | b |", "|---|---|---|"]
    for name, va, vb, differs in _head(diff):
        cells = [md_literal(preview(va, LINE_CHARS)), md_literal(preview(vb, LINE_CHARS))]
        lines.append(f"| {'**' + name + ' ≠**' if differs else name} | {cells[0]} | {cells[1]} |")
    lines += ["", md_literal(_paths(diff, ("[", "]"))), "", "| step | a | b |", "|---|---|---|"]
    for i, sa, sb, differs in _rows(diff):
        is_first = first is not None and i == first.index
        num = f"**≠ {i} first difference**" if is_first else (f"≠ {i}" if differs else str(i))
        lines.append(f"| {num} | {md_literal(_line(sa))} | {md_literal(_line(sb))} |")
    return "\n".join(lines)


def diff_text(diff: DiffLike) -> str:
    """The view as plain text (`print(diff)`)."""
    first = diff.first_divergence
    head = _head(diff)
    width = max(len(name) for name, *_ in head)
    lines = [_title(diff)]
    for name, va, vb, differs in head:
        mark = " ≠" if differs else ""
        lines.append(f"  {name.ljust(width)}  a: {preview(va, LINE_CHARS)}  |  b: {preview(vb, LINE_CHARS)}{mark}")
    lines.append(_paths(diff, ("[", "]")))
    for i, sa, sb, differs in _rows(diff):
        is_first = first is not None and i == first.index
        mark = "≠" if differs else " "
        note = "   <- first difference" if is_first else ""
        lines.append(f"{mark}{i:>3}  a: {_line(sa)}  |  b: {_line(sb)}{note}")
    return "\n".join(lines)


def diff_bundle(diff: DiffLike) -> dict[str, str]:
    """The view's mime bundle: text/html, text/markdown and the text/plain twin."""
    return {"text/html": diff_html(diff), "text/markdown": diff_markdown(diff), "text/plain": diff_text(diff)}
