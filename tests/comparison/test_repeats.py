"""compare(repeats=N, seed=S): each (agent, case) N times, each its own run; seed S + repeat sent per run."""

from __future__ import annotations

import pytest

from openstackai_nb import Agent, Case, RunConfig, Runner, compare
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import AgentInfo, FunctionModel
from openstackai_nb.store import RunHistory


def test_repeats_are_rows_and_runs_in_history_in_agent_case_repeat_order(session_history: RunHistory) -> None:
    agents = [Agent(name="B", model="scripted"), Agent(name="A", model="scripted")]
    df = compare(agents, [Case("say 2 words", id="two"), Case("say 3 words", id="three")], repeats=3, progress=False)
    assert len(df) == 12
    assert df["agent"].tolist() == ["B"] * 6 + ["A"] * 6
    assert df["case_id"].tolist() == (["two"] * 3 + ["three"] * 3) * 2
    assert df["repeat"].tolist() == [0, 1, 2] * 4
    assert df["run_id"].nunique() == 12
    runs = session_history.to_dataframe().set_index("run_id").loc[df["run_id"]]
    assert runs["compare_id"].nunique() == 1
    assert runs["case_id"].tolist() == df["case_id"].tolist() and runs["repeat"].tolist() == df["repeat"].tolist()
    assert "seed" not in runs.columns  # no seed given: none recorded, none sent


def test_seed_plus_repeat_reaches_the_loopback_server(openai_server, session_history: RunHistory) -> None:
    agent = Agent(name="HTTP", model="gpt-4o-mini", model_settings={"temperature": 0.7, "seed": 999})
    df = compare([agent], ["q1", "q2"], repeats=3, seed=40, concurrency=2, progress=False)
    assert (df["status"] == "COMPLETED").all()
    sent = sorted((r.messages[-1]["content"], r.body["seed"], r.body["temperature"]) for r in openai_server.requests)
    # The run's seed wins over the agent's own; the agent's other settings are still sent.
    assert sent == [(q, 40 + k, 0.7) for q in ("q1", "q2") for k in range(3)]
    seeds = session_history.to_dataframe().set_index("run_id").loc[df["run_id"], "seed"].tolist()
    assert seeds == [40, 41, 42, 40, 41, 42]
    # Without a seed, the agent's own settings are sent unchanged.
    openai_server.requests.clear()
    compare([agent], ["q1"], progress=False)
    assert openai_server.requests[0].body["seed"] == 999


def test_a_function_model_sees_the_seed_in_its_settings(session_history: RunHistory) -> None:
    def model(messages, info: AgentInfo) -> str:
        return f"seed {info.settings.get('seed')} temp {info.settings.get('temperature')}"

    agent = Agent(name="F", model=FunctionModel(model), model_settings={"temperature": 0.1})
    df = compare([agent], ["x"], repeats=2, seed=7, progress=False)
    assert df["final_output"].tolist() == ["seed 7 temp 0.1", "seed 8 temp 0.1"]
    # The same per-run override outside compare: RunConfig.model_settings.
    result = Runner.run_sync(agent, "x", config=RunConfig(model_settings={"seed": 3}))
    assert result.final_output == "seed 3 temp 0.1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeats": 0}, "repeats must be a whole number >= 1, got 0"),
        ({"repeats": 2.0}, "repeats must be a whole number >= 1"),
        ({"repeats": True}, "repeats must be a whole number >= 1"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"seed": "7"}, "seed must be a whole number >= 0"),
    ],
)
def test_bad_repeats_or_seed(kwargs: dict, message: str, session_history: RunHistory) -> None:
    with pytest.raises(ConfigError, match=message):
        compare([Agent(name="A", model="scripted")], ["x"], progress=False, **kwargs)
    assert len(session_history) == 0
