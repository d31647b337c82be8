"""What a Dask worker runs for `DaskScheduler`: the agents once per compare, then chunks of pairs.

A chunk is one Dask task. It runs its pairs on this process's private run loop (the one every
sync run of the process uses, `runner.loop`: one warm HTTP pool per worker process), at most
`per_worker` at a time for the whole worker: chunks of one compare running side by side on a
worker share one `asyncio.Semaphore`. Each pair reports "start" when it gets its slot and "done" with its
RunResult (JSON, scrubbed here with the keys this worker knows) the moment it ends, as Dask
events on the compare's topic, which the scheduler forwards to the client over the connections
it already has (batched; no request per event).

Nothing is recorded here: each pair runs with its own observers (`RunConfig(observers=...)`):
the session's, minus the one that writes the history (`RunObserver.records_history`), plus
`_Kept`, which hands the finished run to the chunk. So no history file is created on a worker,
and nothing of the process is swapped (a thread-based cluster living in the client's own process
goes on recording its other runs).

When a worker dies, Dask runs the chunk again elsewhere. The pairs whose result already reached
the scheduler are skipped: each "done" is followed by the pair's index on the chunk's own
topic, which the scheduler keeps (`distributed.admin.low-level-log-length`, 1000, per topic,
hence the bound on chunk sizes) and a new attempt reads before it starts.

Once every pair of a chunk has started, the chunk leaves the worker's thread pool (`secede`),
so that the next chunk can start filling the slots its last runs free.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openstackai_nb.comparison._dask_internals import shorten_log
from openstackai_nb.comparison.scheduler import Job, run_job
from openstackai_nb.runner.observers import RunObserver, for_run

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.config import RunConfig

__all__ = ["MAX_CHUNK", "Chunk", "Pair", "load_agents", "run_chunk", "stop_compare"]

MAX_CHUNK = 1000
"""The most pairs in one chunk: the scheduler keeps that many events per topic (distributed's
default `distributed.admin.low-level-log-length`), and a chunk's finished pairs are one topic."""


@dataclass(frozen=True, slots=True)
class Pair:
    """One (agent, input) job as it travels to a worker (the agent travels once, by label)."""

    index: int
    label: str
    input: str
    config: RunConfig


@dataclass(frozen=True, slots=True)
class Chunk:
    """The pairs one Dask task runs, and where it reports."""

    compare: str
    """The compare's id (its topics and the per-process slots are keyed by it)."""
    per_worker: int
    """Runs in flight at once in one worker process, for this compare."""
    pairs: tuple[Pair, ...]

    @property
    def topic(self) -> str:
        """The compare's topic: "start" and "done" events, read by the client."""
        return f"openstackai-nb-{self.compare}"

    def done_topic(self, number: int) -> str:
        """Chunk `number`'s topic: the index of each pair whose result was sent."""
        return f"openstackai-nb-{self.compare}-{number}"


# -- the agents ---------------------------------------------------------------------------------
def load_agents(payload: bytes) -> dict[str, Agent]:
    """The Dask task whose result is the compare's agents (recomputed if its worker dies)."""
    import cloudpickle

    # Unpickling a model registers its keys with this worker's scrubber (`Model.__setstate__`).
    agents: dict[str, Agent] = cloudpickle.loads(payload)
    return agents


# -- recording: nothing on a worker -------------------------------------------------------------
class _Kept(RunObserver):
    """A pair's finished run goes to the chunk (which sends it to the client), not to a history."""

    def __init__(self, kept: list[RunResult]) -> None:
        self.kept = kept

    def run_ended(self, run: RunResult, failure: BaseException | None) -> None:
        self.kept.append(run)


def _worker_config(config: RunConfig, kept: list[RunResult]) -> RunConfig:
    """The pair's config with its observers on a worker: its own (or the session's) but the history, and `_Kept`."""
    observers = [o for o in for_run(config.observers) if not o.records_history]
    return config.model_copy(update={"observers": (*observers, _Kept(kept))})


# -- the slots of this process ------------------------------------------------------------------
@dataclass
class _Slots:
    """One compare in this worker process (touched on the private loop only)."""

    sem: asyncio.Semaphore
    running: dict[asyncio.Task[None], int] = field(default_factory=dict)
    chunks: int = 0
    stopped: bool = False


_slots: dict[tuple[str, str], _Slots] = {}
"""By (compare, worker address): workers that share a process (a thread-based cluster) keep their own."""
_stopped: collections.deque[str] = collections.deque(maxlen=256)
"""Compares stopped on this worker: a chunk of one that arrives late starts nothing."""


def _enter(key: tuple[str, str], per_worker: int) -> _Slots:
    slots = _slots.get(key)
    if slots is None:
        slots = _slots[key] = _Slots(asyncio.Semaphore(per_worker), stopped=key[0] in _stopped)
    slots.chunks += 1
    return slots


def _leave(key: tuple[str, str], slots: _Slots) -> None:
    slots.chunks -= 1
    if slots.chunks <= 0 and _slots.get(key) is slots:
        del _slots[key]


# -- a chunk ------------------------------------------------------------------------------------
class _Events:
    """Sends a chunk's events through the worker's batched connection to the scheduler."""

    def __init__(self, worker: Any, chunk: Chunk, number: int) -> None:
        self.worker = worker
        self.slots_key = (chunk.compare, str(worker.address))
        self.topic = chunk.topic
        self.done_topic = chunk.done_topic(number)

    def start(self, index: int) -> None:
        self.worker.log_event(self.topic, ["start", index])

    def done(self, index: int, result: RunResult) -> None:
        from openstackai_nb._secrets import scrub

        # The result first, then its index on the chunk's topic: a worker dying between the two
        # costs a pair run twice (the client keeps the first result), never a pair lost.
        self.worker.log_event(self.topic, ["done", index, scrub(result.to_json())])
        self.worker.log_event(self.done_topic, index)


def run_chunk(agents: Mapping[str, Agent], chunk: Chunk, number: int) -> int:
    """The Dask task of one chunk: run its pairs not yet done; return how many it ran."""
    from distributed import get_worker, secede
    from distributed.utils import sync

    from openstackai_nb.runner.loop import get_loop

    worker = get_worker()
    shorten_log(worker.batched_stream, keep=False)  # its log would keep the last 1000 batches of results
    events = _Events(worker, chunk, number)
    sent: list[tuple[float, int]] = sync(worker.loop, worker.scheduler.events, topic=events.done_topic) or []
    done = {int(index) for _, index in sent}
    todo = [pair for pair in chunk.pairs if pair.index not in done]
    if not todo or chunk.compare in _stopped:
        return 0
    launched = threading.Event()
    future = asyncio.run_coroutine_threadsafe(_run_pairs(agents, chunk, todo, events, launched), get_loop())
    launched.wait()
    if not future.done():
        secede()  # every pair has its slot: let the next chunk take the slots this one frees
    return future.result()


async def _run_pairs(
    agents: Mapping[str, Agent], chunk: Chunk, todo: Sequence[Pair], events: _Events, launched: threading.Event
) -> int:
    slots = _enter(events.slots_key, chunk.per_worker)
    tasks: list[asyncio.Task[None]] = []
    try:
        for pair in todo:
            await slots.sem.acquire()
            if slots.stopped:
                slots.sem.release()
                break
            events.start(pair.index)
            task = asyncio.create_task(_run_pair(agents, pair, events, slots))
            slots.running[task] = pair.index
            tasks.append(task)
        launched.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        launched.set()
        _leave(events.slots_key, slots)
    # A run's failure is its result; an exception here is ours (e.g. a result that could not be
    # sent): the chunk's task fails with it, and the client shows it on the pairs left without a result.
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
    return len(tasks)


async def _run_pair(agents: Mapping[str, Agent], pair: Pair, events: _Events, slots: _Slots) -> None:
    kept: list[RunResult] = []  # the run, once it ended (`_Kept`)
    config = _worker_config(pair.config, kept)
    job = Job(index=pair.index, label=pair.label, agent=agents[pair.label], input=pair.input, config=config)
    try:
        result = await run_job(job)
    except asyncio.CancelledError:
        if kept:  # the run loop recorded the run CANCELLED: the client records it
            events.done(pair.index, kept[-1])
        raise
    finally:
        slots.sem.release()
        task = asyncio.current_task()
        if task is not None:
            slots.running.pop(task, None)  # type: ignore[arg-type]
    events.done(pair.index, result)


# -- stopping -----------------------------------------------------------------------------------
async def stop_compare(compare: str) -> list[int]:
    """Run on every worker (`Client.run`) when a compare is interrupted; returns the pairs it cancelled.

    No pair of the compare starts on this worker any more; the runs in flight are cancelled
    (each ends CANCELLED and its result is sent like any other).
    """
    from openstackai_nb.runner.loop import get_loop

    cancelled = asyncio.run_coroutine_threadsafe(_stop(compare), get_loop())
    return await asyncio.wait_for(asyncio.wrap_future(cancelled), 5.0)


async def _stop(compare: str) -> list[int]:
    _stopped.append(compare)
    running: dict[asyncio.Task[None], int] = {}
    for key, slots in list(_slots.items()):
        if key[0] == compare:
            slots.stopped = True
            running.update(slots.running)
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=3.0)
    return sorted(running.values())
