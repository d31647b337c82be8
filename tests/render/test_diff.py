"""The diff view: static HTML (marks, escaping, no secret), its markdown and text twins."""

from __future__ import annotations

from typing import Any

import pytest

from openstackai_nb import Agent, Runner, RunResult, diff_runs
from openstackai_nb.messages import Message
from openstackai_nb.models.function import AgentInfo, FunctionModel, call
from openstackai_nb.render.diff import diff_bundle, diff_html, diff_markdown, diff_text
from tests._html import html_of_markdown, parse_tags, text_of

EVIL = "<script>alert(1)</script> \"quoted\" 'single' <img src=x onerror=alert(2)> & </td></tr></table>"
SECRET = "sk-diff-SECRET-0123456789abcdef"
ALLOWED_TAGS = {"div", "style", "b", "br", "mark", "table", "thead", "tbody", "tr", "th", "td", "pre"}


def lookup(key: str) -> str:
    """Look a key up.

    Args:
        key: what to look up.
    """
    return f"value of {key}: {EVIL}"


def answering(text: str, key: str) -> Any:
    def model(messages: list[Message], info: AgentInfo) -> Any:
        return call("lookup", key=key) if info.turn == 1 else text

    return model


def run(text: str, key: str, prompt: str = "look it up", name: str = "A") -> RunResult:
    return Runner.run_sync(Agent(name=name, tools=[lookup], model=FunctionModel(answering(text, key))), prompt)


def test_html_marks_the_first_difference_and_the_tool_paths() -> None:
    d = diff_runs(run("one", "k"), run("two", "k"))
    html = diff_html(d)
    assert html.count("osnb-diff-first") == 2  # the CSS rule and the one row
    assert "<mark>first difference</mark>" in html and "<b>≠ 3</b>" in html
    assert "tool path: a: lookup | b: lookup (same)" in html
    assert "first difference at step 3 (answer): different answer" in html
    assert set(parse_tags(html).tags) <= ALLOWED_TAGS and set(parse_tags(html).attrs) <= {"class"}
    same = diff_html(diff_runs(d.a, d.a))
    assert "identical transcripts" in same and "<mark>" not in same and "osnb-diff-differs'" not in same


def test_every_string_is_escaped_in_html_markdown_and_text() -> None:
    a = run(EVIL, EVIL, prompt=EVIL, name=EVIL)
    b = run("fine", "k", prompt=EVIL)
    d = diff_runs(a, b)
    html = diff_html(d)
    tags = parse_tags(html)
    assert "script" not in tags.tags and "img" not in tags.tags and "onerror" not in tags.attrs
    assert set(tags.tags) <= ALLOWED_TAGS
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &#x27;single&#x27;" in html
    md = diff_markdown(d)
    rendered = parse_tags(html_of_markdown(md))
    assert "script" not in rendered.tags and "img" not in rendered.tags and "td" in rendered.tags
    # The markdown table keeps its shape: one row per fact and per step, whatever the text holds.
    assert len([line for line in md.splitlines() if line.startswith("| ")]) == 2 + 8 + len(d.steps_a)
    assert EVIL[:20] in diff_text(d)  # plain text shows the text as it is


def test_a_secret_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_API_KEY", SECRET)
    a = run(f"the key is {SECRET}", SECRET, prompt=f"use {SECRET}")
    b = run("no key", "k")
    d = diff_runs(a, b)
    bundle = diff_bundle(d)
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    for text in [*bundle.values(), repr(d), d._repr_html_(), d._repr_markdown_()]:
        assert SECRET not in text and "REDACTED" in text
    assert d._repr_mimebundle_() == bundle


def test_long_texts_are_cut_in_the_view_not_in_the_result() -> None:
    long = "word " * 2_000
    d = diff_runs(run(long, "k"), run("short", "k"))
    assert "more characters in the RunResult" in diff_html(d)
    assert d.first_divergence is not None and d.first_divergence.a is not None
    assert d.first_divergence.a.text == long
    assert max(len(line) for line in diff_text(d).splitlines()) < 400


@pytest.mark.parametrize("char", ["\x1b", "\r", "\u202e", "\x00"])
def test_control_characters_are_shown_inert(char: str) -> None:
    evil = f"red \x1b[31mtext\x1b[0m left{char}right"
    d = diff_runs(run(evil, evil, prompt=evil), run("fine", "k"))
    marker = repr(char)[1:-1]
    for where, text in [("html", text_of(diff_html(d))), ("text", diff_text(d))]:
        assert char not in text and "\x1b" not in text, where
        assert marker in text and "\\x1b[31m" in text, where
    assert char not in diff_markdown(d) and "\x1b" not in diff_markdown(d)
    assert d.steps_a[0].text == evil  # the data keeps the raw text
