"""compare()'s cases: every form (strings, dicts, Case, DataFrame, JSONL, CSV), ids, metadata and row-named errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openstackai_nb import Agent, Case, compare
from openstackai_nb.comparison import COMPARE_COLUMNS, load_cases
from openstackai_nb.comparison.cases import derived_id
from openstackai_nb.comparison.prices import COST_COLUMNS
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.store import RunHistory


def echo(messages, info):
    return "echo: " + (messages[-1].content or "")


def echo_agent() -> Agent:
    return Agent(name="Echo", model=FunctionModel(echo, name="echo"))


def sha_id(text: str) -> str:
    return "c_" + hashlib.sha256(text.encode()).hexdigest()[:10]


def test_plain_strings_work_as_before_with_derived_ids(session_history: RunHistory) -> None:
    df = compare([echo_agent()], ["one", "two"], progress=False)
    assert list(df.columns) == [*COMPARE_COLUMNS, *COST_COLUMNS]
    assert df["input"].tolist() == ["one", "two"]
    assert df["case_id"].tolist() == [sha_id("one"), sha_id("two")]
    assert df["expected"].isna().all() and df["repeat"].tolist() == [0, 0]
    assert str(df["repeat"].dtype) == "int64"
    # A single string is one case, as before.
    assert compare([echo_agent()], "alone", progress=False)["input"].tolist() == ["alone"]
    # The run's metadata in history carries the case.
    run = session_history[df["run_id"].iloc[1]]
    assert run.metadata["case_id"] == sha_id("two") and run.metadata["repeat"] == 0


def test_derived_ids_are_stable_across_sessions() -> None:
    code = "from openstackai_nb import Case; print(Case('What is 2+2?').case_id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == Case("What is 2+2?").case_id == derived_id("What is 2+2?") == sha_id("What is 2+2?")
    assert Case("x", id="mine").case_id == "mine"


def test_dicts_and_cases_carry_expected_ids_and_metadata(session_history: RunHistory) -> None:
    cases = [
        {"input": "2+2?", "expected": "4", "id": "sum", "topic": "math"},
        {"input": "capital of France?", "expected": {"city": "Paris"}, "metadata": {"topic": "geo", "level": 2}},
        Case("say hi", metadata={"level": 1}),
    ]
    df = compare([echo_agent()], cases, progress=False)
    assert df["case_id"].tolist() == ["sum", sha_id("capital of France?"), sha_id("say hi")]
    assert df["expected"].tolist() == ["4", {"city": "Paris"}, None]
    assert str(df["expected"].dtype) == "object"
    # Metadata columns follow the fixed columns, in first-seen order; a case without one has NaN/None.
    assert list(df.columns)[len(COMPARE_COLUMNS) : len(COMPARE_COLUMNS) + 2] == ["topic", "level"]
    assert df["topic"].tolist()[:2] == ["math", "geo"] and pd.isna(df["topic"].iloc[2])
    assert df["level"].iloc[1:].tolist() == [2, 1] and pd.isna(df["level"].iloc[0])


def test_a_dataframe_of_cases(session_history: RunHistory) -> None:
    frame = pd.DataFrame(
        {
            "input": ["a?", "b?", "c?"],
            "expected": ["A", None, "C"],
            "id": ["x", np.nan, "z"],
            "difficulty": [1, 2, 3],
        },
        index=[10, 11, 12],
    )
    df = compare([echo_agent()], frame, progress=False)
    assert df["case_id"].tolist() == ["x", sha_id("b?"), "z"]
    assert df["expected"].tolist() == ["A", None, "C"]
    assert df["difficulty"].tolist() == [1, 2, 3]
    assert df["final_output"].tolist() == ["echo: a?", "echo: b?", "echo: c?"]
    # Whole-number ids are taken as their text.
    numbered = load_cases(pd.DataFrame({"input": ["p", "q"], "id": [1, 2]}))
    assert [c.case_id for c in numbered] == ["1", "2"]


def test_jsonl_and_csv_files(tmp_path: Path, session_history: RunHistory) -> None:
    jsonl = tmp_path / "cases.jsonl"
    lines = [{"input": "one?", "expected": 1, "id": "n1", "tag": "t"}, {"input": "two?", "expected": [2, "two"]}]
    jsonl.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    df = compare([echo_agent()], jsonl, progress=False)
    assert df["case_id"].tolist() == ["n1", sha_id("two?")]
    assert df["expected"].tolist() == [1, [2, "two"]] and df["tag"].iloc[0] == "t" and pd.isna(df["tag"].iloc[1])

    csv = tmp_path / "cases.csv"
    csv.write_text('input,expected,id,topic\n"multi\nline?",4,,math\nplain?,,p,geo\n', encoding="utf-8")
    df = compare([echo_agent()], str(csv), progress=False)  # a path as a string works too
    assert df["input"].tolist() == ["multi\nline?", "plain?"]
    assert df["expected"].tolist() == ["4", None]  # CSV values are text; an empty cell is no expected
    assert df["case_id"].tolist() == [sha_id("multi\nline?"), "p"] and df["topic"].tolist() == ["math", "geo"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([], "no inputs given"),
        (["fine", 3], r"inputs\[1\] must be a string, a dict with 'input' or a Case, got int"),
        (["fine", {"prompt": "x"}], r"inputs\[1\] has no 'input'"),
        ([{"input": 5}], r"inputs\[0\]: input must be a string, got int"),
        (["ok", "   "], r"inputs\[1\]: input is empty"),
        ([Case("a", id="k"), Case("b", id="k")], r"inputs\[1\] has the id 'k' of inputs\[0\]"),
        (["same", "other", "same"], r"inputs\[2\] has the same input as inputs\[0\].*repeats=N"),
        ([{"input": "x", "id": 3.5}], r"inputs\[0\]: id must be a non-empty string"),
        ([{"input": "x", "metadata": "no"}], r"inputs\[0\]: metadata must be a dict"),
        (pd.DataFrame({"prompt": ["x"]}), "the DataFrame has no 'input' column"),
        (pd.DataFrame({"input": ["x", None]}, index=["a", "b"]), r"DataFrame row 1 \(index 'b'\): input must be"),
        (pd.DataFrame({"input": ["x", "y"], "id": ["d", "d"]}), r"DataFrame row 1 \(index 1\) has the id 'd'"),
        (42, "inputs must be strings, dicts, Case objects, a DataFrame or a .jsonl/.csv path"),
        ("missing.jsonl", "looks like a case file but there is no such file"),
    ],
)
def test_bad_cases_are_errors_naming_the_row_before_anything_runs(
    inputs: object, message: str, session_history: RunHistory
) -> None:
    with pytest.raises(ConfigError, match=message):
        compare([echo_agent()], inputs, progress=False)
    assert len(session_history) == 0


def test_bad_lines_in_files_are_named(tmp_path: Path) -> None:
    bad_json = tmp_path / "c.jsonl"
    bad_json.write_text('{"input": "a"}\n\n{"input": \n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c.jsonl line 3 is not JSON"):
        load_cases(bad_json)
    no_input = tmp_path / "d.jsonl"
    no_input.write_text('{"input": "a"}\n["a"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"d.jsonl line 2 must be a JSON object"):
        load_cases(no_input)
    csv = tmp_path / "e.csv"
    csv.write_text('input,id\n"two\nlines",a\n,b\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"e.csv line 4: input is empty"):
        load_cases(csv)
    header = tmp_path / "f.csv"
    header.write_text("question\nx\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="f.csv has no 'input' column"):
        load_cases(header)


def test_metadata_clashing_with_a_column_is_an_error(session_history: RunHistory) -> None:
    with pytest.raises(ConfigError, match="metadata 'status' clashes with a column"):
        compare([echo_agent()], [{"input": "x", "status": "draft"}], progress=False)
    with pytest.raises(ConfigError, match="metadata 'score' clashes"):
        compare([echo_agent()], [{"input": "x", "score": 1}], progress=False, score=lambda r, c: 1)


def test_secrets_in_cases_are_scrubbed_in_the_frame(session_history: RunHistory) -> None:
    key = "sk-proj-" + "A1b2C3d4" * 5
    df = compare([echo_agent()], [{"input": f"use {key}", "expected": f"e {key}", "note": key}], progress=False)
    row = df.iloc[0]
    for column in ("input", "expected", "note", "final_output"):
        assert key not in str(row[column]) and "REDACTED" in str(row[column]), column
