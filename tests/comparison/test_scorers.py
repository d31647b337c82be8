"""Scorers in compare(): fn(result, case) and the old fn(result, input), dicts, warnings, every ready scorer."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from openstackai_nb import Agent, Case, compare, scorers, tool
from openstackai_nb.comparison import ScoreWarning
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import AgentInfo, FunctionModel, call
from openstackai_nb.store import RunHistory


def says(text: str) -> Agent:
    return Agent(name=f"says-{text[:8]}", model=FunctionModel(lambda m, i: text, name="says"))


def scores(agent: Agent, cases: list[Any], scorer: Any) -> list[float]:
    return compare([agent], cases, score=scorer, progress=False)["score"].tolist()


# -- the scorer protocol --------------------------------------------------------------------------
def test_new_and_old_scorer_forms(session_history: RunHistory) -> None:
    def with_case(result, case: Case) -> float:
        return float(case.expected == "4")

    def annotated(result, c: Case) -> bool:
        return c.metadata["level"] == 2

    df = compare(
        [says("4")],
        [{"input": "2+2?", "expected": "4", "level": 2}],
        score={
            "new": with_case,
            "annotated": annotated,
            "lam": lambda r, case: len(case.input),
            "old": lambda r, i: len(i),  # the old form gets the input text
            "old_named": lambda result, input: input.upper() == "2+2?",
        },
        progress=False,
    )
    row = df.iloc[0]
    assert (row["new"], row["annotated"], row["lam"], row["old"], row["old_named"]) == (1.0, 1.0, 4.0, 4.0, 1.0)
    assert all(str(df[c].dtype) == "float64" for c in ("new", "annotated", "old_named"))


def test_dict_results_are_one_column_per_key(session_history: RunHistory) -> None:
    def stats(result, case):
        text = result.final_output or ""
        return {"chars": len(text), "long": len(text) > 3} if case.input != "skip" else None

    df = compare([says("four")], ["a", "skip"], score={"s": stats, "n": lambda r, case: 1}, progress=False)
    assert list(df.columns)[list(df.columns).index("error") + 1 :][:3] == ["s.chars", "s.long", "n"]
    assert df["s.chars"].tolist()[0] == 4.0 and np.isnan(df["s.chars"].tolist()[1])
    assert df["s.long"].tolist()[0] == 1.0


def test_a_raising_scorer_gives_nan_and_one_warning_per_scorer(session_history: RunHistory) -> None:
    def bad(result, case):
        raise KeyError("nope")

    def also_bad(result, c):  # old form: c is the text, so .expected raises AttributeError
        return c.expected

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = compare([says("x")], [f"q{i}" for i in range(5)], score={"bad": bad, "old": also_bad}, progress=False)
    mine = [w for w in caught if issubclass(w.category, ScoreWarning)]
    assert len(mine) == 2, [str(w.message) for w in mine]
    assert "scorer 'bad' raised on 5 of 5 runs (first: KeyError: 'nope')" in str(mine[0].message)
    assert "second parameter is named 'case'" in str(mine[1].message)
    assert mine[0].filename == __file__  # points at the compare() call
    assert df["bad"].isna().all() and df["old"].isna().all()


def test_failed_runs_are_not_scored(session_history: RunHistory) -> None:
    def broken(messages, info):
        raise RuntimeError("down")

    calls: list[str] = []
    df = compare(
        [Agent(name="B", model=FunctionModel(broken))], ["x"], score=lambda r, case: calls.append("x"), progress=False
    )
    assert calls == [] and df["score"].isna().all()


def test_scorer_name_clash_and_non_callable() -> None:
    with pytest.raises(ConfigError, match="scorer name 'repeat' clashes"):
        compare([says("x")], ["a"], score={"repeat": lambda r, c: 1}, progress=False)
    with pytest.raises(ConfigError, match="scorer 'x' must be a function fn\\(result, case\\)"):
        compare([says("x")], ["a"], score={"x": 3}, progress=False)  # type: ignore[dict-item]


# -- ready scorers ---------------------------------------------------------------------------------
def test_exact(session_history: RunHistory) -> None:
    agent = says("  The   capital is\nParis ")
    cases = [Case("q", expected="the capital is paris", id="1"), Case("q2", expected="Paris", id="2")]
    assert scores(agent, cases, scorers.exact()) == [1.0, 0.0]
    assert scores(agent, cases[:1], scorers.exact(case_sensitive=True)) == [0.0]
    assert scores(agent, cases[:1], scorers.exact(normalize_whitespace=False)) == [0.0]


def test_contains(session_history: RunHistory) -> None:
    agent = says("Paris is the capital of  France.")
    cases = [
        Case("a", expected="PARIS"),
        Case("b", expected=["paris", "france"]),
        Case("c", expected=["paris", "spain"]),
        Case("d", expected="capital of france"),
    ]
    assert scores(agent, cases, scorers.contains()) == [1.0, 1.0, 0.0, 1.0]
    assert scores(agent, cases[:1], scorers.contains(case_sensitive=True)) == [0.0]


def test_regex(session_history: RunHistory) -> None:
    agent = says("Order #A-1234 confirmed")
    assert scores(agent, ["q"], scorers.regex(r"#[A-Z]-\d{4}")) == [1.0]
    assert scores(agent, [Case("q", expected=r"order #a")], scorers.regex()) == [1.0]  # expected as the pattern
    assert scores(agent, [Case("q", expected=r"order #a")], scorers.regex(flags=0)) == [0.0]
    with pytest.raises(ConfigError, match="not a regular expression"):
        scorers.regex("(")


def test_numeric_against_the_loopback_server(openai_server, session_history: RunHistory) -> None:
    agent = Agent(name="HTTP", model="gpt-4o-mini")  # answers "The answer is 42."
    cases = [Case("a", expected=42), Case("b", expected="42.0000001"), Case("c", expected=41.5)]
    assert scores(agent, cases, scorers.numeric()) == [1.0, 1.0, 0.0]
    assert scores(agent, cases[2:], scorers.numeric(tol=0.5)) == [1.0]
    assert scores(says("Total: 1,234.5 USD, was 2e3"), [Case("x", expected=2000)], scorers.numeric()) == [1.0]
    assert scores(says("Total: 1,234.5 USD"), [Case("x", expected="1,234.5")], scorers.numeric()) == [1.0]
    with pytest.raises(ConfigError, match="tol must be a number >= 0"):
        scorers.numeric(tol=-1)


class Address(BaseModel):
    """Where."""

    city: str
    zip: str


class Invoice(BaseModel):
    """An invoice."""

    total: float
    vendor: str
    address: Address


def invoice_agent() -> Agent:
    def model(messages, info: AgentInfo) -> str:
        return json.dumps({"total": 10.004, "vendor": "Acme ", "address": {"city": "Oslo", "zip": "0150"}})

    return Agent(name="Reader", model=FunctionModel(model), output_type=Invoice)


def test_field_on_typed_answers(session_history: RunHistory) -> None:
    whole = {"total": 10.0, "vendor": "acme", "address": {"city": "Oslo", "zip": "0150"}}
    cases = [Case("whole", expected=whole), Case("value", expected=10.0), Case("obj", expected=Invoice(**whole))]
    agent = invoice_agent()
    assert scores(agent, cases, scorers.field("total", tol=0.01)) == [1.0, 1.0, 1.0]
    assert scores(agent, cases[:2], scorers.field("total")) == [0.0, 0.0]
    assert scores(agent, cases[:1], scorers.field("vendor")) == [0.0]  # case-sensitive by default
    assert scores(agent, cases[:1], scorers.field("vendor", case_sensitive=False)) == [1.0]
    assert scores(agent, [cases[0], Case("city", expected="Oslo")], scorers.field("address.city")) == [1.0, 1.0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.isnan(scores(says("text"), [Case("q", expected=1)], scorers.field("total"))[0])
    assert "needs a typed answer" in str(caught[0].message)


def test_tool_called(session_history: RunHistory) -> None:
    @tool
    def weather(city: str, unit: str = "C") -> str:
        """The weather."""
        return f"sunny in {city}"

    def model(messages, info: AgentInfo):
        if info.turn == 1:
            return call("weather", city="Paris", unit="C")
        return "done"

    agent = Agent(name="W", model=FunctionModel(model), tools=[weather])
    got = [
        scores(agent, ["q"], scorers.tool_called("weather"))[0],
        scores(agent, ["q"], scorers.tool_called("weather", city="Paris"))[0],
        scores(agent, ["q"], scorers.tool_called("weather", city="Oslo"))[0],
        scores(agent, ["q"], scorers.tool_called("search"))[0],
    ]
    assert got == [1.0, 1.0, 0.0, 0.0]
    assert repr(scorers.tool_called("weather", city="Paris")) == "tool_called('weather', city='Paris')"


def test_a_scorer_without_expected_warns_once(session_history: RunHistory) -> None:
    with pytest.warns(ScoreWarning, match="has no expected answer") as record:
        out = scores(says("x"), ["a", "b", "c"], scorers.exact())
    assert len(record) == 1 and all(np.isnan(v) for v in out)


def test_ready_scorers_by_name() -> None:
    assert scorers.NAMES == ("contains", "exact", "numeric", "regex")
    assert repr(scorers.get("exact")) == "exact(normalize_whitespace=True, case_sensitive=False)"
    with pytest.raises(ConfigError, match="no ready scorer 'exactly'; did you mean 'exact'?"):
        scorers.get("exactly")
    with pytest.raises(ConfigError, match="need arguments"):
        scorers.get("field")
