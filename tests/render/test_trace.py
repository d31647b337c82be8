"""The trace waterfall: static HTML/SVG placed by start and duration, escaped, the same from an export."""

from __future__ import annotations

import asyncio
import html.parser
from pathlib import Path
from typing import Any

import pytest

from openstackai_nb import Agent, RunConfig, RunHistory, Runner
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.messages import Message
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply, call
from openstackai_nb.render import TraceView, trace_html
from openstackai_nb.render.trace import LABEL_WIDTH, PLOT_WIDTH
from openstackai_nb.results import RunResult
from tests._html import parse_tags
from tests._server import OpenAIServer, error, text_stream, tool_stream
from tests.notebook._kernel import Kernel, kernel_env

EVIL_TOOL = "<img src=x onerror=alert(1)>"
EVIL_MODEL = "<script>alert('m')</script>"


class Waterfall(html.parser.HTMLParser):
    """Each span group of the SVG: its data attributes, its bar, its hover text and label."""

    def __init__(self) -> None:
        super().__init__()
        self.svg: dict[str, str] = {}
        self.spans: list[dict[str, Any]] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg":
            self.svg = a
        elif tag == "g" and a.get("class") == "osnb-span":
            self.spans.append({"attrs": a, "title": "", "texts": []})
        elif self.spans and tag == "rect":
            self.spans[-1]["rect"] = a
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if not self.spans or self._in not in ("title", "text"):
            return
        if self._in == "title":
            self.spans[-1]["title"] += data
        else:
            self.spans[-1]["texts"].append(data)


def drawn(result: RunResult) -> Waterfall:
    parser = Waterfall()
    parser.feed(result.show_trace().html)
    return parser


def test_spans_are_placed_by_start_and_duration(openai_server: OpenAIServer) -> None:
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    openai_server.script(
        error(503, "busy", retry_after="0"),
        tool_stream([("call_a", "weather", {"city": "Paris"}), ("call_b", "weather", {"city": "Oslo"})]),
        text_stream("Sunny in both."),
    )
    result = Runner.run_sync(Agent(name="W", tools=[weather], model="gpt-4o-mini"), "Weather?")
    picture = drawn(result)
    total, scale = float(picture.svg["data-total"]), float(picture.svg["data-scale"])
    assert total >= result.elapsed_time and scale == pytest.approx(PLOT_WIDTH / total, rel=1e-5)
    assert len(picture.spans) == len(result.trace) == 6  # 2 turns, 2 model calls, 2 tool calls
    by_start = {(s.kind, s.start, s.duration) for s in result.trace}
    for span in picture.spans:
        a, rect = span["attrs"], span["rect"]
        start, duration = float(a["data-start"]), float(a["data-duration"])
        assert (a["data-kind"], start, duration) in by_start  # every span of the trace, drawn once
        assert float(rect["x"]) == pytest.approx(LABEL_WIDTH + start * scale, abs=0.01)
        assert float(rect["width"]) == pytest.approx(max(duration * scale, 1.0), abs=0.01)
    kinds = [s["attrs"]["data-kind"] for s in picture.spans]
    assert kinds == ["turn", "model", "tool", "tool", "turn", "model"]  # each turn, then its calls
    retried = picture.spans[1]
    assert "↻1" in retried["texts"][0] and "retry: HTTP 503" in retried["title"]
    assert [s["attrs"]["data-parallel"] for s in picture.spans[2:4]] == ["2", "2"]
    assert all("∥" in s["texts"][0] for s in picture.spans[2:4])
    assert 'arguments: {"city": "Paris"}' in picture.spans[2]["title"] + picture.spans[3]["title"]
    text = repr(result.show_trace())
    assert text.splitlines()[0].startswith(f"Trace of {result.run_id} · COMPLETED") and "tool weather ∥" in text


def test_names_and_details_are_escaped_and_there_is_no_script() -> None:
    def model(messages: list[Message], info: AgentInfo) -> Reply | str:
        if info.turn == 1:
            return Reply(tool_calls=[call(EVIL_TOOL, q="<b>bold</b>")])
        return "done <script>alert(3)</script>"

    result = Runner.run_sync(Agent(name="<i>agent</i>", model=FunctionModel(model, name=EVIL_MODEL)), "hi")
    page = result.show_trace().html
    tags = parse_tags(page)
    assert "script" not in tags.tags and "img" not in tags.tags and "i" not in tags.tags and "b" not in tags.tags
    assert not [a for a in tags.attrs if a.startswith("on")]
    assert set(tags.tags) <= {"style", "div", "svg", "line", "text", "g", "title", "rect", "table", "thead", "tbody",
                              "tr", "th", "td", "br"}  # fmt: skip
    picture = drawn(result)
    tool = next(s for s in picture.spans if s["attrs"]["data-kind"] == "tool")
    assert EVIL_TOOL in tool["texts"][0] and tool["attrs"]["data-outcome"] == "error"  # shown as text
    assert "unknown tool" in tool["title"]
    assert f"model {EVIL_MODEL}" in next(s["texts"][0] for s in picture.spans if s["attrs"]["data-kind"] == "model")


def test_a_timeout_and_a_run_without_trace() -> None:
    async def hang() -> str:
        """Never return."""
        await asyncio.sleep(30)
        return "late"

    agent = Agent(name="T", tools=[hang], model=FunctionModel(lambda m, i: Reply(tool_calls=[call("hang")])))
    with pytest.raises(RunTimeoutError) as info:
        Runner.run_sync(agent, "go", config=RunConfig(timeout_per_turn=0.2))
    picture = drawn(info.value.result)
    outcomes = {s["attrs"]["data-kind"]: s["attrs"]["data-outcome"] for s in picture.spans}
    assert outcomes == {"turn": "timeout", "model": "ok", "tool": "timeout"}
    tool = next(s for s in picture.spans if s["attrs"]["data-kind"] == "tool")
    assert tool["rect"]["fill"] == "#bc4c00" and "timeout" in tool["texts"][-1]
    bare = Runner.run_sync(Agent(name="S", model="scripted"), "hi", config=RunConfig(trace_enabled=False))
    assert "kept no trace" in bare.show_trace().html and "kept no trace" in repr(bare.show_trace())


def test_a_run_loaded_from_an_export_or_the_history_draws_the_same(session_history: RunHistory, tmp_path: Path) -> None:
    def lookup(key: str) -> str:
        """Look a key up."""
        return f"value of {key}"

    model = FunctionModel(lambda m, i: Reply(tool_calls=[call("lookup", key="x")]) if i.turn == 1 else "x is 1")
    result = Runner.run_sync(Agent(name="L", tools=[lookup], model=model), "what is x?")
    session_history.flush()
    exported = RunHistory.load(session_history.export(tmp_path / "runs.jsonl"))[result.run_id]
    stored = session_history[result.run_id]
    assert trace_html(exported) == trace_html(stored) == trace_html(result)
    view = exported.show_trace()
    assert isinstance(view, TraceView) and set(view._repr_mimebundle_()) == {"text/html", "text/plain"}


@pytest.mark.kernel
def test_agent_trace_in_a_kernel(tmp_path: Path) -> None:
    kernel = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite")), str(tmp_path))
    try:
        setup = kernel.execute(
            "%load_ext openstackai_nb\nfrom openstackai_nb import Agent, Runner\n"
            "def get_weather(city: str) -> str:\n    '''Weather.'''\n    return f'Sunny in {city}'\n"
            "weather = Agent(name='Weather', tools=[get_weather], model='scripted')\n"
            "r = Runner.run_sync(weather, 'Weather in Oslo?')"
        )
        assert setup.error is None, setup.error
        shown = kernel.execute("r.show_trace()")
        (result,) = [m["content"]["data"] for m in shown.of_type("execute_result")]
        assert "<svg" in result["text/html"] and "tool get_weather" in result["text/plain"]
        ran = kernel.execute("%%agent --agent weather --quiet\nWeather in Paris?")
        assert ran.error is None, ran.error
        last = kernel.execute("%agent trace")
        (data,) = [d["data"] for d in last.displayed()]
        assert "<svg" in data["text/html"] and "Paris" in data["text/html"] and "Oslo" not in data["text/html"]
        by_id = kernel.execute("%agent trace {r.run_id}")
        (data,) = [d["data"] for d in by_id.displayed()]
        assert "Oslo" in data["text/html"] and data["text/plain"].startswith("Trace of run_")
        missing = kernel.execute("%agent trace run_nope")
        reply = missing.reply
        assert reply["status"] == "error" and reply["ename"] == "UsageError" and reply["traceback"] == []
        assert "no run 'run_nope' in the history" in reply["evalue"]
    finally:
        kernel.close()


class Ticks(html.parser.HTMLParser):
    """The time axis's labels (the SVG's centred texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self._tick = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tick = tag == "text" and dict(attrs).get("text-anchor") == "middle"

    def handle_data(self, data: str) -> None:
        if self._tick:
            self.labels.append(data)
            self._tick = False


def scaled(result: RunResult, total: float) -> RunResult:
    """The run as if it had taken `total` seconds (every span scaled alike)."""
    k = total / max(s.start + s.duration for s in result.trace)
    spans = [s.model_copy(update={"start": s.start * k, "duration": s.duration * k}) for s in result.trace]
    return result.model_copy(update={"elapsed_time": total, "trace": spans})


@pytest.mark.parametrize(
    ("total", "labels"),
    [
        (0.0003, ["0µs", "100µs", "200µs", "300µs"]),
        (0.0025, ["0ms", "0.5ms", "1ms", "1.5ms", "2ms", "2.5ms"]),
        (0.0012, ["0ms", "0.25ms", "0.5ms", "0.75ms", "1ms"]),
        (0.3, ["0ms", "100ms", "200ms", "300ms"]),
    ],
)
def test_the_time_axis_of_short_runs(total: float, labels: list[str]) -> None:
    result = Runner.run_sync(Agent(name="Fast", model=FunctionModel(lambda m, i: "ok")), "hi")
    parser = Ticks()
    parser.feed(trace_html(scaled(result, total)))
    assert parser.labels == labels
    assert len(set(parser.labels)) == len(parser.labels)  # never "0ms" on every tick


def test_a_sub_millisecond_span_says_its_duration_in_microseconds() -> None:
    result = Runner.run_sync(Agent(name="Fast", model=FunctionModel(lambda m, i: "ok")), "hi")
    spans = drawn(scaled(result, 0.0003)).spans
    durations = [t for s in spans for t in s["texts"] if t.endswith("s")]
    assert durations and all(t.endswith("µs") and t != "0µs" for t in durations), durations


@pytest.mark.parametrize("total", [0.0025, 0.0025000000000000005, 0.0024999999999999996])
def test_ticks_do_not_depend_on_the_last_bit_of_the_total(total: float) -> None:
    from openstackai_nb.render.trace import _ticks

    assert [round(t * 1e4) for t in _ticks(total)] == [0, 5, 10, 15, 20, 25]  # 0.5 ms steps, the end included
