"""Deprecated: the recorder seam (`RunRecorder`, `set_recorder`), kept working over the observers.

Runs are watched by `RunObserver`s now (`runner/observers.py`). What this module offered still
works, with a DeprecationWarning:

- `set_recorder(recorder)` puts an adapter observer in the session's observers in place of the
  one that writes the history (`RunObserver.records_history`); `get_recorder()` returns the
  recorder in force (the history's own, wrapped, when nobody set one); setting that back
  restores the history's observer.
- `commits_deferred()` is `observers.batch()`.
- `record_started`, `record_finished`, `until_durable` call the session's observers' hooks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncGenerator, Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeAlias, cast

from openstackai_nb._warnings import warn
from openstackai_nb.runner import observers
from openstackai_nb.runner.observers import DURABLE_WAIT, RUNNING_RECORD_DELAY, RunObserver

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from openstackai_nb.results import RunResult

__all__ = [
    "DURABLE_WAIT",
    "Durable",
    "RUNNING_RECORD_DELAY",
    "RunRecorder",
    "commits_deferred",
    "get_recorder",
    "record_finished",
    "record_started",
    "set_recorder",
    "until_durable",
]

Durable: TypeAlias = "concurrent.futures.Future[None] | asyncio.Future[None] | None"
"""What a recorder returns for a finished run: a future resolved once it is stored, or None."""


def _deprecated(old: str, new: str) -> None:
    warn(f"openstackai_nb.runner.{old} is deprecated: use {new} (runner/observers.py)", DeprecationWarning)


class RunRecorder:
    """Deprecated (use `RunObserver`): where finished (and started) runs go. This base records nothing.

    Example:
        >>> class Collect(RunRecorder):
        ...     def __init__(self):
        ...         self.runs = []
        ...     def finished(self, result):
        ...         self.runs.append(result)
    """

    def started(self, result: RunResult) -> object:
        """A run has been going for `RUNNING_RECORD_DELAY` seconds (status RUNNING)."""
        return None

    def finished(self, result: RunResult) -> Durable:
        """A run ended; may return a future the loop awaits (without blocking) before "done"."""
        return None

    def finished_deferred(self, result: RunResult) -> Durable:
        """A run ended inside `commits_deferred()`: nobody waits for this one alone."""
        return self.finished(result)

    def barrier(self) -> Durable:
        """A future resolved once every run recorded so far is stored (None: nothing to wait for)."""
        return None


def _awaitable(durable: object) -> Awaitable[None] | None:
    if isinstance(durable, concurrent.futures.Future):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None  # nobody awaits off the loop
        return asyncio.wrap_future(cast("concurrent.futures.Future[None]", durable))
    return cast("asyncio.Future[None]", durable) if isinstance(durable, asyncio.Future) else None


class _RecorderObserver(RunObserver):
    """A `RunRecorder` seen as the history's observer (what `set_recorder` installs)."""

    records_history = True

    def __init__(self, recorder: RunRecorder) -> None:
        self.recorder = recorder

    def run_still_running(self, run: RunResult) -> None:
        self.recorder.started(run)

    def run_ended(self, run: RunResult, failure: BaseException | None) -> Awaitable[None] | None:
        if observers.in_batch():
            return _awaitable(self.recorder.finished_deferred(run))
        return _awaitable(self.recorder.finished(run))

    async def batch_ended(self) -> None:
        pending = _awaitable(self.recorder.barrier())
        if pending is not None:
            await pending


class _ObserverRecorder(RunRecorder):
    """The history's own observer seen as a `RunRecorder` (what `get_recorder` returns)."""

    def __init__(self, observer: RunObserver | None) -> None:
        self.observer = observer

    def started(self, result: RunResult) -> object:
        if self.observer is not None:
            self.observer.run_still_running(result)
        return None

    def finished(self, result: RunResult) -> Durable:
        if self.observer is None:
            return None
        pending = self.observer.run_ended(result, None)
        return pending if isinstance(pending, asyncio.Future) else None


def _history_slot() -> RunRecorder:
    for observer in observers.default_observers():
        if observer.records_history:
            return observer.recorder if isinstance(observer, _RecorderObserver) else _ObserverRecorder(observer)
    return _ObserverRecorder(None)


def set_recorder(recorder: RunRecorder) -> RunRecorder:
    """Deprecated: replace where runs are recorded (the session's history observer); returns the previous recorder."""
    _deprecated("set_recorder", "RunConfig(observers=...) or observers.set_default_observers")
    previous = _history_slot()
    if isinstance(recorder, _ObserverRecorder):
        new = recorder.observer
    else:
        new = _RecorderObserver(recorder)
    session = observers.default_observers()
    kept = [o for o in session if not o.records_history]
    slot = next((i for i, o in enumerate(session) if o.records_history), 0)
    if new is not None:
        kept.insert(slot, new)
    observers.set_default_observers(kept)
    return previous


def get_recorder() -> RunRecorder:
    """Deprecated: the recorder in force (the history's observer, wrapped, unless `set_recorder` installed one)."""
    _deprecated("get_recorder", "observers.default_observers()")
    return _history_slot()


def record_started(result: RunResult) -> None:
    """Deprecated: tell the session's observers a run is still going (never raises)."""
    _deprecated("recorder.record_started", "RunObserver.run_still_running")
    hooks = observers.RunHooks(observers.default_observers(), result)
    hooks.call(hooks.on_run_still_running)


def record_finished(result: RunResult) -> Durable:
    """Deprecated: tell the session's observers a run ended; what to wait for (deferred inside a batch)."""
    _deprecated("recorder.record_finished", "RunObserver.run_ended")
    hooks = observers.RunHooks(observers.default_observers(), result)
    for pending, history in hooks.run_ended(None):
        if not observers.defer(pending, result.run_id, history=history) and isinstance(pending, asyncio.Future):
            return pending
    return None


async def until_durable(pending: object, run_id: str) -> None:
    """Deprecated: wait (at most `DURABLE_WAIT`) for what a recorder returned; never raises."""
    _deprecated("recorder.until_durable", "observers.settle")
    if isinstance(pending, concurrent.futures.Future | asyncio.Future):
        await observers.settle(cast("Awaitable[None]", pending), run_id, history=True)


@asynccontextmanager
async def commits_deferred() -> AsyncGenerator[None, None]:
    """Deprecated: `observers.batch()` (runs inside end without waiting for their records)."""
    _deprecated("recorder.commits_deferred", "observers.batch")
    async with observers.batch():
        yield
