"""The scheduling seam of `compare`: jobs, a `Scheduler` that runs them, and the local scheduler.

`Scheduler.submit(jobs, concurrency=..., report=...)` starts the (agent, input) jobs and returns a
`Handle` at once; the scheduler calls `report("start"|"done", job, result)` from any thread as
runs start and end. `LocalScheduler` runs them on this process's private run loop, at most
`concurrency` at a time; a distributed scheduler implements the same two methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner._sync import LoopTask
    from openstackai_nb.runner.config import RunConfig

__all__ = ["Handle", "Job", "LocalScheduler", "Report", "Scheduler", "run_job"]


@dataclass(frozen=True)
class Job:
    """One (agent, input) run of a comparison."""

    index: int
    """Position in the result table."""
    label: str
    """The agent's label (its name, or the key given in a dict of agents)."""
    agent: Agent
    """The agent to run."""
    input: str
    """The prompt."""
    config: RunConfig
    """The run's config (its own run_id; metadata carries compare_id)."""


Report = Callable[[str, Job, "RunResult | None"], None]
"""`report(kind, job, result)`: kind "start" (result None) or "done"; called from any thread."""


class Handle(Protocol):
    """A submitted comparison: wait for it, or cancel it."""

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True once every job has ended."""
        ...

    def cancel(self) -> None:
        """Stop the jobs (running runs end CANCELLED) and wait until they have stopped."""
        ...

    def results(self) -> list[RunResult]:
        """The results in job order (after `wait` returned True); raises what the jobs raised."""
        ...


class Scheduler(Protocol):
    """Where the runs of a comparison execute (local asyncio by default; Dask later)."""

    def submit(self, jobs: Sequence[Job], *, concurrency: int, report: Report) -> Handle:
        """Start the jobs, at most `concurrency` at a time; call `report` as each starts and ends."""
        ...


class LocalScheduler:
    """Runs jobs on this process's private run loop, bounded by an asyncio semaphore."""

    def submit(self, jobs: Sequence[Job], *, concurrency: int, report: Report) -> Handle:
        """Start the jobs on the private loop thread and return at once."""
        from openstackai_nb.runner._sync import LoopTask

        task: LoopTask[None, list[RunResult]] = LoopTask(lambda _: _run_all(jobs, concurrency, report))
        return _LocalHandle(task)


class _LocalHandle:
    """The `Handle` of a local comparison: its task on the private run loop."""

    def __init__(self, task: LoopTask[None, list[RunResult]]) -> None:
        self._task = task

    def wait(self, timeout: float) -> bool:
        return self._task.wait(timeout)

    def cancel(self) -> None:
        self._task.cancel()

    def results(self) -> list[RunResult]:
        return self._task.result()


async def _run_all(jobs: Sequence[Job], concurrency: int, report: Report) -> list[RunResult]:
    from openstackai_nb.runner.recorder import commits_deferred

    sem = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> RunResult:
        async with sem:
            report("start", job, None)
            result = await run_job(job)
            report("done", job, result)
            return result

    # A run's history commit does not hold its slot; every run is committed before this returns.
    async with commits_deferred():
        tasks = [asyncio.ensure_future(one(job)) for job in jobs]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


async def run_job(job: Job) -> RunResult:
    """Run one job to a RunResult: timeouts and errors become FAILED results, never exceptions."""
    from openstackai_nb.errors import TimeoutError as RunTimeoutError
    from openstackai_nb.runner.api import Runner

    try:
        return await Runner.run_async(job.agent, job.input, config=job.config)
    except RunTimeoutError as exc:
        if exc.result is not None:
            return exc.result
        return _failed(job, exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. ConfigError before the run started: a FAILED row
        return _failed(job, exc)


def _failed(job: Job, exc: BaseException) -> RunResult:
    """A FAILED result for a run that could not start (recorded in history like any run)."""
    from openstackai_nb import store
    from openstackai_nb._secrets import scrub
    from openstackai_nb.results import RunResult, RunStatus

    result = RunResult(
        run_id=job.config.run_id,
        status=RunStatus.FAILED,
        agent_name=job.agent.name,
        model=_model_name(job.agent),
        input=job.input,
        started_at=datetime.now(UTC),
        metadata=dict(job.config.metadata),
        error=scrub(f"{type(exc).__name__}: {exc}"),
    )
    store.record(result, finished=True, wait=False)  # committed by compare()'s closing barrier
    return result


def _model_name(agent: Agent) -> str:
    try:
        return agent.model_name
    except Exception:  # noqa: BLE001 - a broken model setting must not hide the row
        return ""
