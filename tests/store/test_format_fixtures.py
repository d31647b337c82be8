"""History files written by an earlier version (fixtures/, made by `_fixture_reads`) read back
identically, and take new runs without changing what they held."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from openstackai_nb import Agent, RunHistory, Runner
from tests.store._fixture_reads import KEY, canonical, reads

FIXTURES = Path(__file__).parent / "fixtures"


def copy_of(name: str, tmp_path: Path) -> Path:
    target = tmp_path / f"{name}.sqlite"
    shutil.copyfile(FIXTURES / f"{name}.sqlite", target)
    return target


def expected(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.reads.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["history_v5", "history_v6"])
def test_a_file_of_the_previous_version_reads_identically(name: str, tmp_path: Path) -> None:
    history = RunHistory(copy_of(name, tmp_path))
    got = json.loads(canonical(reads(history)))
    want = expected(name)
    for key in want:  # one key at a time: a failure names what differs
        assert got[key] == want[key], key
    assert got.keys() == want.keys()
    assert KEY not in (tmp_path / f"{name}.sqlite").read_bytes().decode("utf-8", "replace")


@pytest.mark.parametrize("name", ["history_v5", "history_v6"])
def test_new_runs_go_into_an_old_file_and_the_old_runs_read_the_same(name: str, tmp_path: Path) -> None:
    path = copy_of(name, tmp_path)
    want = expected(name)
    history = RunHistory(path)
    new = Runner.run_sync(Agent(name="New", model="scripted"), "What is the weather? Use the lookup tool.")
    history.add(new, finished=True)
    assert history.run_ids == [*want["run_ids"], new.run_id]
    assert history[new.run_id] == new
    old = history.filter(run_ids=want["run_ids"])
    got = json.loads(canonical(reads(old)))
    for key in want:
        assert got[key] == want[key], key
    history.flush()
    again = RunHistory(path)  # another process's view of the file
    assert again.run_ids == history.run_ids and again[new.run_id] == new
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_runs_an_older_version_writes_into_an_upgraded_file_read_back(tmp_path: Path) -> None:
    # A kernel of the previous version that had the file open before it was upgraded goes on
    # writing the old way: tool calls and turns as rows of their tables, runs.tools/turns NULL.
    from openstackai_nb.store._rows import Rows

    path = copy_of("history_v5", tmp_path)
    history = RunHistory(path)
    agent = Agent(name="Mixed", tools=[lookup], model="scripted")
    first = Runner.run_sync(agent, "What is the value of X? Use the lookup tool.")
    old_style = Runner.run_sync(agent, "What is the value of Y? Use the lookup tool.")
    last = Runner.run_sync(agent, "What is the value of Z? Use the lookup tool.")
    history.add(first)
    rows = Rows(old_style, (None, None, None), finished=True)
    with sqlite3.connect(path) as conn:  # what schema 5's writer does, by hand
        conn.execute(
            "INSERT INTO runs (run_id, agent, model, input, status, started_at) VALUES (?, ?, ?, ?, ?, ?)",
            (rows.run_id, "Mixed", "scripted", old_style.input, "COMPLETED", rows.run[12]),
        )
        conn.execute("INSERT INTO results (run_id, result) VALUES (?, ?)", (rows.run_id, rows.text))
        conn.executemany(f"INSERT INTO tool_calls VALUES ({','.join('?' * 12)})", rows.tools)
        conn.executemany(f"INSERT INTO turns VALUES ({','.join('?' * 12)})", rows.turns)
    conn.close()
    history.add(last)
    ours = [first.run_id, old_style.run_id, last.run_id]
    calls = history.filter(run_ids=ours).tool_calls_dataframe()
    assert calls["run_id"].tolist() == ours  # in run order, wherever each run keeps its rows
    assert [a["key"] for a in calls["arguments"]] == ["X", "Y", "Z"]
    turns = history.filter(run_ids=ours).turns_dataframe()
    assert turns["run_id"].tolist() == [r for r in ours for _ in (1, 2)] and turns["turn"].tolist() == [1, 2] * 3
    assert history[old_style.run_id] == old_style


def lookup(key: str) -> str:
    """Look up the value stored under a key."""
    return f"value of {key}"
