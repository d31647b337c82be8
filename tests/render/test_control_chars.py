"""Control characters from model or tool text are shown inert in every display; the data keeps them.

ESC (ANSI colours, OSC-8 links), BEL, BS, NUL, the other C0/C1 controls, a carriage return
alone, DEL and the bidi embeddings, overrides and isolates would act on a terminal (a terminal
IPython, a pager) or reorder what a reader sees in a browser. Every display shows them as the
escapes `repr` writes (``\\x1b``, ``\\u202e``). HTML is read back with an HTML parser (entities
decoded), so a character hidden as ``&#27;`` would count too.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from openstackai_nb import Agent, RunConfig, Runner, RunStatus, StreamingRunner, render
from openstackai_nb._secrets import inert
from openstackai_nb.models.function import FunctionModel, call
from openstackai_nb.notebook.presenters import TextPresenter
from openstackai_nb.notebook.progress import make_progress
from openstackai_nb.report import render_report
from tests._html import html_of_markdown, text_of

CHARS = {
    "ESC": "\x1b",
    "BEL": "\x07",
    "BS": "\x08",
    "NUL": "\x00",
    "VT": "\x0b",
    "FF": "\x0c",
    "US": "\x1f",
    "CR": "\r",
    "DEL": "\x7f",
    "CSI": "\x9b",
    "NEL": "\x85",
    "LRE": "\u202a",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "PDI": "\u2069",
}
ESC = "\x1b"


def evil(char: str) -> str:
    # an ANSI colour, an OSC-8 link (ESC ] 8 ;; url ESC \), and the character alone between words
    return f"start {ESC}[31mred{ESC}[0m {ESC}]8;;https://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\ left{char}right end"


def marker(char: str) -> str:
    return repr(char)[1:-1]  # how repr() writes it: \x1b, \r, \u202e


def assert_inert(where: str, text: str, char: str, *, visible: bool = True, ansi: bool = True) -> None:
    """No raw `char` nor ESC in `text`; the marker of `char` (and of the ANSI colour) shown."""
    raw = {char, ESC}
    found = [c for c in raw if c in text]
    assert not found, f"raw {found!r} in {where}"
    if visible:  # (markdown source escapes the backslash: its rendering shows the marker)
        assert marker(char) in text, f"no visible marker in {where}"
        assert not ansi or "\\x1b[31m" in text, f"no visible ANSI colour in {where}"


def shout(text: str) -> str:
    """Return the text (a tool that passes untrusted text on).

    Args:
        text: anything.
    """
    return "tool says " + text


def run_with(char: str) -> Any:
    text = evil(char)

    def model(messages: list[Any], info: Any) -> Any:
        return call("shout", text=text) if info.turn == 1 else text

    agent = Agent(name="Echo", instructions="", tools=[shout], model=FunctionModel(model, name=f"m{char}odel"))
    return agent, text


@pytest.mark.parametrize("name", list(CHARS))
def test_every_display_of_a_run(name: str, tmp_path: Path) -> None:
    char = CHARS[name]
    agent, text = run_with(char)
    result = Runner.run_sync(agent, f"prompt {char} here")
    assert result.status is RunStatus.COMPLETED, result.error
    # the data keeps the raw text
    assert result.final_output == text and char in str(result.tool_calls[0].result)
    assert char in result.model

    bundle = render.run_bundle(result)
    assert_inert("text/html", text_of(bundle["text/html"]), char)
    assert_inert("text/markdown", bundle["text/markdown"], char, visible=False)
    assert_inert("text/markdown as HTML", text_of(html_of_markdown(bundle["text/markdown"])), char)
    assert_inert("text/plain", bundle["text/plain"], char)
    assert_inert("status line", render.run_status(result), char, ansi=False)
    assert_inert("_repr_html_", text_of(result._repr_html_()), char)
    trace = render.trace_bundle(result)
    assert_inert("trace html", text_of(trace["text/html"]), char)
    assert_inert("trace text", trace["text/plain"], char, ansi=False)  # names only: no tool text
    assert_inert("report", text_of(render_report([result])), char)
    for what, shown in (("RunResult repr", repr(result)), ("ToolCall repr", repr(result.tool_calls[0]))):
        assert char not in shown and ESC not in shown, what


@pytest.mark.parametrize("name", ["ESC", "CR", "RLO", "NUL"])
def test_errors_and_tool_errors(name: str) -> None:
    char = CHARS[name]

    def explode() -> str:
        """Raise with untrusted text."""
        raise RuntimeError(evil(char))

    agent = Agent(name="E", model=FunctionModel(lambda m, i: call("explode")), tools=[explode])
    result = Runner.run_sync(agent, "go", config=RunConfig(stop_on_tool_error=True))
    assert result.status is RunStatus.FAILED and char in (result.error or "")
    bundle = render.run_bundle(result)
    assert_inert("text/html", text_of(bundle["text/html"]), char)
    assert_inert("text/markdown", bundle["text/markdown"], char, visible=False)
    assert_inert("text/markdown as HTML", text_of(html_of_markdown(bundle["text/markdown"])), char)
    assert_inert("text/plain", bundle["text/plain"], char)
    assert char not in repr(result) and ESC not in repr(result)


@pytest.mark.parametrize("name", ["ESC", "BEL", "CR", "RLO", "PDI"])
def test_the_live_text_and_tool_lines(name: str) -> None:
    char = CHARS[name]
    agent, _ = run_with(char)

    async def events() -> list[Any]:
        return [ev async for ev in StreamingRunner(agent).run("hi")]

    out = io.StringIO()
    presenter = TextPresenter(stream=out, agent=agent.name, model=agent.model_name)
    result = presenter.feed(asyncio.run(events()))
    assert result is not None
    presenter.finish(result)
    assert_inert("the streamed text, tool lines and status line", out.getvalue(), char)
    assert_inert("the live status line", presenter.status_text(), char, ansi=False)
    for row in presenter.rows.values():
        for key in ("name", "args", "result", "args_full", "result_full", "note"):
            value = row.get(key) or ""
            assert char not in value and ESC not in value, key


def test_a_crlf_split_across_pieces_stays_a_line_end() -> None:
    from openstackai_nb._secrets import StreamScrubber

    s = StreamScrubber()
    shown = s.feed("line one\r") + s.feed("\nline two\r") + s.feed(" over", final=True)
    assert shown == "line one\r\nline two\\r over"


def test_compare_progress_lines() -> None:
    from openstackai_nb._secrets import inert as _inert

    agent, _ = run_with("\x1b")
    result = Runner.run_sync(agent, "hi")
    progress = make_progress([f"agent{ESC}[2Jx"], 1, enabled=False)
    progress.finished(f"agent{ESC}[2Jx", result)
    assert_inert("progress text", progress.text(final=True), ESC, ansi=False)
    assert_inert("progress html", text_of(progress.html(final=True)), ESC)
    assert _inert(ESC) == "\\x1b"


def test_inert_leaves_ordinary_text_and_marks_alone() -> None:
    text = "tab\there\nnew line\r\nCRLF, Hebrew \u05e9\u05dc\u05d5\u05dd\u200f and emoji \U0001f469\u200d\U0001f4bb"
    assert inert(text) == text


def test_a_magics_one_line_error() -> None:
    from IPython.core.error import UsageError

    from openstackai_nb.errors import ModelError
    from openstackai_nb.notebook.usage_errors import as_usage_errors

    with pytest.raises(UsageError) as caught, as_usage_errors():
        raise ModelError(f"the server said {ESC}[31mno{ESC}[0m \u202eok")
    assert ESC not in str(caught.value) and "\u202e" not in str(caught.value)
    assert "\\x1b[31mno" in str(caught.value) and "\\u202eok" in str(caught.value)


@pytest.mark.parametrize("name", ["ESC", "CR", "RLO", "NUL"])
def test_the_diff_of_two_runs(name: str) -> None:
    from openstackai_nb import diff_runs
    from openstackai_nb.render.diff import diff_bundle

    char = CHARS[name]
    agent, _ = run_with(char)
    a = Runner.run_sync(agent, "first")
    b = Runner.run_sync(Agent(name="Plain", model=FunctionModel(lambda m, i: "plain")), "second")
    bundle = diff_bundle(diff_runs(a, b))
    assert_inert("diff html", text_of(bundle["text/html"]), char)
    assert_inert("diff markdown", bundle["text/markdown"], char, visible=False)
    assert_inert("diff markdown as HTML", text_of(html_of_markdown(bundle["text/markdown"])), char, visible=False)
    assert_inert("diff text", bundle["text/plain"], char)


def test_the_comparison_table_the_magic_shows() -> None:
    import pandas as pd

    from openstackai_nb.notebook.tables import inert_frame

    frame = pd.DataFrame({"final_output": [f"{ESC}[31mred\u202e"], "n": [1]})
    table = inert_frame(frame)
    for what, text in (("html", table.to_html()), ("repr", repr(table))):
        assert ESC not in text and "\u202e" not in text, what
    assert "\\x1b[31mred\\u202e" in table.to_html()
    assert frame["final_output"][0] == f"{ESC}[31mred\u202e"  # the frame -o stores is untouched


def test_the_evaluation_tables() -> None:
    from openstackai_nb.render.evaluation import paired_html

    page = paired_html(f"a{ESC}[2Jb", [("mean_diff", 0.25), ("note\u202e", f"x{ESC}[31my")], "cap\u202e")
    text = text_of(page)
    assert ESC not in text and "\u202e" not in text
    assert "\\x1b[2J" in text and "\\u202e" in text
