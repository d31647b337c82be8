"""A compare submitted to Dask by `DaskScheduler` (`dask.py`): its chunks' tasks, and its results as they arrive.

The handle sends the chunks (a window of them at a time), takes the workers' "start" and "done"
events from the compare's topic, turns a chunk that Dask gave up on into FAILED rows (or sends
its pairs that never started once more), stops the compare on `cancel()`, and at the end drops
the compare's topics from the scheduler (`_dask_internals`).
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from openstackai_nb._secrets import scrub
from openstackai_nb.comparison._dask_internals import MESSAGE_LOG, forget_topics, shorten_log, shorten_message_logs
from openstackai_nb.comparison._dask_worker import Chunk, Pair, load_agents, run_chunk, stop_compare
from openstackai_nb.comparison._heap import trim_heap
from openstackai_nb.comparison.scheduler import Job, Report, failed_result

if TYPE_CHECKING:
    from distributed import Client, Future

    from openstackai_nb.results import RunResult

__all__ = ["CANCEL_GRACE", "DaskHandle"]

logger = logging.getLogger("openstackai_nb")

CANCEL_GRACE = 3.0
"""Seconds an interrupted compare waits for the CANCELLED results of the runs that were in flight."""
FORGET_EVERY = 16
"""Ended chunks whose topics (their finished indices) are dropped from the scheduler in one call."""


class DaskHandle:
    """One compare on the cluster: its chunk futures, and the results as they arrive.

    What it holds per job is a byte (has its result arrived?) and, while a run is in flight, its
    index; a chunk is its jobs' positions (its pairs are made when it is sent, and let go).
    RunResults go to `report`, and are kept only when asked (``keep``, for `results()`).
    """

    def __init__(
        self,
        client: Client,
        jobs: Sequence[Job],
        payload: bytes,
        *,
        per_worker: int,
        chunk_size: int,
        window: int,
        report: Report,
        keep: bool = True,
    ) -> None:
        self._client = client
        self._jobs = jobs
        self._report = report
        self._done = bytearray(len(jobs))
        kept: list[RunResult | None] = [None] * len(jobs) if keep else []
        self._kept = kept if keep else None
        self._missing = len(jobs)
        self._started: set[int] = set()
        """The jobs in flight: started, no result yet."""
        self._stopping = False
        self._closed = False
        self._inbox: queue.SimpleQueue[tuple[float, list[Any]]] = queue.SimpleQueue()
        compare = uuid.uuid4().hex[:12]
        self._compare = compare
        self._topic = f"openstackai-nb-{compare}"
        client.subscribe_topic(self._topic, self._inbox.put)  # before the tasks: no event is missed
        _shorten_message_logs(client)
        self._agents: Future[Any] = client.submit(load_agents, payload, key=f"openstackai-nb-agents-{compare}")
        self._chunks: list[Sequence[int]] = []
        """Each chunk's jobs, by position."""
        self._futures: list[Future[Any] | None] = []
        """Each chunk's task, until it ended (then None: the scheduler forgets it and its pairs)."""
        self._resent: set[int] = set()
        self._per_worker = per_worker
        self._chunk_size = chunk_size
        self._window = window
        self._sent = 0
        """Jobs sent so far (in order; a chunk sent again is not counted)."""
        self._in_flight = 0
        """Chunks sent whose task has not ended."""
        self._ended: list[str] = []
        """Topics of ended chunks, still on the scheduler (dropped `FORGET_EVERY` at a time)."""
        self._send_more()

    def _send_more(self) -> None:
        """Send the next chunks until `window` chunks are on the cluster (or every job was sent)."""
        total = len(self._jobs)
        while self._in_flight < self._window and self._sent < total and not self._stopping:
            end = min(self._sent + self._chunk_size, total)
            self._send(range(self._sent, end))
            self._sent = end

    def _send(self, positions: Sequence[int]) -> None:
        """Submit one chunk of jobs as a Dask task (after the agents' task, whose result it takes)."""
        number = len(self._chunks)
        pairs = []
        for i in positions:
            job = self._jobs[i]
            pairs.append(Pair(i, job.label, job.input, job.config))
        chunk = Chunk(self._compare, self._per_worker, tuple(pairs))
        key = f"openstackai-nb-chunk-{self._compare}-{number}"
        future = self._client.submit(run_chunk, self._agents, chunk, number, key=key)
        future.add_done_callback(lambda _: self._inbox.put((0.0, ["chunk", number])))
        self._chunks.append(positions)
        self._futures.append(future)
        self._in_flight += 1

    # -- Handle -----------------------------------------------------------------------------------
    def wait(self, timeout: float) -> bool:
        """Take the events that arrive within `timeout` seconds; True once every job has its result."""
        deadline = time.monotonic() + timeout
        while self._missing:
            try:
                _, message = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            self._take(message)
        self._close()
        return True

    def results(self) -> list[RunResult]:
        """The results in job order (an empty list when submitted with ``keep_results=False``)."""
        if self._missing:
            raise RuntimeError(f"DaskScheduler: {self._missing} jobs have no result yet (call wait() until it is True)")
        return [r for r in self._kept if r is not None] if self._kept is not None else []

    def cancel(self) -> None:
        """Stop the compare: no new run starts; runs in flight end CANCELLED (and are reported)."""
        if self._closed:
            return
        self._stopping = True
        in_flight = set(self._started)
        try:
            replies = self._client.run(stop_compare, self._compare, on_error="return", callback_timeout=5)
            for reply in cast("dict[str, Any]", replies).values():
                if isinstance(reply, list):
                    in_flight.update(int(i) for i in reply)
        except Exception as exc:  # noqa: BLE001 - a lost cluster must not hide the interrupt
            logger.warning("openstackai_nb: could not stop the compare's runs on the Dask workers: %s", exc)
        self._release()
        deadline = time.monotonic() + CANCEL_GRACE
        while any(not self._done[i] for i in in_flight | self._started):
            try:
                _, message = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self._take(message)
        for i in sorted(in_flight | self._started):
            if not self._done[i]:  # its CANCELLED result did not come back in time
                error = "cancelled (interrupted before the run finished; its worker did not report back in time)"
                self._finish(i, failed_result(self._jobs[i], None, status="CANCELLED", error=error))
        self._close()

    # -- events -----------------------------------------------------------------------------------
    def _take(self, message: list[Any]) -> None:
        kind, index = message[0], int(message[1])
        if kind == "start":
            if not self._done[index] and index not in self._started:
                self._started.add(index)
                self._report("start", self._jobs[index], None)
        elif kind == "done":
            if not self._done[index]:  # else a second run of the pair (its worker died): dropped
                from openstackai_nb.results import RunResult

                self._finish(index, RunResult.model_validate_json(message[2]))
        elif kind == "chunk" and not self._stopping and self._futures[index] is not None:
            self._chunk_ended(index)
            self._futures[index] = None  # released: the scheduler forgets the task, its pairs with it
            self._in_flight -= 1
            self._send_more()
            self._forget_ended(index)

    def _finish(self, index: int, result: RunResult) -> None:
        job = self._jobs[index]
        if index not in self._started:
            self._report("start", job, None)
        self._started.discard(index)
        self._done[index] = 1
        if self._kept is not None:
            self._kept[index] = result
        self._missing -= 1
        self._report("done", job, result)

    def _chunk_ended(self, number: int) -> None:
        """A chunk's task ended: its pairs without a result are FAILED, naming why.

        A chunk Dask gave up on because the workers running it died (`KilledWorker`) may be
        innocent: its pairs may only have waited behind a pair of another chunk that killed
        them. Its pairs that never started are sent once more in a chunk of their own; those
        that were running when the workers died end FAILED.
        """
        future = self._futures[number]
        unfinished = [i for i in self._chunks[number] if not self._done[i]]
        if not unfinished or future is None:
            return
        if future.status == "finished":
            error = "DaskScheduler: the chunk ended but this run's result never reached the client"
        else:
            try:
                exc = cast("BaseException | None", future.exception(timeout=5))
            except Exception as raised:  # noqa: BLE001 - e.g. the future was cancelled
                exc = raised
            error = _describe(exc) if exc is not None else f"the chunk's task ended {future.status}"
            if type(exc).__name__ == "KilledWorker":
                waiting = [i for i in unfinished if i not in self._started and i not in self._resent]
                if waiting:
                    resent = set(waiting)
                    self._resent |= resent
                    self._send(waiting)
                    unfinished = [i for i in unfinished if i not in resent]
        for i in unfinished:
            self._finish(i, failed_result(self._jobs[i], None, error=error))

    def _forget_ended(self, number: int) -> None:
        """Drop ended chunks' topics of finished indices (read only by a new attempt of the chunk).

        Each keeps up to a chunk's worth of events on the scheduler (16 KB for 128 indices): kept
        to the end, a 100,000-run grid's 782 chunk topics would hold about 12 MB there. A chunk's last event reaches
        the scheduler before its task ends (one ordered stream per worker), so no event of it
        comes after this drop to make the topic again.
        """
        self._ended.append(Chunk(self._compare, self._per_worker, ()).done_topic(number))
        if len(self._ended) < FORGET_EVERY:
            return
        topics, self._ended = self._ended, []
        try:
            self._client.run_on_scheduler(forget_topics, topics)  # a problem is said once, by _close
        except Exception as exc:  # noqa: BLE001 - a lost scheduler keeps no topic; the compare goes on
            logger.debug("openstackai_nb: could not drop ended chunks' Dask topics: %s", exc)

    # -- the end ----------------------------------------------------------------------------------
    def _release(self) -> None:
        try:
            self._client.cancel([*(f for f in self._futures if f is not None), self._agents], force=True)
        except Exception as exc:  # noqa: BLE001 - a failed cancel (client closed, scheduler gone) is logged; the compare ends anyway
            logger.warning("openstackai_nb: could not cancel the compare's Dask tasks: %s", exc)

    def _close(self) -> None:
        """Release the tasks and the topics (once)."""
        if self._closed:
            return
        self._closed = True
        futures = [f for f in self._futures if f is not None]
        self._futures = []
        del self._agents
        name = Chunk(self._compare, self._per_worker, ())
        topics = [self._topic, *(name.done_topic(n) for n in range(len(self._chunks)))]
        try:
            # A chunk's last event (its last index) may still be on its way when its last result
            # came: it reaches the scheduler before the chunk's task ends (one ordered stream per
            # worker), so wait for the tasks; an event after the drop would make the topic again.
            _ended(futures, CANCEL_GRACE)
            # No public API drops a topic: a reliance on distributed's internals, in
            # _dask_internals. Dropping the topic drops our subscription with it. No
            # `unsubscribe_topic` first: it travels on the client's other connection, unordered
            # with this call, and arriving after the drop it would make the topic again.
            problem = self._client.run_on_scheduler(forget_topics, topics)
            if isinstance(problem, str):  # the topics stay: at least stop their events coming here
                self._client.unsubscribe_topic(self._topic)
        except Exception as exc:  # noqa: BLE001 - a closed cluster keeps no topic anyway
            logger.debug("openstackai_nb: could not drop the compare's Dask topics: %s", exc)
            problem = None
        if isinstance(problem, str):  # run_on_scheduler returns the function's value (sync client)
            logger.warning("openstackai_nb: %s", scrub(problem))
        trim_heap()  # the compare's messages, decoded by distributed's IO thread, are all freed by now


def _shorten_message_logs(client: Client) -> None:
    """Keep `MESSAGE_LOG` batches, not 1000, in the debugging logs of the streams the compare's messages take.

    The scheduler's stream to this client carries every result's JSON; each stream keeps its last
    1000 batches (`_dask_internals`): with the scheduler in this process, a grid's results stayed
    in the client's memory, up to 1000 batches of them.
    """
    comm = getattr(client, "scheduler_comm", None)  # None: not connected (yet)
    problem = shorten_log(comm, MESSAGE_LOG, keep=False) if comm is not None else None
    try:
        problem = client.run_on_scheduler(shorten_message_logs, client.id, MESSAGE_LOG) or problem
    except Exception as exc:  # noqa: BLE001 - the compare runs anyway; a lost scheduler fails it below
        logger.debug("openstackai_nb: could not shorten the Dask scheduler's message logs: %s", exc)
    if isinstance(problem, str):
        logger.warning("openstackai_nb: %s", scrub(problem))


def _ended(futures: Sequence[Future[Any]], timeout: float) -> None:
    """Wait up to `timeout` seconds for these tasks to end (finished, failed or cancelled).

    Each future is waited on through its own client (`Future.exception`): `distributed.wait` takes
    `default_client()`, which is not the compare's when its client was made with
    ``set_as_default=False`` (or another client was made after it); it then raised "No clients
    found" or returned at once, and the topics were dropped before the last chunk's events came.
    """
    deadline = time.monotonic() + timeout
    for future in futures:
        try:
            future.exception(timeout=max(0.001, deadline - time.monotonic()))  # a failed task's error is _chunk_ended's
        except TimeoutError:  # a task still running (an interrupted compare): its late events may stay
            return
        except Exception as exc:  # noqa: BLE001 - a lost cluster: the topics are dropped (or not) anyway
            logger.debug("openstackai_nb: could not wait for the compare's Dask tasks: %s", exc)
            return


def _describe(exc: BaseException) -> str:
    """The exception as 'Type: message', scrubbed (a message that cannot be made says so)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ of any kind must not hide the error itself
        text = "(its message could not be made)"
    return scrub(f"{type(exc).__name__}: {text}")
