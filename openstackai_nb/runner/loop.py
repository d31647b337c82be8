"""The private run loop: run coroutines from synchronous code, including inside Jupyter, VS Code and Colab.

Package-internal: the runner's entry points (`runner.api`), `compare()`'s schedulers and the Dask
worker use it; it is not part of the user API (not re-exported from `openstackai_nb.runner`, and
may change). (It was `runner._sync`, a private module.)

Choice: a private event loop on one daemon thread, shared by every sync call of the process,
rather than nest-asyncio2. Reasons:
- A notebook cell already runs inside the kernel's loop; nest-asyncio2 would patch asyncio
  process-wide to re-enter it, and httpx2's transports run on anyio, which does not support a
  re-entered loop. The private loop touches nothing of the kernel's.
- One long-lived loop keeps one pooled HTTP client warm across runs (connection reuse).
- The calling thread only waits on a threading.Event, which a kernel interrupt (SIGINT ->
  KeyboardInterrupt in the main thread) breaks at once; we then cancel the task on the loop
  and wait for it to finish, so the run ends CANCELLED and leaks no task or connection.
- A sync tool runs in a worker thread, so a nested `run_sync` there just blocks that worker.
  Only code running *on* the private loop (an async tool) must use `await run_async` instead,
  and gets a UsageError saying so rather than a deadlock.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import os
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from openstackai_nb.errors import UsageError

__all__ = ["CANCEL_WAIT", "LoopTask", "SHUTDOWN_WAIT", "check_not_on_loop", "get_loop", "run_blocking"]

T = TypeVar("T")
R = TypeVar("R")
CANCEL_WAIT = 10.0
"""Longest a cancel waits for the cancelled run to end (it records CANCELLED and closes its
connections first; a tool thread that never returns must not hang the caller)."""
SHUTDOWN_WAIT = 3.0
"""Longest the process waits at exit for runs to cancel and the loop thread to stop."""
# The process's one loop and its thread: process state on purpose (one warm HTTP pool for every
# sync call), rebound only under `_lock`, and started again after a fork (`_pid`).
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid = 0


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the private run loop, starting its thread on first use (and after a fork)."""
    global _loop, _thread, _pid
    loop = _loop
    if loop is not None and _pid == os.getpid() and loop.is_running():
        return loop
    with _lock:
        if _loop is None or _pid != os.getpid() or not _loop.is_running():
            started = threading.Event()
            new_loop = asyncio.new_event_loop()

            def serve() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(started.set)
                new_loop.run_forever()

            _thread = threading.Thread(target=serve, name="openstackai-nb-loop", daemon=True)
            _thread.start()
            started.wait()
            _loop, _pid = new_loop, os.getpid()
        return _loop


def check_not_on_loop() -> None:
    """Raise UsageError when called on the run loop itself (a blocking wait there would deadlock)."""
    if _loop is not None and threading.current_thread() is _thread:
        raise UsageError(
            "Runner.run_sync was called from code running on the run loop (an async tool?): "
            "use `await Runner.run_async(...)` there instead"
        )


class LoopTask(Generic[T, R]):
    """A coroutine running on the private run loop, driven from another thread.

    The coroutine is started as `start(emit)`: what it passes to `emit` is queued, in order,
    for the other thread to read with `next_batch` (the thread-side end of a run's event pump;
    `compare` sends its progress through the same). `wait`, `cancel` and `result` do what they
    say; a KeyboardInterrupt in the waiting thread is the caller's to turn into `cancel()`.
    """

    def __init__(self, start: Callable[[Callable[[T], None]], Coroutine[Any, Any, R]]) -> None:
        check_not_on_loop()
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._loop = loop = get_loop()
        self._done = threading.Event()
        self._task: asyncio.Task[R] | None = None
        ctx = contextvars.copy_context()
        coro = start(self._queue.put)

        def begin() -> None:
            self._task = loop.create_task(coro, context=ctx)
            self._task.add_done_callback(lambda _: self._done.set())

        loop.call_soon_threadsafe(begin)

    def next_batch(self, timeout: float) -> list[T]:
        """Every item available now, waiting up to `timeout` seconds for the first one."""
        out: list[T] = []
        try:
            out.append(self._queue.get(timeout=timeout))
        except queue.Empty:
            return out
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    @property
    def finished(self) -> bool:
        """True once the coroutine has ended (items may remain queued)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` seconds (None: until it ends); True once it has ended."""
        return self._done.wait(timeout)

    def cancel(self) -> None:
        """Cancel the coroutine and wait (at most `CANCEL_WAIT`) until it has ended."""
        self._loop.call_soon_threadsafe(self.cancel_now)
        self._done.wait(CANCEL_WAIT)

    def cancel_now(self) -> None:
        """On the run loop: cancel the coroutine's task (without waiting)."""
        if self._task is not None:
            self._task.cancel()

    def result(self) -> R:
        """What the coroutine returned; raises what it raised (after it ended)."""
        if self._task is None or not self._done.is_set():
            raise RuntimeError("the task has not finished: wait() first")
        return self._task.result()

    def outcome(self) -> BaseException | None:
        """The exception the coroutine ended with (TimeoutError, CancelledError...), or None."""
        task = self._task
        if task is None or not task.done():
            return None
        if task.cancelled():
            return asyncio.CancelledError()
        return task.exception()


def run_blocking(coro: Coroutine[Any, Any, R]) -> R:
    """Run `coro` on the private loop and wait; on KeyboardInterrupt cancel it, wait, re-raise."""
    try:
        task: LoopTask[None, R] = LoopTask(lambda emit: coro)
    except UsageError:
        coro.close()
        raise
    try:
        task.wait()
    except BaseException:
        task.cancel()
        raise
    return task.result()


async def _close_everything() -> None:
    from openstackai_nb.models import aclose_clients

    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await aclose_clients()
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


def _shutdown() -> None:
    """At exit: cancel what still runs, close the pooled connections, stop and close the loop."""
    loop, thread = _loop, _thread
    if loop is None or thread is None or _pid != os.getpid() or not loop.is_running():
        return
    fut = asyncio.run_coroutine_threadsafe(_close_everything(), loop)
    try:
        fut.result(SHUTDOWN_WAIT)
    except Exception:  # noqa: BLE001,S110 - best effort at exit
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(SHUTDOWN_WAIT)
    if not loop.is_running():
        loop.close()


atexit.register(_shutdown)
