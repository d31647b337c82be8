"""The scheduling seam of `compare`: jobs, a `Scheduler` that runs them, and the local scheduler.

`Scheduler.submit(jobs, concurrency=..., report=...)` starts the (agent, input) jobs and returns a
`Handle` at once; the scheduler calls `report("start"|"done", job, result)` from any thread as
runs start and end. `LocalScheduler` runs them on this process's private run loop, at most
`concurrency` at a time; `DaskScheduler` (comparison/dask.py) runs them on a Dask cluster.
Who records a run in the history is part of the contract: see `Scheduler.records_runs`.

Memory does not grow with the grid: `jobs` may be a lazy sequence (`comparison.grid.Grid`
makes each job when it is read), the local scheduler keeps `concurrency` runs going with as
many worker tasks (not one task per job waiting on a semaphore), and with
``keep_results=False`` (what `compare` passes) a handle keeps no RunResult: each one goes to
`report` and is let go. `Handle.results()` is for callers that ask to keep them (the default).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.comparison.cases import Case
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.config import RunConfig
    from openstackai_nb.runner.loop import LoopTask

__all__ = ["Handle", "Job", "LocalScheduler", "Report", "Scheduler", "failed_result", "run_job"]


@dataclass(frozen=True)
class Job:
    """One (agent, case, repeat) run of a comparison."""

    index: int
    """Position in the result table."""
    label: str
    """The agent's label (its name, or the key given in a dict of agents)."""
    agent: Agent
    """The agent to run."""
    input: str
    """The prompt."""
    config: RunConfig
    """The run's config (its own run_id; metadata carries compare_id, case_id and repeat)."""
    case: Case | None = None
    """The case the input comes from (its expected answer and metadata, for the scorers)."""
    repeat: int = 0
    """Which repeat of (agent, case) this run is, from 0."""


Report = Callable[[str, Job, "RunResult | None"], None]
"""`report(kind, job, result)`: kind "start" (result None) or "done"; called from any thread.

A report may also have a ``behind()`` method (`compare`'s does): True while too many of the
finished runs it was given still wait to be taken (scored, shown, copied into the table). The
local scheduler's workers then start no new run until it is False: finished RunResults
(~10 KB each) do not pile up while compare's thread cannot keep up (a loaded machine)."""


class Handle(Protocol):
    """A submitted comparison: wait for it, or cancel it."""

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True once every job has ended."""
        ...

    def cancel(self) -> None:
        """Stop the jobs (running runs end CANCELLED) and wait until they have stopped."""
        ...

    def results(self) -> list[RunResult]:
        """The results in job order (after `wait` returned True); raises what the jobs raised.

        A handle submitted with ``keep_results=False`` kept none: it returns an empty list
        (each result went to `report`), still raising what the jobs raised.
        """
        ...


class Scheduler(Protocol):
    """Where the runs of a comparison execute: this process (`LocalScheduler`) or a cluster (`DaskScheduler`).

    The contract, for every scheduler:
    - `concurrency` is the total number of runs in flight at once, wherever they run (provider
      rate limits count the total): a cluster divides it among its workers.
    - `report(kind, job, result)` is called once with "start" when a job starts and once with
      "done" and its RunResult when it ends (a job that never started gets neither, except a
      FAILED "done" when its worker was lost; "start" then comes first). At most one "done" per
      job: a scheduler that may run a job twice drops the second result.
    - `records_runs` says who records the runs in the session's history. True (local): the runs
      were recorded where they ran, by the runs' observers (`runner.observers`: the session's
      history), like any run of this process. False (remote): nothing was recorded where they ran (workers keep
      no history); the caller records each "done" result it receives (`compare` does, then waits
      for the history's writes before it returns).
    - `submit` may take ``keep_results`` (a keyword, default True): False says the caller takes
      every result from its "done" report, so the handle holds none and `results()` returns an
      empty list (still raising what the jobs raised). `compare` passes it when the scheduler's
      `submit` has the parameter (a scheduler without it keeps working, holding what it holds).
    """

    records_runs: bool
    """True: runs are already recorded where they ran (this process); False: the caller records them."""

    def submit(self, jobs: Sequence[Job], *, concurrency: int, report: Report) -> Handle:
        """Start the jobs, at most `concurrency` at a time; call `report` as each starts and ends.

        A scheduler may also take ``keep_results: bool = True`` (see above).
        """
        ...


class LocalScheduler:
    """Runs jobs on this process's private run loop, `concurrency` worker tasks taking them in order."""

    records_runs = True
    """The runner records each run in this process's history as it ends."""

    def submit(self, jobs: Sequence[Job], *, concurrency: int, report: Report, keep_results: bool = True) -> Handle:
        """Start the jobs on the private loop thread and return at once.

        With ``keep_results=False`` each result goes to `report` only (the handle keeps none).
        """
        from openstackai_nb.runner.loop import LoopTask

        def start(_: Any) -> Coroutine[Any, Any, list[RunResult] | None]:
            return _run_all(jobs, concurrency, report, keep_results)

        task: LoopTask[None, list[RunResult] | None] = LoopTask(start)
        return _LocalHandle(task)


class _LocalHandle:
    """The `Handle` of a local comparison: its task on the private run loop."""

    def __init__(self, task: LoopTask[None, list[RunResult] | None]) -> None:
        self._task = task

    def wait(self, timeout: float) -> bool:
        return self._task.wait(timeout)

    def cancel(self) -> None:
        self._task.cancel()

    def results(self) -> list[RunResult]:
        results = self._task.result()
        return [] if results is None else results  # None: submitted with keep_results=False


async def _run_all(jobs: Sequence[Job], concurrency: int, report: Report, keep: bool = True) -> list[RunResult] | None:
    """Run the jobs with `concurrency` worker tasks, each taking the next job when its run ends."""
    from openstackai_nb.runner.observers import batch

    kept: list[RunResult | None] = [None] * len(jobs) if keep else []
    positions = iter(range(len(jobs)))  # shared: each job is taken by one worker, in order
    behind: Callable[[], bool] | None = getattr(report, "behind", None)

    async def worker() -> None:
        for i in positions:
            job = jobs[i]
            report("start", job, None)
            result = await run_job(job)
            report("done", job, result)
            if keep:
                kept[i] = result
            del job, result  # not held while this worker waits for the report's taker
            while behind is not None and behind():
                await asyncio.sleep(_PAUSE)

    # A run's history commit does not hold its slot; every run is committed before this returns.
    async with batch():
        tasks = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(jobs)))]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    return [r for r in kept if r is not None] if keep else None


_PAUSE = 0.005  # seconds a worker waits before it asks `behind()` again


async def run_job(job: Job) -> RunResult:
    """Run one job to a RunResult: timeouts and errors become FAILED results, never exceptions.

    Every result reaches its run's observers once: the run loop tells them of the runs it
    started, and a run that could not start is reported here (so a worker's observer sees it too).
    """
    from openstackai_nb.errors import TimeoutError as RunTimeoutError
    from openstackai_nb.runner.api import Runner
    from openstackai_nb.runner.observers import report_unstarted

    try:
        return await Runner.run_async(job.agent, job.input, config=job.config)
    except RunTimeoutError as exc:
        if exc.result is not None:
            return exc.result
        result = failed_result(job, exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. ConfigError before the run started: a FAILED row
        result = failed_result(job, exc)
    await report_unstarted(result, job.config.observers)  # inside compare: committed by its batch's end
    return result


def failed_result(
    job: Job, exc: BaseException | None, *, status: Literal["FAILED", "CANCELLED"] = "FAILED", error: str = ""
) -> RunResult:
    """The result of a job that did not run to its end here: FAILED (by default) or CANCELLED.

    It is not recorded: whoever makes it records it (`run_job` through the run's observers;
    `compare` for a remote scheduler's results).
    """
    from openstackai_nb._secrets import scrub
    from openstackai_nb.results import RunResult, RunStatus

    return RunResult(
        run_id=job.config.run_id,
        status=RunStatus(status),
        agent_name=job.agent.name,
        model=_model_name(job.agent),
        input=job.input,
        started_at=datetime.now(UTC),
        metadata=dict(job.config.metadata),
        error=scrub(error or f"{type(exc).__name__}: {exc}"),
    )


def _model_name(agent: Agent) -> str:
    try:
        return agent.model_name
    except Exception:  # noqa: BLE001 - a broken model setting must not hide the row
        return ""
