"""compare() holds its table's cells, not its RunResults: memory that does not grow with the grid.

The figures (peak and retained RSS of 10,000 to 100,000-run grids) are in
benchmarks/bench_compare_memory.py; these tests pin the behaviours behind them.
"""

from __future__ import annotations

import asyncio
import gc

import pytest

from openstackai_nb import Agent, compare
from openstackai_nb.comparison import Job, LocalScheduler
from openstackai_nb.comparison.cases import Case
from openstackai_nb.comparison.grid import Grid
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.results import RunResult
from openstackai_nb.runner import RunConfig
from openstackai_nb.store import RunHistory


def live_results() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, RunResult))


def test_finished_runs_are_let_go_as_the_grid_goes_on(session_history: RunHistory) -> None:
    size = 300
    seen: dict[str, int] = {}

    def score(result: RunResult, case: Case) -> float:
        seen["calls"] = seen.get("calls", 0) + 1
        if seen["calls"] == size:  # the last run of the grid, on compare's thread
            seen["live"] = live_results()
        return 1.0

    before = live_results()
    agent = Agent(name="S", model="scripted")
    df = compare(agent, [f"say 2 words, case {i}" for i in range(size)], concurrency=8, progress=False, score=score)
    assert len(df) == size and (df["status"] == "COMPLETED").all() and (df["score"] == 1.0).all()
    # Only the runs in flight or waiting to be taken are alive, not the 300 finished ones.
    assert seen["live"] - before < 40, seen
    assert set(df["run_id"]) == {r.run_id for r in session_history}


def test_the_local_scheduler_runs_concurrency_workers_not_a_task_per_job() -> None:
    tasks: list[int] = []

    async def model(messages, info):
        tasks.append(len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        return "ok"

    agent = Agent(name="M", model=FunctionModel(model))
    df = compare(agent, [f"q{i}" for i in range(200)], concurrency=4, progress=False)
    assert (df["status"] == "COMPLETED").all()
    assert max(tasks) < 4 + 10  # 4 workers and the loop's own few; one task per job would be 200+


def test_a_scheduler_asked_to_keep_no_results_reports_each_and_keeps_none() -> None:
    pairs = [("E", Agent(name="E", model=FunctionModel(lambda m, i: "echo " + (m[-1].content or ""))))]
    jobs = Grid(pairs, [Case(f"x{i}") for i in range(5)], 1, RunConfig(), seed=None, compare_id="c", grid_id="g")
    done: list[tuple[int, str]] = []

    def report(kind: str, job: Job, result: RunResult | None) -> None:
        if result is not None:
            done.append((job.index, result.final_output))

    handle = LocalScheduler().submit(jobs, concurrency=2, report=report, keep_results=False)
    while not handle.wait(0.1):
        pass
    assert handle.results() == []
    assert sorted(done) == [(i, f"echo x{i}") for i in range(5)]
    kept = LocalScheduler().submit(jobs, concurrency=2, report=lambda *a: None)  # the default keeps them
    while not kept.wait(0.1):
        pass
    assert [r.final_output for r in kept.results()] == [f"echo x{i}" for i in range(5)]


@pytest.mark.parametrize("repeats", [1, 3])
def test_rows_match_their_runs_whatever_order_the_runs_end_in(repeats: int) -> None:
    async def slow_first(messages, info):
        text = messages[-1].content or ""
        await asyncio.sleep(0.05 if text.endswith("0") else 0)  # the first case ends last
        return f"{info.settings.get('seed')}:{text}"

    agents = {"a": Agent(name="A", model=FunctionModel(slow_first)), "b": Agent(name="B", model="scripted")}
    df = compare(agents, ["say 1 words 0", "say 2 words 1"], repeats=repeats, seed=5, progress=False)
    a = df[df.agent == "a"]
    assert a["final_output"].tolist() == [f"{5 + r}:say {n} words {n - 1}" for n in (1, 2) for r in range(repeats)]
    assert a["repeat"].tolist() == [r for _ in (1, 2) for r in range(repeats)]
    b = df[df.agent == "b"]
    assert b["completion_tokens"].tolist() == [n for n in (1, 2) for _ in range(repeats)]
    assert df["run_id"].is_unique


def test_a_large_table_hands_the_free_heap_back_once_its_data_is_freed() -> None:
    import os

    import pandas as pd

    from openstackai_nb.comparison.table import _TRIM_ROWS, _trim_when_deleted

    small = compare(Agent(name="S", model="scripted"), ["say 2 words"], progress=False)
    assert "_openstackai_nb_trim" not in vars(small)  # a table under _TRIM_ROWS rows: nothing to give back
    frame = pd.DataFrame({"run_id": [f"run_{i}" for i in range(_TRIM_ROWS)]})
    _trim_when_deleted(frame)
    if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
        assert "_openstackai_nb_trim" not in vars(frame)
        return
    # Last in the attribute dict: freed (and malloc_trim called) after the table's data, `_mgr`.
    assert list(vars(frame))[-1] == "_openstackai_nb_trim" and "_mgr" in vars(frame)
    assert "_openstackai_nb_trim" not in vars(frame.copy()) and "_openstackai_nb_trim" not in frame.columns
    del frame  # no unraisable exception (pytest turns one into an error)
    gc.collect()


def test_the_local_scheduler_starts_no_run_while_its_report_is_behind() -> None:
    import threading
    import time

    pairs = [("E", Agent(name="E", model=FunctionModel(lambda m, i: "ok")))]
    jobs = Grid(pairs, [Case(f"x{i}") for i in range(20)], 1, RunConfig(), seed=None, compare_id="c", grid_id="g")

    class Taker:
        def __init__(self) -> None:
            self.started = 0
            self.done = threading.Event()
            self.hold = True

        def __call__(self, kind: str, job: Job, result: RunResult | None) -> None:
            if kind == "start":
                self.started += 1
            else:
                self.done.set()

        def behind(self) -> bool:  # what compare's reports say while its thread lags
            return self.hold

    taker = Taker()
    handle = LocalScheduler().submit(jobs, concurrency=2, report=taker, keep_results=False)
    assert taker.done.wait(10)
    time.sleep(0.2)  # the workers wait, asking behind() again and again
    assert taker.started == 2
    taker.hold = False
    while not handle.wait(0.1):
        pass
    assert taker.started == 20


def test_score_columns_keep_their_cells_whatever_the_scorers_return() -> None:
    import math

    given = {"a": 0.5, "b": True, "c": "text", "d": 3}

    def mixed(result: RunResult, case: Case) -> object:
        return given[case.input]

    def numbers(result: RunResult, case: Case) -> object:
        return {"a": 0.25, "b": False, "c": None, "d": 1.5}[case.input]

    df = compare(Agent(name="S", model="scripted"), list(given), score={"m": mixed, "n": numbers}, progress=False)
    assert df["m"].tolist() == [0.5, 1.0, "text", 3] and df["m"].dtype == object
    assert df["n"].dtype == "float64" and df["n"].tolist()[:2] == [0.25, 0.0] and math.isnan(df["n"][2])
