"""History files written by an earlier version (fixtures/, made by `_fixture_reads`) read back
identically, and take new runs without changing what they held."""

from __future__ import annotations

import json
import re
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


@pytest.mark.parametrize("name", ["history_v5", "history_v6", "history_v7"])
def test_a_file_of_the_previous_version_reads_identically(name: str, tmp_path: Path) -> None:
    history = RunHistory(copy_of(name, tmp_path))
    got = json.loads(canonical(reads(history)))
    want = expected(name)
    for key in want:  # one key at a time: a failure names what differs
        assert got[key] == want[key], key
    assert got.keys() == want.keys()
    assert KEY not in (tmp_path / f"{name}.sqlite").read_bytes().decode("utf-8", "replace")


@pytest.mark.parametrize("name", ["history_v5", "history_v6", "history_v7"])
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


def _layout(path: Path) -> dict[str, object]:
    with sqlite3.connect(path) as conn:
        names = {row[0]: row[1] for row in conn.execute("SELECT name, sql FROM sqlite_master")}
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT run_id FROM runs WHERE status='RUNNING'").fetchall()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    return {
        "version": version,
        "indexes": sorted(n for n in names if n.startswith("runs_")),
        "autoincrement": "AUTOINCREMENT" in re.sub(r"--[^\n]*", "", str(names["runs"])).upper(),
        "plan": " ".join(str(row[-1]) for row in plan),
    }


@pytest.mark.parametrize("name", ["history_v5", "history_v6"])
def test_an_upgraded_file_indexes_only_its_running_rows(name: str, tmp_path: Path) -> None:
    # Schema 7: runs_status (every run) gives way to runs_running (RUNNING rows only): a run that
    # ends alone writes one index page less. The old file keeps its AUTOINCREMENT (no table copy).
    path = copy_of(name, tmp_path)
    assert _layout(path)["indexes"] == ["runs_status"]
    history = RunHistory(path)
    history.add(Runner.run_sync(Agent(name="New", model="scripted"), "hello"), finished=True)
    history.flush()
    layout = _layout(path)
    assert layout["version"] == 7 and layout["indexes"] == ["runs_running"] and layout["autoincrement"]
    assert "INDEX runs_running" in str(layout["plan"])  # opening a file looks its RUNNING rows up


def test_a_new_file_has_no_autoincrement_and_no_sqlite_sequence(tmp_path: Path) -> None:
    # AUTOINCREMENT kept a row in sqlite_sequence, one more page written by every commit.
    path = tmp_path / "new.sqlite"
    history = RunHistory(path)
    first = Runner.run_sync(Agent(name="New", model="scripted"), "one")
    second = Runner.run_sync(Agent(name="New", model="scripted"), "two")
    history.add(first, finished=True)
    history.add(second, finished=True)
    history.flush()
    layout = _layout(path)
    assert layout["version"] == 7 and layout["indexes"] == ["runs_running"] and not layout["autoincrement"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchall() == []
    conn.close()
    assert history.run_ids == [first.run_id, second.run_id]


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
