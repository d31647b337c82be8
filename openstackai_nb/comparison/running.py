"""How `compare` runs jobs: on a scheduler, each finished run scored, shown and handed on, then let go.

`run_jobs` submits the jobs to the scheduler and, on compare's thread, takes what it reports:
each "start" goes to the progress view, each "done" result is recorded (for a scheduler whose
runs nobody recorded where they ran), scored (`Scoring`), shown, and given to `on_done(job,
result)`, which keeps what the table needs (`store.frames.RunColumns`). No list of results is
built: a grid's memory is its table's cells, not its RunResults. The progress view is what
`compare(progress=...)` asked for (`comparison.progress`).
"""

from __future__ import annotations

import asyncio
import inspect
import queue
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from openstackai_nb.comparison.progress import Progress, ProgressView, progress_view
from openstackai_nb.comparison.scheduler import Handle, Job, LocalScheduler, Scheduler

if TYPE_CHECKING:
    from openstackai_nb.comparison.scoring import Scoring
    from openstackai_nb.results import RunResult

__all__ = ["Done", "run_jobs"]

Done = Callable[[Job, "RunResult"], None]
"""``on_done(job, result)``: a finished run, on compare's thread (keep what you need of it)."""


def run_jobs(
    jobs: Sequence[Job],
    labels: list[str],
    per_agent: int,
    *,
    concurrency: int,
    progress: bool | Progress,
    scheduler: Scheduler | None,
    scoring: Scoring | None,
    on_done: Done,
    already: Sequence[tuple[Job, RunResult]] = (),
) -> None:
    """Run the jobs on the scheduler, drawing progress, scoring and handing on each run as it ends.

    `labels` are the progress view's rows, `per_agent` the runs of each; one label for jobs of
    several labels (the judges) counts them all on that row. `already` are runs taken from
    history (resume): scored, handed on and counted as done without running.
    """
    if not jobs:
        _take(already, scoring, None, on_done)
        return
    compare_id = jobs[0].config.metadata.get("compare_id", "")
    scheduler = scheduler or LocalScheduler()
    row = labels[0] if len(labels) == 1 else None
    record = not getattr(scheduler, "records_runs", True)
    reports = _Reports(record=record, scoring=scoring, row=row, on_done=on_done, limit=max(_BEHIND, 8 * concurrency))
    # Submitted first: a scheduler that refuses the jobs (ConfigError) leaves no progress table.
    handle = _submit(scheduler, jobs, concurrency, reports)
    try:
        reports.view = progress_view(progress, labels, per_agent)
        _take(already, scoring, reports.view, on_done)
    except BaseException:
        reports.closing = True
        handle.cancel()
        raise
    _wait(handle, reports, compare_id)


def _submit(scheduler: Scheduler, jobs: Sequence[Job], concurrency: int, report: _Report) -> Handle:
    """`scheduler.submit`, asking it to keep no results when it takes ``keep_results`` (see `Scheduler`)."""
    try:
        takes_keep = "keep_results" in inspect.signature(scheduler.submit).parameters
    except (TypeError, ValueError):  # no signature to read: submit as the protocol always allowed
        takes_keep = False
    if takes_keep:
        submit: Callable[..., Handle] = scheduler.submit
        return submit(jobs, concurrency=concurrency, report=report, keep_results=False)
    return scheduler.submit(jobs, concurrency=concurrency, report=report)


_Report = Callable[[str, Job, "RunResult | None"], None]

_BEHIND = 1024  # finished runs waiting to be taken before the local scheduler holds new runs back (at least)


def _take(
    already: Sequence[tuple[Job, RunResult]], scoring: Scoring | None, view: ProgressView | None, on_done: Done
) -> None:
    """Runs taken from history (resume): scored, shown as done and handed on, not recorded again."""
    for job, result in already:
        shown = scoring.score(job, result) if scoring is not None else None
        on_done(job, result)
        if view is not None:
            view.started(job.label)
            view.finished(job.label, result, shown)


class _Reports:
    """What the scheduler reports (from any thread), taken on compare's thread.

    Called as the scheduler's `report`. For a remote scheduler (`records_runs` False) each
    finished run is also recorded here, in this process's history: nothing recorded it where it
    ran. `behind()` tells the local scheduler to hold new runs back while more than `limit`
    finished runs wait to be taken (`scheduler.Report`). Compare's thread takes them every
    0.1 s: on a loaded machine it was seen 1,600 finished runs behind (about 16 MB of
    RunResults in this queue, 100,000 runs, load average 7 on 2 cores), and a slow scorer let
    the queue grow with the grid. The limit is well above what 0.1 s brings at full speed
    (~130 runs): counting the "start" reports too and holding at 256 halved the grid's speed.
    """

    def __init__(
        self, *, record: bool, scoring: Scoring | None, row: str | None, on_done: Done, limit: int = _BEHIND
    ) -> None:
        self.events: queue.SimpleQueue[tuple[str, Job, RunResult | None]] = queue.SimpleQueue()
        self.record = record
        self.scoring = scoring
        self.row = row  # the view's one row for every job (the judges), else each job's label
        self.on_done = on_done
        self.view: ProgressView | None = None
        self.limit = limit
        self.closing = False  # interrupted: the scheduler must not wait for reports nobody takes
        self.given = 0  # finished runs reported (counted by the reporting thread only)
        self.taken = 0  # ... and taken (by compare's thread only)

    def __call__(self, kind: str, job: Job, result: RunResult | None) -> None:
        self.events.put((kind, job, result))
        if result is not None:
            self.given += 1

    def behind(self) -> bool:
        """True while more than `limit` finished runs wait to be taken (the local scheduler then waits)."""
        return not self.closing and self.given - self.taken > self.limit

    def drain(self) -> None:
        from openstackai_nb.store import session

        view = self.view
        while True:
            try:
                kind, job, result = self.events.get_nowait()
            except queue.Empty:
                return
            if kind == "start":
                if view is not None:
                    view.started(self.row or job.label)
            elif result is not None:
                self.taken += 1
                if self.record:
                    session.record(result, finished=True, wait=False)  # committed by flush()
                shown = self.scoring.score(job, result) if self.scoring is not None else None
                self.on_done(job, result)
                if view is not None:
                    view.finished(self.row or job.label, result, shown)

    def flush(self) -> None:
        """Wait until the runs recorded here are committed (nothing to do when the runner recorded them)."""
        if self.record:
            from openstackai_nb.store import session

            session.flush()


def _wait(handle: Handle, reports: _Reports, compare_id: str) -> None:
    """Wait for every job, drawing progress; on an interrupt cancel the jobs and say where the finished ones are."""
    view = reports.view
    try:
        while not handle.wait(0.1):
            reports.drain()
            if view is not None:
                view.refresh()
    except BaseException as exc:
        reports.closing = True
        handle.cancel()
        reports.drain()
        reports.flush()
        if view is not None:
            view.close(interrupted=True)
        if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
            exc.add_note(
                f"compare {compare_id} was interrupted; its finished runs are in history: "
                f"history.filter(metadata={{'compare_id': '{compare_id}'}})"
            )
        raise
    reports.drain()
    reports.flush()
    if view is not None:
        view.close()
    handle.results()  # raises what the jobs raised (submitted with keep_results=False, it holds no result)
