"""compare() with typed answers: output.<field> columns with dtypes from the schema, side_by_side on a field."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pandas as pd
import pytest
from pydantic import BaseModel

from openstackai_nb import Agent, compare, set_prices, side_by_side
from openstackai_nb.comparison import COMPARE_COLUMNS
from openstackai_nb.comparison.prices import COST_COLUMNS
from openstackai_nb.models.function import AgentInfo, FunctionModel
from openstackai_nb.store import RunHistory


class Quote(BaseModel):
    """A price quote read from a request."""

    vendor: str
    total: float
    units: int
    rush: bool
    tier: Literal["basic", "pro"]
    lines: list[str]


INPUTS = ["3 chairs for Acme", "10 desks for Bobco, rush"]


def reader(markup: float, name: str) -> FunctionModel:
    def model(messages: list[Any], info: AgentInfo) -> str:
        text = messages[-1].content or ""
        units = int(re.search(r"\d+", text).group())  # type: ignore[union-attr]
        quote = {
            "vendor": text.split()[-1].strip(","),
            "total": units * 10 * markup,
            "units": units,
            "rush": "rush" in text,
            "tier": "pro" if units > 5 else "basic",
            "lines": text.split()[1:2],
        }
        return json.dumps(quote)

    return FunctionModel(model, name=name)


@pytest.fixture(autouse=True)
def no_prices():
    set_prices(None, replace=True)
    yield
    set_prices(None, replace=True)


def typed_agents() -> list[Agent]:
    return [
        Agent(name="Cheap", model=reader(1.0, "cheap"), output_type=Quote),
        Agent(name="Pricey", model=reader(1.5, "pricey"), output_type=Quote),
    ]


def test_a_typed_compare_has_one_typed_column_per_field(session_history: RunHistory) -> None:
    df = compare(typed_agents(), INPUTS, progress=False, score=lambda r, i: r.final_output.total)
    fields = ["output.vendor", "output.total", "output.units", "output.rush", "output.tier", "output.lines"]
    assert list(df.columns) == [*COMPARE_COLUMNS, *fields, "score", *COST_COLUMNS]
    dtypes = {name: str(df[name].dtype) for name in fields}
    assert dtypes == {
        "output.vendor": "str" if pd.__version__ >= "3" else "object",  # text, as pandas keeps it
        "output.total": "float64",
        "output.units": "Int64",
        "output.rush": "boolean",
        "output.tier": "category",
        "output.lines": "object",
    }
    assert df["output.total"].tolist() == [30.0, 100.0, 45.0, 150.0]
    assert df["score"].tolist() == [30.0, 100.0, 45.0, 150.0]  # scorers get the typed object
    assert (
        df["output.lines"].tolist() == [["chairs"], ["desks"]] * 2 and df["output.rush"].tolist() == [False, True] * 2
    )
    assert json.loads(df["final_output"].iloc[0])["vendor"] == "Acme"
    # The history's frame has the same columns and dtypes.
    runs = session_history.to_dataframe().set_index("run_id").loc[df["run_id"]]
    assert {name: str(runs[name].dtype) for name in fields} == dtypes
    assert runs["output.total"].tolist() == df["output.total"].tolist()


def test_side_by_side_pivots_one_field() -> None:
    df = compare(typed_agents(), INPUTS, progress=False)
    table = side_by_side(df, "output.total")
    assert list(table.columns) == ["Cheap", "Pricey"] and list(table.index) == INPUTS
    assert table.loc["10 desks for Bobco, rush", "Pricey"] == 150.0
    both = side_by_side(df, ["output.total", "output.tier"])
    assert both[("output.tier", "Cheap")].tolist() == ["basic", "pro"]


def test_text_and_failed_runs_have_missing_typed_fields() -> None:
    def broken(messages: list[Any], info: AgentInfo) -> str:
        return "not json"

    agents = [
        typed_agents()[0],
        Agent(name="Text", model="scripted"),
        Agent(name="Broken", model=FunctionModel(broken), output_type=Quote),
    ]
    from openstackai_nb.runner import RunConfig

    df = compare(agents, INPUTS, progress=False, config=RunConfig(max_turns=1)).set_index("agent")
    assert df.loc["Cheap", "output.units"].tolist() == [3, 10]
    assert df.loc["Text", "output.units"].isna().all() and df.loc["Broken", "output.units"].isna().all()
    assert (df.loc["Broken", "status"] == "FAILED").all()
    assert df.loc["Broken", "error"].str.contains("without a valid answer").all()
    assert df.loc["Broken", "final_output"].tolist() == ["not json", "not json"]
    assert str(df["output.units"].dtype) == "Int64" and pd.isna(df.loc["Text", "output.rush"]).all()


def test_a_compare_of_text_agents_has_no_output_columns() -> None:
    df = compare([Agent(name="Text", model="scripted")], INPUTS, progress=False)
    assert list(df.columns) == [*COMPARE_COLUMNS, *COST_COLUMNS]
