"""compare(): every agent on every input, concurrently, one row each, recorded in history."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from openstackai_nb import Agent, RunConfig, compare, set_prices, side_by_side
from openstackai_nb.comparison import COMPARE_COLUMNS, ScoreWarning, get_prices
from openstackai_nb.comparison.prices import COST_COLUMNS
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.store import RunHistory


@pytest.fixture(autouse=True)
def no_prices():
    set_prices(None, replace=True)
    yield
    set_prices(None, replace=True)


def echo(messages, info):
    return "echo: " + (messages[-1].content or "")


def broken(messages, info):
    raise RuntimeError("this model is broken")


def agents() -> list[Agent]:
    return [
        Agent(name="Scripted", model="scripted"),
        Agent(name="Echo", model=FunctionModel(echo, name="echo")),
        Agent(name="Broken", model=FunctionModel(broken, name="broken")),
    ]


def test_compare_one_failing_agent_others_complete(session_history: RunHistory) -> None:
    inputs = ["say 3 words", "say 5 words"]
    df = compare(agents(), inputs, progress=False, score=lambda r, i: len(r.final_output or ""))
    assert list(df.columns) == [*COMPARE_COLUMNS, "score", *COST_COLUMNS]
    assert len(df) == 6
    assert df["agent"].tolist() == ["Scripted", "Scripted", "Echo", "Echo", "Broken", "Broken"]
    assert df["input"].tolist() == inputs * 3
    status = df.groupby("agent", sort=False)["status"].unique().map(list).to_dict()
    assert status == {"Scripted": ["COMPLETED"], "Echo": ["COMPLETED"], "Broken": ["FAILED"]}
    broken_rows = df[df.agent == "Broken"]
    assert broken_rows["error"].str.contains("this model is broken").all()
    assert broken_rows["score"].isna().all()
    echo_rows = df[df.agent == "Echo"]
    assert echo_rows["final_output"].tolist() == ["echo: say 3 words", "echo: say 5 words"]
    assert df[df.agent == "Scripted"]["completion_tokens"].tolist() == [3, 5]
    for col in ("turn_count", "prompt_tokens", "completion_tokens", "n_tool_calls"):
        assert str(df[col].dtype) == "int64"
    assert str(df["elapsed_time"].dtype) == "float64" and str(df["score"].dtype) == "float64"
    # Every run is in history, with the same ids and a shared compare_id.
    hist = session_history.to_dataframe().set_index("run_id")
    assert set(df["run_id"]) == set(hist.index)
    assert hist["compare_id"].nunique() == 1
    merged = df.merge(hist[["status", "final_output"]], left_on="run_id", right_index=True, suffixes=("", "_h"))
    assert (merged["status"] == merged["status_h"]).all()


def test_compare_run_that_cannot_start_is_a_failed_row_in_history(session_history: RunHistory) -> None:
    # No OPENAI_API_KEY (cleared by the fixtures): the run cannot start; it is still a row.
    remote = Agent(name="Remote", model="gpt-4o-mini")
    df = compare([remote, Agent(name="Local", model="scripted")], ["hi"], progress=False)
    row = df.set_index("agent").loc["Remote"]
    assert row["status"] == "FAILED" and "OPENAI_API_KEY" in row["error"] and row["model"] == "gpt-4o-mini"
    assert session_history[row["run_id"]].status.value == "FAILED"
    assert df.set_index("agent").loc["Local", "status"] == "COMPLETED"


def test_compare_timeouts_are_failed_rows(session_history: RunHistory) -> None:
    async def slow(messages, info):
        await asyncio.sleep(30)
        return "never"

    df = compare(
        [Agent(name="Slow", model=FunctionModel(slow)), Agent(name="Fast", model="scripted")],
        ["a", "b"],
        config=RunConfig(timeout_per_turn=0.2),
        progress=False,
    )
    slow_rows = df[df.agent == "Slow"]
    assert slow_rows["status"].tolist() == ["FAILED", "FAILED"]
    assert slow_rows["error"].str.contains("timeout_per_turn").all()
    assert df[df.agent == "Fast"]["status"].tolist() == ["COMPLETED", "COMPLETED"]
    assert len(session_history) == 4


def test_compare_against_the_loopback_server(session_history: RunHistory, openai_server) -> None:
    a = Agent(name="HTTP-A", model="gpt-4o-mini")
    b = Agent(name="HTTP-B", model="gpt-4o", instructions="Be brief.")
    inputs = [f"question {i}" for i in range(10)]
    df = compare([a, b], inputs, concurrency=5, progress=False)
    assert (df["status"] == "COMPLETED").all() and len(df) == 20
    assert (df["final_output"] == "The answer is 42.").all()
    assert (df["prompt_tokens"] == 10).all() and (df["completion_tokens"] == 5).all()
    assert len(openai_server.requests) == 20
    assert sorted(r.body["model"] for r in openai_server.requests) == ["gpt-4o"] * 10 + ["gpt-4o-mini"] * 10


def test_concurrency_is_bounded_and_used() -> None:
    state = {"active": 0, "max": 0}
    full = asyncio.Event()

    async def model(messages, info):
        state["active"] += 1
        state["max"] = max(state["max"], state["active"])
        if state["active"] >= 4:
            full.set()
        try:
            await asyncio.wait_for(full.wait(), 10)
        finally:
            state["active"] -= 1
        return "ok"

    df = compare(
        [Agent(name="M", model=FunctionModel(model))], [f"q{i}" for i in range(12)], concurrency=4, progress=False
    )
    assert (df["status"] == "COMPLETED").all()
    assert state["max"] == 4


def test_scorers_dict_and_a_raising_scorer() -> None:
    def exact(result, prompt):
        return result.final_output == "echo: " + prompt

    def bad(result, prompt):
        raise ValueError("scorer bug")

    with pytest.warns(ScoreWarning, match=r"scorer 'bad' raised on 2 of 2 runs \(first: ValueError: scorer bug\)"):
        df = compare(
            {"E": Agent(name="Echo", model=FunctionModel(echo))},
            ["x", "y"],
            score={"exact": exact, "length": lambda r, i: len(r.final_output), "bad": bad},
            progress=False,
        )
    assert df["agent"].tolist() == ["E", "E"]
    assert df["exact"].tolist() == [1.0, 1.0] and df["length"].tolist() == [7.0, 7.0]
    assert df["bad"].isna().all()


def test_costs_only_for_priced_models() -> None:
    with pytest.raises(ConfigError, match="completion"):
        set_prices({"scripted": {"prompt": 1.0}})
    with pytest.raises(ConfigError, match="unknown keys"):
        set_prices({"scripted": {"prompt": 1.0, "completion": 2.0, "input": 3}})
    with pytest.raises(ConfigError, match=">= 0"):
        set_prices({"scripted": {"prompt": -1, "completion": 2.0}})
    no_cost = compare([Agent(name="S", model="scripted")], ["say 4 words"], progress=False)
    assert no_cost["cost_usd"].isna().all() and no_cost["cost_source"].isna().all()  # offline: never guessed
    set_prices({"scripted": {"prompt": 2.0, "completion": 10.0}})
    assert get_prices() == {"scripted": {"prompt": 2.0, "completion": 10.0}}
    df = compare(
        [Agent(name="S", model="scripted"), Agent(name="E", model=FunctionModel(echo, name="echo"))],
        ["say 4 words"],
        progress=False,
    )
    s = df.set_index("agent").loc["S"]
    assert math.isclose(s["prompt_cost"], s["prompt_tokens"] * 2.0 / 1e6)
    assert math.isclose(s["completion_cost"], 4 * 10.0 / 1e6)
    assert math.isclose(s["cost_usd"], s["prompt_cost"] + s["completion_cost"]) and s["cost_source"] == "set_prices"
    assert np.isnan(df.set_index("agent").loc["E", "cost_usd"])  # no price: never guessed


def test_side_by_side_keeps_order_and_averages_repeats() -> None:
    df = compare(
        [Agent(name="Z-Echo", model=FunctionModel(echo)), Agent(name="A-Script", model="scripted")],
        ["say 2 words", "b"],
        progress=False,
        score=lambda r, i: len(r.final_output),
        repeats=2,
    )
    answers = side_by_side(df)
    assert list(answers.columns) == ["Z-Echo", "A-Script"] and list(answers.index) == ["say 2 words", "b"]
    assert answers.loc["b", "Z-Echo"] == "echo: b"
    scores = side_by_side(df, "score")
    assert scores.loc["say 2 words", "Z-Echo"] == len("echo: say 2 words")
    both = side_by_side(df, ["final_output", "status"])
    assert both[("status", "A-Script")].tolist() == ["COMPLETED", "COMPLETED"]
    with pytest.raises(ConfigError, match="no column 'nope'"):
        side_by_side(df, "nope")


def test_bad_arguments_are_clear_errors_before_anything_runs(session_history: RunHistory) -> None:
    a = Agent(name="A", model="scripted")
    with pytest.raises(ConfigError, match="two agents are labelled 'A'"):
        compare([a, a.clone()], ["x"], progress=False)
    with pytest.raises(ConfigError, match="no inputs"):
        compare([a], [], progress=False)
    with pytest.raises(ConfigError, match=r"inputs\[1\] must be a string"):
        compare([a], ["x", 3], progress=False)
    with pytest.raises(ConfigError, match="concurrency"):
        compare([a], ["x"], concurrency=0, progress=False)
    with pytest.raises(ConfigError, match="not an Agent"):
        compare(["A"], ["x"], progress=False)
    with pytest.raises(ConfigError, match="clashes"):
        compare([a], ["x"], score={"status": lambda r, i: 1}, progress=False)
    assert len(session_history) == 0


def test_inputs_may_be_a_series() -> None:
    import pandas as pd

    df = compare([Agent(name="E", model=FunctionModel(echo))], pd.Series(["p", "q"]), progress=False)
    assert df["final_output"].tolist() == ["echo: p", "echo: q"]


def test_terminal_progress_line_on_stderr(capsys) -> None:
    compare([Agent(name="E", model=FunctionModel(echo)), Agent(name="B", model=FunctionModel(broken))], ["a", "b"])
    err = capsys.readouterr().err
    assert "compare done: 4/4 runs, 2 failed" in err
    compare([Agent(name="E", model=FunctionModel(echo))], ["a"], progress=False)
    assert capsys.readouterr().err == ""


def test_notebook_progress_html_escapes_names_and_answers() -> None:
    from openstackai_nb.notebook.progress import make_progress
    from openstackai_nb.results import RunResult

    view = make_progress(["<script>alert(1)</script>"], 2, enabled=False)
    view.started("<script>alert(1)</script>")
    result = RunResult.from_dict(
        {
            "run_id": "run_x",
            "status": "COMPLETED",
            "final_output": '<img src=x onerror="alert(2)">',
            "model": "m<b>",
            "started_at": "2026-01-01T00:00:00Z",
        }
    )
    view.finished("<script>alert(1)</script>", result)
    page = view.html(final=True)
    assert "<script>" not in page and "<img" not in page and "m<b>" not in page and "m&lt;b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert "1/2" in page and "compare done: 1/2 runs" in view.text(final=True)


def test_every_run_is_committed_when_compare_returns(session_history: RunHistory) -> None:
    # Runs inside compare() do not wait for their own commit; compare() waits for all of them.
    import sqlite3

    bad_config = RunConfig(max_turns=1)
    df = compare(
        {"ok": Agent(name="A", model="scripted"), "bad": Agent(name="B", model="no-such-preset:x")},
        [f"say {i} words" for i in range(1, 21)],
        concurrency=8,
        progress=False,
        config=bad_config,
    )
    assert session_history.path is not None
    with sqlite3.connect(session_history.path) as conn:  # another connection: only what is committed
        stored = dict(conn.execute("SELECT run_id, status FROM runs").fetchall())
    assert set(df["run_id"]) <= set(stored) and len(df) == 40
    assert {stored[i] for i in df[df.agent == "bad"]["run_id"]} == {"FAILED"}


def test_compare_table_is_scrubbed_and_has_finish_reason(session_history: RunHistory, monkeypatch) -> None:
    key = "plain-secret-value-123"
    monkeypatch.setenv("SERVICE_API_KEY", key)
    df = compare([Agent(name="Echo", model=FunctionModel(echo, name="echo"))], [f"my key is {key}"], progress=False)
    assert key not in df.to_csv() and "[REDACTED]" in df.loc[0, "final_output"]
    assert df["finish_reason"].tolist() == ["stop"]
