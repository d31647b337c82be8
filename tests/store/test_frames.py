"""Runs as DataFrames have one home (store/frames.py): compare's cells and the history's columns agree."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from openstackai_nb import Agent, RunHistory, Runner, set_prices
from openstackai_nb._secrets import register_secret
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.prices import COST_COLUMNS
from openstackai_nb.results import RunResult
from openstackai_nb.store.frames import RESULT_COLUMNS, RUN_KINDS, RunColumns


class Verdict(BaseModel):
    score: int
    reason: str


def lookup(key: str) -> str:
    """Look up a value."""
    return f"value of {key}"


def broken(messages, info):
    raise RuntimeError("this model is broken")


@pytest.fixture(autouse=True)
def prices() -> Iterator[None]:
    set_prices({"scripted": {"prompt": 1.0, "completion": 2.0}}, replace=True)
    yield
    set_prices(None, replace=True)


def runs() -> list[RunResult]:
    tool_user = Agent(name="T", tools=[lookup], model="scripted")
    typed = Agent(name="J", model=FunctionModel(lambda m, i: '{"score": 4, "reason": "fine"}'), output_type=Verdict)
    failing = Agent(name="B", model=FunctionModel(broken, name="broken"))
    return [
        Runner.run_sync(tool_user, "What is the value of x? Use the lookup tool."),
        Runner.run_sync(Agent(name="S", model="scripted"), "say 3 words"),
        Runner.run_sync(typed, "judge this"),
        Runner.run_sync(failing, "anything"),
    ]


def test_compare_cells_have_the_history_columns_values_and_dtypes() -> None:
    results = runs()
    history = RunHistory(":memory:")
    history.add_many(results)
    stored = history.to_dataframe(cost=True)
    cells = RunColumns(len(results))
    for row, result in reversed(list(enumerate(results))):  # runs finish in any order
        cells.add(row, result)
    built = pd.DataFrame({**cells.columns(), **cells.typed_answers(), **cells.costs()})
    for name in RESULT_COLUMNS:
        assert built[name].dtype == stored[name].dtype, name
        assert built[name].tolist() == stored[name].tolist() or name == "elapsed_time", name
    assert np.allclose(built["elapsed_time"], stored["elapsed_time"])
    for name in COST_COLUMNS:
        pd.testing.assert_series_equal(built[name], stored[name], check_names=False)
    assert built.loc[0, "cost_usd"] > 0 and math.isnan(built.loc[3, "cost_usd"])  # priced; a FunctionModel: not
    typed = [c for c in stored.columns if c.startswith("output.")]
    assert typed == ["output.score", "output.reason"]
    for name in typed:
        pd.testing.assert_series_equal(built[name], stored[name], check_names=False)
    assert {RUN_KINDS[name] for name in ("turn_count", "elapsed_time", "started_at", "model")} == {
        "int",
        "float",
        "time",
        "obj",
    }


def test_a_row_never_added_is_empty_and_answers_are_scrubbed() -> None:
    register_secret("sk-frames-SECRET-0123456789")
    leaky = Agent(name="L", model=FunctionModel(lambda m, i: "the key is sk-frames-SECRET-0123456789"))
    result = Runner.run_sync(leaky, "tell me")
    cells = RunColumns(2)
    cells.add(1, result)
    data = cells.columns()
    assert list(data) == list(RESULT_COLUMNS)
    assert data["run_id"][0] is None and data["turn_count"][0] == 0 and math.isnan(data["elapsed_time"][0])
    assert "SECRET" not in data["final_output"][1] and "[REDACTED]" in data["final_output"][1]
    assert data["run_id"][1] == result.run_id and data["status"][1] == "COMPLETED"
    assert cells.typed_answers() == {}
