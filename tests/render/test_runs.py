"""render.py: the static HTML / markdown / text of runs (no kernel)."""

from __future__ import annotations

from datetime import UTC, datetime

from openstackai_nb import Agent, Runner, render
from openstackai_nb.messages import Usage
from openstackai_nb.results import ToolCall
from openstackai_nb.runner import RunResult, RunStatus
from tests._html import html_of_markdown, parse_tags

EVIL = "<script>alert(1)</script> and <img src=x onerror=alert(2)> \"quoted\" 'single'"


def _result(**fields: object) -> RunResult:
    base: dict[str, object] = {
        "run_id": "run_0123456789abcdef",
        "status": RunStatus.COMPLETED,
        "final_output": "Hello **world**",
        "agent_name": "Assistant",
        "model": "scripted",
        "input": "Say hello",
        "turn_count": 2,
        "elapsed_time": 1.25,
        "started_at": datetime(2026, 1, 1, tzinfo=UTC),
        "usage": Usage(prompt_tokens=10, completion_tokens=5, requests=2),
    }
    base.update(fields)
    return RunResult(**base)  # type: ignore[arg-type]


def _call(**fields: object) -> ToolCall:
    base: dict[str, object] = {
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": {"city": "Paris"},
        "result": "Sunny",
        "started_at": datetime(2026, 1, 1, tzinfo=UTC),
        "elapsed_time": 0.5,
        "turn": 1,
    }
    base.update(fields)
    return ToolCall(**base)  # type: ignore[arg-type]


def test_status_line() -> None:
    line = render.status_line("COMPLETED", model="scripted", turns=1, tokens=3, elapsed=0.5, note="offline")
    assert line == "COMPLETED · scripted · 1 turn · 3 tokens · 0.50s · offline"


def test_preview_bounds_and_flattens() -> None:
    assert render.preview({"a": 1}) == '{"a": 1}'
    assert render.preview("line one\nline two") == "line one line two"
    long = render.preview("x" * 1000, 50)
    assert len(long) == 50 and long.endswith("…")
    assert render.preview(None) == ""
    assert render.preview(object()).startswith("<object object")


def test_html_has_status_output_and_tool_table() -> None:
    res = _result(tool_calls=[_call(), _call(call_id="call_2", name="broken", result=None, error="boom")])
    out = render.run_html(res)
    assert "COMPLETED" in out and "scripted" in out and "2 turns" in out and "15 tokens" in out
    assert "<strong>world</strong>" in out
    assert out.count("<tr") == 3  # header + 2 rows
    assert "get_weather" in out and "{&quot;city&quot;: &quot;Paris&quot;}" in out and "Sunny" in out
    assert ">error<" in out and "boom" in out and "0.50s" in out


def test_untrusted_text_is_escaped_everywhere() -> None:
    res = _result(
        input=EVIL,
        final_output=EVIL,
        error=EVIL,
        status=RunStatus.FAILED,
        tool_calls=[_call(name=EVIL, arguments={"q": EVIL}, result=EVIL)],
    )
    out = render.run_html(res)
    parsed = parse_tags(out)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "onerror" not in parsed.attrs
    assert "&lt;script&gt;" in out
    md = render.run_markdown(res)
    # The copy is shown as markdown with raw HTML allowed (as Jupyter and GitHub do): no live tag.
    shown = parse_tags(html_of_markdown(md))
    assert not {"script", "img"} & set(shown.tags) and "onerror" not in shown.attrs
    assert "\\<script\\>alert(1)\\</script\\>" in md
    text = render.run_text(res)
    assert "<script>" in text  # plain text is shown as text, never interpreted


def test_markdown_basics() -> None:
    out = render.markdown_to_html(
        "# Title\n\nSome *it* and `a<b`\n\n- one\n- **two**\n\n1. x\n2. y\n\n```\n<b>code</b>\n```"
    ).replace("\n", "")
    assert "<h1>Title</h1>" in out
    assert "<em>it</em>" in out and "<code>a&lt;b</code>" in out
    assert "<ul><li>one</li><li><strong>two</strong></li></ul>" in out
    assert "<ol><li>x</li><li>y</li></ol>" in out
    assert "<pre class='osnb-code'><code>&lt;b&gt;code&lt;/b&gt;</code></pre>" in out


def test_bundle_and_result_reprs() -> None:
    res = _result(status=RunStatus.CANCELLED, final_output="partial", error="cancelled (interrupted)")
    bundle = render.run_bundle(res, note="interrupted")
    assert set(bundle) == {"text/html", "text/markdown", "text/plain"}
    assert all("CANCELLED" in v and "partial" in v and "interrupted" in v for v in bundle.values())
    assert "Say hello" not in render.run_bundle(res, show_input=False)["text/html"]
    assert res._repr_html_() == render.run_html(res)
    assert res._repr_markdown_() == render.run_markdown(res)


def test_long_output_is_clipped_in_the_bundle_only() -> None:
    res = _result(final_output="word " * 30_000)
    assert len(render.run_html(res)) < 110_000
    assert "more characters in the RunResult" in render.run_text(res)
    assert len(res.final_output or "") == 150_000


def test_real_run_renders_its_tool_calls() -> None:
    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        return f"<b>Sunny</b> in {city}"

    res = Runner.run_sync(Agent(tools=[get_weather], model="scripted"), "Weather in Paris?")
    out = render.run_html(res)
    assert "get_weather" in out and "&lt;b&gt;Sunny&lt;/b&gt; in Paris" in out
    rows = render.tool_rows(res.tool_calls)
    assert rows[0]["status"] == "ok" and rows[0]["args"] == '{"city": "Paris"}'


def test_tool_rows_open_on_the_whole_value_and_say_their_turn() -> None:
    long = {"rows": [{"city": f"c{i}", "t": i} for i in range(30)]}
    res = _result(
        tool_calls=[
            _call(call_id="c2", name="second", turn=2, started_at=datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)),
            _call(call_id="c1", name="first", result=long, started_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)),
        ]
    )
    out = render.run_html(res)
    # In the order the calls started (the record is in the order they ended), with a turn column.
    assert out.index(">first<") < out.index(">second<")
    assert "<th class='osnb-num'>turn</th>" in out and "<td class='osnb-num osnb-turn'>2</td>" in out
    # The preview stays one line; the cell opens on the pretty JSON.
    assert "<details><summary>{&quot;rows&quot;: [{&quot;city&quot;: &quot;c0&quot;" in out
    assert "&quot;city&quot;: &quot;c29&quot;,\n" in out
    md = render.run_markdown(res)
    assert "| turn | tool | arguments | result | status | time |" in md
    one_turn = render.run_html(_result(tool_calls=[_call()]))
    assert "osnb-turn" not in one_turn and "<details>" not in one_turn


def test_a_tool_that_blocked_the_event_loop_says_so(monkeypatch) -> None:
    import asyncio
    import time

    from openstackai_nb import _tool_calls
    from openstackai_nb.models import FunctionModel
    from openstackai_nb.models.function import Reply, call

    monkeypatch.setattr(_tool_calls, "BLOCKED_LOOP_WARNING_S", 0.05)

    async def blocking() -> str:
        """Sleep the wrong way."""
        time.sleep(0.2)
        return "woke"

    async def polite() -> str:
        """Sleep the right way."""
        await asyncio.sleep(0.01)
        return "woke"

    def model(messages, info):  # type: ignore[no-untyped-def]
        return Reply(tool_calls=[call("polite"), call("blocking")]) if info.turn == 1 else "done"

    res = Runner.run_sync(Agent(tools=[blocking, polite], model=FunctionModel(model)), "go")
    rows = {r["name"]: r for r in render.tool_rows(res.tool_calls, res.trace)}
    assert rows["blocking"]["note"].startswith("blocked the event loop 0.") and rows["polite"]["note"] == ""
    assert "<span class='osnb-note'>blocked the event loop 0." in render.run_html(res)
    assert "(blocked the event loop 0." in render.run_markdown(res) and "[blocked the event loop" in render.run_text(
        res
    )


def test_reasoning_is_collapsed_above_the_answer() -> None:
    res = _result(reasoning="Think <b>hard</b>\n\nthen *answer*", final_output="The **answer**")
    out = render.run_html(res)
    assert "<details class='osnb-reasoning'><summary>Reasoning</summary>" in out
    assert "Think &lt;b&gt;hard&lt;/b&gt;\n\nthen *answer*" in out  # plain text, escaped
    assert out.index("osnb-reasoning") < out.index("<strong>answer</strong>")
    md = render.run_markdown(res)
    assert "<details><summary>Reasoning</summary>\n\n> Think \\<b\\>hard\\</b\\>\n>\n> then \\*answer\\*" in md
    shown = parse_tags(html_of_markdown(md))
    assert "b" not in shown.tags and "details" in shown.tags


def test_text_of_earlier_turns_comes_before_the_answer() -> None:
    from openstackai_nb.messages import Message

    conversation = [
        Message(role="system", content="Be brief."),
        Message(role="user", content="An earlier question"),  # a RunContext's history: not this run
        Message(role="assistant", content="An earlier answer"),
        Message(role="user", content="Say hello"),
        Message(role="assistant", content="Let me *look*."),
        Message(role="assistant", content="Hello **world**"),
    ]
    result = _result(messages=conversation)
    html = render.run_html(result)
    assert "An earlier answer" not in html
    assert html.index("<p>Let me <em>look</em>.</p>") < html.index("<strong>world</strong>")
    assert "Let me *look*.\n\nHello **world**" in render.run_text(result)
    assert render.run_markdown(result).count("Hello **world**") == 1
    assert result.final_output == "Hello **world**"
    # A run that failed after its first turn: the text it had is shown once.
    failed = _result(status=RunStatus.FAILED, final_output="Let me *look*.", error="boom", messages=conversation[:5])
    assert render.run_text(failed).count("Let me *look*.") == 1
    # A run without the conversation (loaded from an old export) shows its answer as before.
    assert "Hello **world**" in render.run_text(_result())
