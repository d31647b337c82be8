"""The jobs of a comparison made on demand: the same job on every read, in the table's row order."""

from __future__ import annotations

import re

import pytest

from openstackai_nb import Agent, RunConfig
from openstackai_nb.comparison.cases import Case
from openstackai_nb.comparison.grid import Grid, GridCases, Picked


def grid(*, repeats: int = 2, seed: int | None = None) -> Grid:
    pairs = [("fast", Agent(name="F", model="scripted")), ("slow", Agent(name="S", model="scripted"))]
    cases = [Case("one", expected="1", id="c1"), Case("two", id="c2"), Case("three", id="c3")]
    config = RunConfig(metadata={"team": "x"}, model_settings={"temperature": 0})
    return Grid(pairs, cases, repeats, config, seed=seed, compare_id="cmp_test", grid_id="grid_test")


def test_jobs_come_in_agent_case_repeat_order_with_their_metadata() -> None:
    jobs = grid()
    assert len(jobs) == 2 * 3 * 2
    keys = [(j.label, j.case.case_id if j.case else None, j.repeat) for j in jobs]
    assert keys[:4] == [("fast", "c1", 0), ("fast", "c1", 1), ("fast", "c2", 0), ("fast", "c2", 1)]
    assert keys[6] == ("slow", "c1", 0) and keys[-1] == ("slow", "c3", 1)
    assert [j.index for j in jobs] == list(range(12))
    job = jobs[7]
    assert job.input == "one" and job.agent.name == "S"
    assert job.config.metadata == {
        "team": "x",
        "compare_id": "cmp_test",
        "grid_id": "grid_test",
        "agent_label": "slow",
        "case_id": "c1",
        "repeat": 1,
    }
    assert jobs.where(7) == ("slow", jobs.cases[0], 1)
    assert jobs[-1].index == 11
    with pytest.raises(IndexError):
        jobs[12]


def test_a_job_is_the_same_on_every_read_and_run_ids_are_unique() -> None:
    jobs = grid()
    first = [j.config.run_id for j in jobs]
    assert first == [j.config.run_id for j in jobs] == [jobs.run_id(i) for i in range(len(jobs))]
    assert len(set(first)) == len(first)
    assert all(re.fullmatch(r"run_[0-9a-f]{16}", r) for r in first)  # the shape new_run_id makes
    assert set(first).isdisjoint(j.config.run_id for j in grid())  # another comparison: other ids


def test_a_seed_gives_each_repeat_its_own_seed() -> None:
    jobs = grid(seed=10)
    assert [jobs[i].config.model_settings for i in (0, 1)] == [
        {"temperature": 0, "seed": 10},
        {"temperature": 0, "seed": 11},
    ]
    assert jobs[1].config.metadata["seed"] == 11
    assert "seed" not in grid()[1].config.model_settings


def test_picked_and_slices_are_jobs_of_the_grid_by_position() -> None:
    jobs = grid()
    picked = Picked(jobs, [3, 8])
    assert [j.index for j in picked] == [3, 8] and len(picked) == 2
    assert picked[1].config.run_id == jobs[8].config.run_id
    assert [j.index for j in jobs[10:]] == [10, 11]
    assert [j.index for j in picked[1:]] == [8]


def test_grid_cases_give_back_equal_cases_and_keep_only_the_inputs_of_plain_ones() -> None:
    given = [
        Case("plain"),
        Case("rich", expected={"a": [1]}, id="r1", metadata={"topic": "x"}),
        Case("expected only", expected=0),
    ]
    cases = GridCases(given)
    assert len(cases) == 3 and list(cases) == given and cases[-2] == given[1]
    assert cases[1:] == given[1:]
    assert cases[0].input is given[0].input  # the caller's own string, not a copy
    assert cases[0].case_id == given[0].case_id and cases[1].metadata == {"topic": "x"}
    with pytest.raises(IndexError):
        cases[3]
    for name in ("input", "case_id", "expected"):  # the table's columns, without making the Cases
        assert cases.column(name) == [getattr(c, name) for c in given]
    assert cases.column("topic") == [None, "x", None]
