"""How a tool call runs: sync tools in the package's tool-thread pool, async tools with timed steps.

Where a call runs:

- a plain ``def`` runs in a thread of the package's own tool-thread pool (not the event loop's
  default executor). Python cannot stop a thread, so a call that hangs keeps its thread; but once
  the run stops waiting for it (timeout, cancellation) the call no longer counts against the
  pool's capacity and later calls get a fresh thread. With the loop's default executor, as many
  hung calls as it has workers made every later sync tool of the process wait forever;
- an ``async def`` runs on the event loop. Each step of it (the code between two awaits) is
  timed: a step longer than `BLOCKED_LOOP_WARNING_S` blocked the loop (``time.sleep``, CPU work,
  a blocking library) and stalled every other run and output on it; it is logged as a warning
  naming the tool and recorded as ``blocked_loop_s`` on the call's trace span. A blocking step
  cannot be interrupted: `timeout_per_turn` cuts the call off once it next awaits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import os
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = [
    "BLOCKED_LOOP_WARNING_S",
    "CallProgress",
    "ToolThreadPool",
    "run_in_tool_thread",
    "timed_steps",
    "tool_threads",
]

logger = logging.getLogger("openstackai_nb")

BLOCKED_LOOP_WARNING_S = 0.5
"""An ``async def`` tool step (code between two awaits) longer than this, in seconds, is reported
as blocking the event loop."""


class CallProgress:
    """How far one tool call got; the runner reads it when the call is cut off at a limit."""

    __slots__ = ("blocked_loop_s", "in_thread", "started")

    def __init__(self) -> None:
        self.in_thread = False
        """True for a sync tool (it runs in a thread of the tool-thread pool)."""
        self.started = False
        """The function started running (a sync call may wait for a free thread first)."""
        self.blocked_loop_s = 0.0
        """Seconds an async tool's steps blocked the event loop (steps over the threshold only)."""


# -- sync tools: the tool-thread pool -----------------------------------------------------------


class _Job:
    __slots__ = ("args", "counted", "fn", "future", "progress")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], progress: CallProgress) -> None:
        self.fn = fn
        self.args = args
        self.progress = progress
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.counted = False  # running and still counted against the pool's capacity


class ToolThreadPool:
    """Daemon threads for sync tools, where a call nobody waits for any more stops counting.

    At most `max_workers` calls that someone waits for run at once (the same default as the
    event loop's executor); more wait in a queue. `abandon()` (called when a run stops waiting:
    timeout or cancellation) takes a running call out of that count, so the queue moves on in
    another thread, and drops a call that had not started. An abandoned thread finishes its call
    whenever the function returns, then serves the queue again; idle threads end after
    `idle_timeout` seconds.
    """

    def __init__(self, max_workers: int | None = None, idle_timeout: float = 30.0) -> None:
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self.idle_timeout = idle_timeout
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._counted = 0  # running calls that count against max_workers
        self._idle = 0  # threads waiting for work, or starting
        self.abandoned = 0
        """Calls still running in a thread that nobody waits for (hung tools, for diagnostics)."""
        self._pid = os.getpid()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], progress: CallProgress) -> _Job:
        """Queue `fn(*args)`; its `future` resolves with what it returns or raises."""
        job = _Job(fn, args, progress)
        with self._cond:
            if self._pid != os.getpid():  # a forked child has none of the parent's threads
                self._pid, self._queue, self._counted, self._idle, self.abandoned = os.getpid(), deque(), 0, 0, 0
            self._queue.append(job)
            self._start_threads()
            self._cond.notify_all()
        return job

    def abandon(self, job: _Job) -> None:
        """The caller stopped waiting: a queued call is dropped, a running one stops counting."""
        with self._cond:
            if job.counted:
                job.counted = False
                self._counted -= 1
                self.abandoned += 1
                self._start_threads()
                self._cond.notify_all()
            elif job in self._queue:
                self._queue.remove(job)
                job.future.cancel()

    def _start_threads(self) -> None:
        # Under the lock: enough threads for the queued calls the capacity lets start now.
        want = min(len(self._queue), self.max_workers - self._counted)
        while self._idle < want:
            self._idle += 1
            threading.Thread(target=self._work, name="openstackai-nb-tool", daemon=True).start()

    def _can_take(self) -> bool:
        return bool(self._queue) and self._counted < self.max_workers

    def _work(self) -> None:
        with self._cond:
            while True:
                if not self._cond.wait_for(self._can_take, self.idle_timeout):
                    self._idle -= 1
                    return
                job = self._queue.popleft()
                self._idle -= 1
                self._counted += 1
                job.counted = True
                self._cond.release()
                try:
                    self._run(job)
                finally:
                    self._cond.acquire()
                    if job.counted:
                        job.counted = False
                        self._counted -= 1
                    else:
                        self.abandoned -= 1
                    del job  # not kept while the thread waits: late survivors pin memory (store/_texts.py)
                    self._idle += 1
                    self._cond.notify_all()

    @staticmethod
    def _run(job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        job.progress.started = True
        try:
            result = job.fn(*job.args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting run as is
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)


tool_threads = ToolThreadPool()
"""The process's pool for sync tools."""


async def run_in_tool_thread(fn: Callable[..., Any], kwargs: dict[str, Any], progress: CallProgress) -> Any:
    progress.in_thread = True
    context = contextvars.copy_context()  # as asyncio.to_thread: the tool sees the caller's contextvars
    job = tool_threads.submit(context.run, (functools.partial(fn, **kwargs),), progress)
    try:
        return await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        tool_threads.abandon(job)
        raise


# -- async tools: each step timed -------------------------------------------------------------------


@types.coroutine
def timed_steps(coro: Coroutine[Any, Any, Any], name: str, progress: CallProgress) -> Generator[Any, Any, Any]:
    """Drive `coro` step by step (as `await coro` would), timing each step.

    The code between two awaits runs on the loop, so a long step is a loop that could not do
    anything else.
    """
    send: Any = None
    throw: BaseException | None = None
    while True:
        t0 = time.perf_counter()
        try:
            yielded = coro.send(send) if throw is None else coro.throw(throw)
        except StopIteration as stop:
            _step_took(time.perf_counter() - t0, name, progress)
            return stop.value
        except BaseException:
            _step_took(time.perf_counter() - t0, name, progress)
            raise
        _step_took(time.perf_counter() - t0, name, progress)
        send, throw = None, None
        try:
            send = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown in by the task (cancellation): passed on
            throw = exc


def _step_took(seconds: float, name: str, progress: CallProgress) -> None:
    if seconds < BLOCKED_LOOP_WARNING_S:
        return
    first = progress.blocked_loop_s == 0.0
    progress.blocked_loop_s += seconds
    if first:
        logger.warning(
            "openstackai_nb: tool %r (an async def) blocked the event loop for %.2f s without awaiting: every "
            "other run and live output on this loop waited meanwhile, and timeout_per_turn can only stop it once "
            "it awaits. Use async calls (e.g. `await asyncio.sleep`) inside it, or make it a plain def (it then "
            "runs in a thread)",
            name,
            seconds,
        )
