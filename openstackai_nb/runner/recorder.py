"""The seam where finished (and long-running) runs are recorded: `RunRecorder` and `set_recorder`.

The run loop calls `record_started` / `record_finished` and awaits `until_durable`; it knows
nothing of what records. The session's history (`openstackai_nb.store.session`) installs its
recorder here when the package is imported; the default here records nothing. A recorder never
breaks a run: whatever it raises is logged and the run goes on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

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

logger = logging.getLogger("openstackai_nb")

RUNNING_RECORD_DELAY = 0.25
"""Seconds after which a run still going is recorded as RUNNING (shorter runs are written once, at the end)."""
DURABLE_WAIT = 10.0
"""Longest a finished run waits for its record to be stored before "done" goes out anyway: a
stuck disk delays a run's end, never hangs it."""
Durable: TypeAlias = "concurrent.futures.Future[None] | asyncio.Future[None] | None"
"""What a recorder returns for a finished run: a future resolved once it is stored, or None."""


class RunRecorder:
    """Where finished (and started) runs go. This base records nothing; subclass what you need.

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


_recorder: RunRecorder = RunRecorder()
_deferred: contextvars.ContextVar[list[tuple[object, str]] | None] = contextvars.ContextVar(
    "openstackai_nb_deferred_commits", default=None
)


def set_recorder(recorder: RunRecorder) -> RunRecorder:
    """Replace where runs are recorded; returns the previous recorder."""
    global _recorder
    previous, _recorder = _recorder, recorder
    return previous


def get_recorder() -> RunRecorder:
    """The recorder in force."""
    return _recorder


def _safe(method: Callable[[RunResult], Any], result: RunResult) -> Any:
    try:
        return method(result)
    except Exception as exc:  # noqa: BLE001 - recording must never break a run
        logger.warning("openstackai_nb: could not record run %s in history: %s", result.run_id, exc)
        return None


def record_started(result: RunResult) -> None:
    """Record a run still going (never raises)."""
    _safe(_recorder.started, result)


def record_finished(result: RunResult) -> Durable:
    """Record a run that ended (never raises); returns what `until_durable` should wait for.

    Inside `commits_deferred()` the wait is left to the end of the block, and None is returned.
    """
    deferred = _deferred.get()
    if deferred is None:
        return _safe(_recorder.finished, result)
    durable = _safe(_recorder.finished_deferred, result)
    if durable is not None:
        deferred.append((durable, result.run_id))
    return None


def _why(exc: BaseException) -> str:
    """The reason a record is not stored, never empty (a timeout has no message of its own)."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"it was not stored within {DURABLE_WAIT:g} s (the recorder is slow or stuck)"
    return str(exc) or type(exc).__name__


async def until_durable(pending: object, run_id: str) -> None:
    """Wait (without blocking the loop, at most `DURABLE_WAIT`) until a record is stored.

    The session's history answers sooner when its file is locked by another process (within
    about two seconds, with the reason; the run is kept and written later): see docs/history.md.
    """
    if isinstance(pending, concurrent.futures.Future):
        if pending.done():
            error = pending.exception()
            if error is not None:
                logger.warning("openstackai_nb: run %s may not be in the history file: %s", run_id, _why(error))
            return
        pending = asyncio.wrap_future(pending)
    if not isinstance(pending, asyncio.Future):
        return
    try:
        async with asyncio.timeout(DURABLE_WAIT):
            await pending
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - recording must never break a run
        logger.warning("openstackai_nb: run %s may not be in the history file yet: %s", run_id, _why(exc))


@asynccontextmanager
async def commits_deferred() -> AsyncIterator[None]:
    """Runs inside end without waiting for their own record; leaving the block waits for all at once.

    For many concurrent runs (`compare`): a run's commit then never holds its concurrency slot,
    while the runs are still written as they finish, in the same group commits. Once the block
    exits, every one of them is stored.
    """
    pending: list[tuple[object, str]] = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
        for durable, run_id in pending:
            await until_durable(durable, run_id)
        try:
            barrier = _recorder.barrier()
        except Exception as exc:  # noqa: BLE001 - recording must never break a run
            logger.warning("openstackai_nb: could not wait for the run history: %s", exc)
            barrier = None
        await until_durable(barrier, "(the runs of this batch)")
