"""Run coroutines from synchronous code, including inside Jupyter, VS Code and Colab.

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
from collections.abc import Coroutine
from typing import Any, TypeVar

from openstackai_nb.errors import UsageError
from openstackai_nb.messages import StreamEvent

__all__ = ["EventStream", "cancel_and_wait", "check_not_on_loop", "get_loop", "run_blocking", "start_events", "submit"]

T = TypeVar("T")
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
    if _loop is not None and threading.current_thread() is _thread:
        raise UsageError(
            "Runner.run_sync was called from code running on the run loop (an async tool?): "
            "use `await Runner.run_async(...)` there instead"
        )


def submit(coro: Coroutine[Any, Any, T]) -> tuple[asyncio.AbstractEventLoop, list[asyncio.Task[T]], threading.Event]:
    loop = get_loop()
    ctx = contextvars.copy_context()
    done = threading.Event()
    holder: list[asyncio.Task[T]] = []

    def start() -> None:
        task = loop.create_task(coro, context=ctx)
        holder.append(task)
        task.add_done_callback(lambda _: done.set())

    loop.call_soon_threadsafe(start)
    return loop, holder, done


def cancel_and_wait(loop: asyncio.AbstractEventLoop, holder: list[asyncio.Task[Any]], done: threading.Event) -> None:
    def cancel() -> None:
        if holder:
            holder[0].cancel()

    loop.call_soon_threadsafe(cancel)
    done.wait(10.0)


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the private loop and wait; on KeyboardInterrupt cancel it, wait, re-raise."""
    try:
        check_not_on_loop()
    except UsageError:
        coro.close()
        raise
    loop, holder, done = submit(coro)
    try:
        done.wait()
    except BaseException:
        cancel_and_wait(loop, holder, done)
        raise
    return holder[0].result()


class EventStream:
    """A run on the private loop whose events are read from another (the main) thread."""

    def __init__(self, coro_factory: Any) -> None:
        self._queue: queue.SimpleQueue[StreamEvent] = queue.SimpleQueue()
        self._loop, self._holder, self._done = submit(coro_factory(self._queue.put))
        self.result: Any = None

    def next_batch(self, timeout: float) -> list[StreamEvent]:
        """Every event available now, waiting up to `timeout` for the first one."""
        out: list[StreamEvent] = []
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
        """True once the run's task has ended (events may remain queued)."""
        return self._done.is_set()

    def cancel(self) -> None:
        """Cancel the run and wait for it to end (CANCELLED, partial output kept)."""
        cancel_and_wait(self._loop, self._holder, self._done)

    def outcome(self) -> BaseException | None:
        """The exception the run ended with (TimeoutError, CancelledError...), or None."""
        if not self._holder or not self._holder[0].done():
            return None
        task = self._holder[0]
        if task.cancelled():
            return asyncio.CancelledError()
        return task.exception()


def start_events(coro_factory: Any) -> EventStream:
    """Start `coro_factory(emit)` on the private loop; read its events with `next_batch`."""
    check_not_on_loop()
    return EventStream(coro_factory)


async def _close_everything() -> None:
    from openstackai_nb.models import _http

    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await _http.aclose_all()
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
        fut.result(3.0)
    except Exception:  # noqa: BLE001,S110 - best effort at exit
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(3.0)
    if not loop.is_running():
        loop.close()


atexit.register(_shutdown)
