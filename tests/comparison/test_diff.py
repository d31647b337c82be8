"""diff_runs: transcripts compared step by step, the first divergence, tool paths, runs from history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

import openstackai_nb
from openstackai_nb import Agent, RunConfig, Runner, RunResult, RunStatus, diff_runs
from openstackai_nb.comparison import Divergence, RunDiff, Step
from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import Message
from openstackai_nb.models.function import AgentInfo, FunctionModel, Reply, call
from openstackai_nb.store import RunHistory


def search(q: str) -> str:
    """Search.

    Args:
        q: the query.
    """
    return f"results for {q}"


def fetch(url: str, page: int = 1) -> str:
    """Fetch a page.

    Args:
        url: the address.
        page: which page.
    """
    return f"page {page} of {url}"


def broken(q: str) -> str:
    """Always fails.

    Args:
        q: the query.
    """
    raise RuntimeError(f"backend down for {q}")


Plan = Callable[[list[Message], AgentInfo], Any]


def plan(*turns: Any) -> Plan:
    """A model function that plays `turns` in order (a Reply, a call, a list of calls or text)."""

    def model(messages: list[Message], info: AgentInfo) -> Any:
        return turns[min(info.turn, len(turns)) - 1]

    return model


def run(model: Plan, prompt: str = "Find Paris", *, name: str = "A", config: RunConfig | None = None) -> RunResult:
    agent = Agent(name=name, tools=[search, fetch, broken], model=FunctionModel(model))
    return Runner.run_sync(agent, prompt, config=config)


def test_identical_runs_have_no_divergence() -> None:
    model = plan(call("search", q="Paris"), "Paris is in France.")
    a, b = run(model), run(model)
    assert a.run_id != b.run_id
    d = diff_runs(a, b)
    assert isinstance(d, RunDiff) and d.identical and d.first_divergence is None
    assert d.same_tool_path and d.tool_path_a == d.tool_path_b == ("search",) and d.tool_path_divergence is None
    assert [s.kind for s in d.steps_a] == ["input", "tool_call", "tool_result", "answer"]
    assert d.steps_a[1] == Step("tool_call", '{"q": "Paris"}', "search", 1)
    assert "identical transcripts" in repr(d) and "(same)" in repr(d)


def test_divergence_at_the_first_answer() -> None:
    d = diff_runs(run(plan("Paris.")), run(plan("Paris is the capital of France.")))
    assert d.first_divergence == Divergence(
        1,
        "answer",
        "different answer",
        Step("answer", "Paris.", turn=1),
        Step("answer", "Paris is the capital of France.", turn=1),
    )
    assert d.same_tool_path and d.tool_path_a == ()
    assert "first difference at step 1 (answer): different answer" in str(d)


def test_divergence_at_a_tool_calls_arguments_but_not_their_order() -> None:
    a = run(plan(call("fetch", url="a.org", page=2), "done"))
    b = run(plan(call("fetch", url="b.org", page=2), "done"))
    d = diff_runs(a, b)
    first = d.first_divergence
    assert first is not None and (first.index, first.kind, first.reason) == (1, "tool_call", "different arguments")
    assert first.a is not None and first.a.name == "fetch" and first.a.text == '{"page": 2, "url": "a.org"}'
    assert d.same_tool_path  # same tools, other arguments
    # Key order and spacing are not differences: the arguments are compared as JSON values.
    swapped = Reply(tool_calls=[call("fetch", page=2, url="a.org")])
    assert diff_runs(a, run(plan(swapped, "done"))).identical


def test_different_tool_paths() -> None:
    a = run(plan(call("search", q="x"), call("fetch", url="x.org"), "found x"))
    b = run(plan(call("search", q="x"), "found x"))
    d = diff_runs(a, b)
    assert d.tool_path_a == ("search", "fetch") and d.tool_path_b == ("search",)
    assert not d.same_tool_path and d.tool_path_divergence == 1
    first = d.first_divergence
    assert first is not None and first.index == 3 and first.kind == "tool_call"
    assert first.reason == "a's tool call where b has answer"
    assert "tool path: a: search -> [fetch] | b: search -> [(end)]" in str(d)
    other = diff_runs(b, run(plan(call("fetch", url="x.org"), "found x")))
    assert other.tool_path_divergence == 0 and other.first_divergence is not None
    assert other.first_divergence.reason == "different tool"


def test_a_failed_run_ends_with_its_error() -> None:
    ok = run(plan(call("broken", q="x"), "recovered"))
    failed = run(plan(call("broken", q="x"), "recovered"), config=RunConfig(stop_on_tool_error=True))
    assert failed.status is RunStatus.FAILED
    d = diff_runs(ok, failed)
    assert d.steps_b[-1].kind == "error" and d.steps_b[-1].text.startswith("FAILED: ")
    first = d.first_divergence
    assert first is not None and first.kind == "answer" and first.b is not None and first.b.kind == "error"
    assert first.reason == "b did not complete" and "FAILED" in str(d) and d.same_tool_path


class City(BaseModel):
    name: str
    people: int


def test_a_typed_answer_is_an_answer_however_the_model_gave_it() -> None:
    def by_tool(messages: list[Message], info: AgentInfo) -> Any:
        assert info.output is not None
        if info.turn == 1:
            return call(info.output.tool_name, name="Paris", people="many")  # refused: not an integer
        return call(info.output.tool_name, people=2, name="Paris")

    def as_text(messages: list[Message], info: AgentInfo) -> Any:
        return '{"name": "Paris", "people": 2}'

    def typed(model: Plan, **kw: Any) -> RunResult:
        agent = Agent(name="T", tools=[search], model=FunctionModel(model), output_type=City)
        return Runner.run_sync(agent, "Paris has 2 people", **kw)

    retried, direct = typed(by_tool), typed(as_text)
    d = diff_runs(retried, direct)
    assert d.tool_path_a == d.tool_path_b == ()  # the final-answer tool is how the answer came, not a tool
    assert [s.kind for s in d.steps_a] == ["input", "text", "user", "answer"]
    assert "does not match City" in d.steps_a[2].text
    assert d.identical is False and d.first_divergence is not None and d.first_divergence.index == 1
    answers = {(s.kind, s.text) for s in (d.steps_a[-1], d.steps_b[-1])}
    assert answers == {("answer", '{"name": "Paris", "people": 2}')}  # compared as JSON values
    failed = typed(by_tool, config=RunConfig(max_turns=1))
    first = diff_runs(retried, failed).first_divergence
    assert first is not None and (first.index, first.reason) == (3, "b did not complete")


def test_a_run_continued_from_a_conversation_starts_at_its_input() -> None:
    first = run(plan("Hello."), "Hi")
    later = Runner.run_sync(Agent(name="A", model=FunctionModel(plan("Bye."))), "Bye", history=first.history_messages())
    steps = diff_runs(later, later).steps_a
    assert [(s.kind, s.text) for s in steps] == [("input", "Bye"), ("answer", "Bye.")]


def test_runs_by_id_prefix_and_index_from_the_session_history(session_history: RunHistory) -> None:
    a = run(plan("one"))
    b = run(plan("two"))
    by_id = diff_runs(a.run_id, b.run_id)
    assert by_id.a == a and by_id.b == b
    assert diff_runs(a.run_id[:-3], -1).b == b  # a unique start of an id; the newest run
    assert diff_runs(-2, -1).first_divergence is not None
    assert openstackai_nb.diff_runs is diff_runs
    with pytest.raises(ConfigError, match=r"b='run_nope' is not a run id in RunHistory\(2 runs, .*history.sqlite\)"):
        diff_runs(a, "run_nope")
    with pytest.raises(ConfigError, match=r"a=5 is no run of RunHistory\(2 runs.*indices go from -2 to 1"):
        diff_runs(5, b)
    with pytest.raises(ConfigError, match=r"a='run_' is the start of 2 run ids"):
        diff_runs("run_", b)
    with pytest.raises(ConfigError, match="a must be a RunResult, a run id or a history index, got float"):
        diff_runs(1.5, b)  # type: ignore[arg-type]


def test_an_explicit_history_is_searched() -> None:
    other = RunHistory(":memory:")
    a, b = run(plan("one")), run(plan("two"))
    other.add_many([a, b])
    assert diff_runs(a.run_id, b.run_id, history=other).b == b
    with pytest.raises(ConfigError, match=r"memory"):
        diff_runs("run_missing", b, history=other)


def test_an_id_that_holds_a_secret_is_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-diff-SECRET-0123456789abcdef"
    monkeypatch.setenv("DEMO_API_KEY", secret)
    with pytest.raises(ConfigError) as raised:
        diff_runs(secret, run(plan("x")), history=RunHistory(":memory:"))
    assert secret not in str(raised.value) and "REDACTED" in str(raised.value)
