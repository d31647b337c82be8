"""LLM judges in compare(): a FunctionModel judge's typed verdict, its cost, its runs in history, pairwise order."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import numpy as np
import pytest

from openstackai_nb import Agent, Case, RunConfig, compare, set_prices
from openstackai_nb.comparison.judge import Verdict
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import AgentInfo, FunctionModel
from openstackai_nb.scorers import judge
from openstackai_nb.store import RunHistory


@pytest.fixture(autouse=True)
def no_prices():
    set_prices(None, replace=True)
    yield
    set_prices(None, replace=True)


def says(label: str, text: str) -> Agent:
    return Agent(name=label, model=FunctionModel(lambda m, i: text, name=f"says-{label}"))


class JudgeModel:
    """A FunctionModel judge: 5 for an answer containing the expected text, else 1; it keeps what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (instructions, prompt)
        self.lock = threading.Lock()
        self.model = FunctionModel(self, name="judge-fn")
        self.__name__ = "judge"

    def __call__(self, messages: list[Any], info: AgentInfo) -> str:
        system, prompt = messages[0].content or "", messages[-1].content or ""
        with self.lock:
            self.seen.append((system, prompt))
        assert info.output is not None
        expected = prompt.split("Expected answer:\n")[1].split("\n\n")[0]
        if "First answer:" in prompt:
            first = prompt.split("First answer:\n")[1].split("\n\nSecond answer:")[0]
            second = prompt.split("Second answer:\n")[1]
            if (expected in first) == (expected in second):
                return json.dumps({"winner": "tie", "reason": "both the same"})
            return json.dumps({"winner": "first" if expected in first else "second", "reason": f"has {expected}"})
        answer = prompt.split("Answer to judge:\n")[1]
        good = expected in answer
        return json.dumps({"score": 5 if good else 1, "reason": f"{'has' if good else 'lacks'} {expected}"})


CASES = [Case("2+2?", expected="4", id="sum"), Case("3+3?", expected="6", id="six")]


def test_pointwise_judge_scores_reasons_cost_and_history(session_history: RunHistory) -> None:
    jm = JudgeModel()
    set_prices({"judge-fn": {"prompt": 1_000_000.0, "completion": 0.0}})  # $1 per prompt token: easy sums
    agents = [says("Right", "it is 4 or 6"), says("Wrong", "it is 5")]
    df = compare(agents, CASES, repeats=2, score={"quality": judge(jm.model, rubric="Correct?")}, progress=False)
    assert df["quality"].tolist() == [5.0] * 4 + [1.0] * 4
    reasons = ["has 4", "has 4", "has 6", "has 6", "lacks 4", "lacks 4", "lacks 6", "lacks 6"]
    assert df["quality_reason"].tolist() == reasons
    cols = list(df.columns)
    assert cols[cols.index("quality") :][:4] == ["quality", "quality_reason", "judge_cost_usd", "prompt_cost"]
    # The rubric and scale are in the judge's instructions; the question and expected answer in its input.
    system, prompt = jm.seen[0]
    assert "Correct?" in system and "from 1 (worst) to 5 (best)" in system
    assert prompt.startswith("Question:\n2+2?") or prompt.startswith("Question:\n3+3?")
    # Its runs are in history, with the judged run's id; the cost column is the judge run's cost.
    judged = session_history.filter(metadata={"judge": "quality"})
    assert len(judged) == 8
    by_target = {r.metadata["judged"][0]: r for r in judged}
    for _, row in df.iterrows():
        run = by_target[row["run_id"]]
        assert run.metadata["case_id"] == row["case_id"] and run.metadata["repeat"] == row["repeat"]
        assert run.final_output == {"score": row["quality"], "reason": row["quality_reason"]}  # from history: JSON
        assert row["judge_cost_usd"] == pytest.approx(run.usage.prompt_tokens * 1.0)
    assert df["judge_cost_usd"].gt(0).all()


def test_judge_limited_by_the_config_and_failures_are_nan(session_history: RunHistory) -> None:
    def rambling(messages, info):
        return "not json at all"  # never a valid verdict: the judge run ends FAILED at max_turns

    bad = judge(FunctionModel(rambling, name="rambler"))
    df = compare([says("A", "x")], ["q"], score=bad, config=RunConfig(max_turns=2), progress=False)
    assert np.isnan(df["score"].iloc[0]) and "max_turns" in df["score_reason"].iloc[0]
    assert np.isnan(df["judge_cost_usd"].iloc[0])  # no price for "rambler": unknown, never guessed
    (run,) = session_history.filter(metadata={"judge": "score"})
    assert run.status.value == "FAILED" and run.turn_count == 2


def test_pairwise_order_is_seeded_recorded_and_shown(session_history: RunHistory) -> None:
    jm = JudgeModel()
    agents = {"good": says("g", "answer 4 and 6"), "bad": says("b", "answer 5")}
    cases = [Case(f"q{i}", expected="4", id=f"c{i}") for i in range(6)]
    df = compare(agents, cases, repeats=2, score={"pref": judge(jm.model, pairwise=True, seed=11)}, progress=False)
    # One preference per row: the good agent wins every pair.
    assert df.loc[df.agent == "good", "pref"].eq(1.0).all() and df.loc[df.agent == "bad", "pref"].eq(0.0).all()
    # The order: one draw per (case, repeat) pair, in table order, from random.Random(seed).
    rng = random.Random(11)
    expected_first = ["good" if rng.random() < 0.5 else "bad" for _ in range(12)]
    good_rows = df[df.agent == "good"]
    assert good_rows["judge_order"].tolist() == expected_first
    assert df[df.agent == "bad"]["judge_order"].tolist() == expected_first
    assert len(set(expected_first)) == 2  # both orders happen with this seed
    # The judge saw the first-shown agent's answer first.
    shown = {p.split("Question:\n")[1].split("\n")[0]: p for _, p in jm.seen}
    assert len(jm.seen) == 12 and len(shown) == 6
    runs = session_history.filter(metadata={"judge": "pref"})
    assert len(runs) == 12
    run_agent = dict(zip(df["run_id"], df["agent"], strict=True))
    for run in runs:
        first_run, _second = run.metadata["judged"]
        row = df[(df.case_id == run.metadata["case_id"]) & (df.repeat == run.metadata["repeat"])].iloc[0]
        assert run_agent[first_run] == row["judge_order"]
        first_answer = run.input.split("First answer:\n")[1].split("\n\n")[0]
        assert first_answer == ("answer 4 and 6" if row["judge_order"] == "good" else "answer 5")
        assert run.final_output["winner"] in ("first", "second")
    # The same seed gives the same orders; the cost of a pair's judge run is split between its rows.
    again = compare(agents, cases, repeats=2, score={"pref": judge(jm.model, pairwise=True, seed=11)}, progress=False)
    assert again["judge_order"].tolist() == df["judge_order"].tolist()


def test_pairwise_ties_and_a_failed_side(session_history: RunHistory) -> None:
    jm = JudgeModel()

    def broken(messages, info):
        raise RuntimeError("down")

    same = {"a": says("a", "4"), "b": says("b", "4")}
    df = compare(same, [Case("q", expected="4")], score=judge(jm.model, pairwise=True), progress=False)
    assert df["score"].tolist() == [0.5, 0.5] and df["score_reason"].tolist() == ["both the same"] * 2
    half = {"a": says("a", "4"), "b": Agent(name="b", model=FunctionModel(broken))}
    df = compare(half, [Case("q", expected="4")], score=judge(jm.model, pairwise=True), progress=False)
    assert df["score"].isna().all() and df["judge_order"].isna().all()  # no pair: no judge run


def test_pairwise_needs_two_agents_and_judge_checks() -> None:
    jm = JudgeModel()
    three = [says("a", "1"), says("b", "2"), says("c", "3")]
    with pytest.raises(ConfigError, match="pairwise judge compares exactly two agents, got 3"):
        compare(three, ["q"], score=judge(jm.model, pairwise=True), progress=False)
    with pytest.raises(ConfigError, match="scale must be"):
        judge(jm.model, scale=(5, 1))


def test_a_judge_outside_compare_and_an_agent_as_judge(session_history: RunHistory) -> None:
    from openstackai_nb import Runner

    jm = JudgeModel()
    answer = Runner.run_sync(says("A", "it is 4"), "2+2?")
    base = Agent(name="strict-judge", model=jm.model, instructions="ignored")
    made = judge(base, rubric="Exact.", scale=(0, 10))
    assert made.agent.name == "strict-judge" and made.agent.output_type is Verdict
    assert made(answer, Case("2+2?", expected="4")) == {"score": 5.0, "reason": "has 4"}
    assert "from 0 (worst) to 10 (best)" in jm.seen[-1][0]
    with pytest.raises(ConfigError, match="pairwise judge compares two agents"):
        judge(jm.model, pairwise=True)(answer, Case("q", expected="4"))


def test_judge_reasons_are_scrubbed(session_history: RunHistory) -> None:
    key = "sk-proj-" + "Q7w8E9r0" * 5

    def leaky(messages, info):
        return json.dumps({"score": 3, "reason": f"the key is {key}"})

    df = compare([says("A", "x")], ["q"], score=judge(FunctionModel(leaky, name="leaky")), progress=False)
    assert key not in df["score_reason"].iloc[0] and "REDACTED" in df["score_reason"].iloc[0]


def test_the_judge_pass_has_its_own_progress_line(session_history: RunHistory, capsys) -> None:
    jm = JudgeModel()
    compare([says("A", "4"), says("B", "5")], CASES, score=judge(jm.model), progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[0].startswith("compare done: 4/4 runs") and lines[-1].startswith("compare done: 4/4 runs")
    assert len(lines) == 2
