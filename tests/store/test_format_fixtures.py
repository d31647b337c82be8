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


@pytest.mark.parametrize("name", ["history_v5"])
def test_a_file_of_the_previous_version_reads_identically(name: str, tmp_path: Path) -> None:
    history = RunHistory(copy_of(name, tmp_path))
    got = json.loads(canonical(reads(history)))
    want = expected(name)
    for key in want:  # one key at a time: a failure names what differs
        assert got[key] == want[key], key
    assert got.keys() == want.keys()
    assert KEY not in (tmp_path / f"{name}.sqlite").read_bytes().decode("utf-8", "replace")


@pytest.mark.parametrize("name", ["history_v5"])
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
