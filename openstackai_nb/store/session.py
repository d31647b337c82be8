"""The session's history, `openstackai_nb.history`, and the observer that writes every run into it.

`HistoryObserver` is one of the runner's default observers (`runner.observers.DEFAULT_OBSERVERS`
names it; the first run imports this module and makes it): importing the package installs
nothing, and the runner itself never imports the history. Importing this module is cheap: the
store (SQLite) is opened on first use.

The session's history never breaks a run nor an import: when its store cannot be opened,
`get_history()` warns once (`HistoryWarning`) and returns a history whose every use raises the
`HistoryError`; runs go on without being recorded. `set_history(None)` tries again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from openstackai_nb._warnings import warn
from openstackai_nb.errors import HistoryError, HistoryWarning
from openstackai_nb.runner.observers import RunObserver, in_batch
from openstackai_nb.runner.recorder import Durable, RunRecorder
from openstackai_nb.store._rows import for_writer

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.results import RunResult
    from openstackai_nb.store.run_history import RunHistory

__all__ = ["HistoryObserver", "SessionRecorder", "barrier", "flush", "get_history", "record", "set_history"]

logger = logging.getLogger("openstackai_nb")

_history: RunHistory | None = None  # guarded by _history_lock: one history per session, made once
_history_lock = threading.Lock()
_record_failed = threading.Event()  # set once: the "not recording" warning is logged once (no rebinding)


def get_history() -> RunHistory:
    """The session's RunHistory (created on first use; the same object on every call).

    Never raises: a store that cannot be opened gives one `HistoryWarning` and a history whose
    use raises the `HistoryError` (runs are then not recorded; `set_history(None)` tries again).
    """
    global _history
    if _history is None:
        from openstackai_nb.store.run_history import RunHistory, UnavailableHistory

        with _history_lock:
            if _history is None:
                try:
                    _history = RunHistory()
                except Exception as exc:  # noqa: BLE001 - e.g. OSError, no home folder: same promise
                    error = exc if isinstance(exc, HistoryError) else HistoryError(f"{type(exc).__name__}: {exc}")
                    _history = UnavailableHistory(error)
                    warn(
                        f"openstackai_nb: runs are not recorded in the history: {error.message}. Once fixed, "
                        "restart the kernel or call openstackai_nb.store.set_history(None)",
                        HistoryWarning,
                    )
    return _history


def set_history(history: RunHistory | str | os.PathLike[str] | None) -> RunHistory | None:
    """Send the session's runs to another store from now on; returns the previous one.

    Prefer `OPENSTACKAI_NB_HISTORY` set before the first run: `openstackai_nb.history`
    refers to the session history of the moment it is read. None resets to the default
    (re-read from the environment on next use).
    """
    global _history
    from openstackai_nb.store.run_history import RunHistory

    if history is not None and not isinstance(history, RunHistory):
        history = RunHistory(history)
    with _history_lock:
        previous, _history = _history, history
    return previous


def _available() -> RunHistory | None:
    from openstackai_nb.store.run_history import UnavailableHistory

    history = get_history()
    return None if isinstance(history, UnavailableHistory) else history  # get_history warned once


def record(
    result: RunResult, *, finished: bool, wait: bool = True, alone: bool = False
) -> Future[None] | asyncio.Future[None] | None:
    """Record a run that started (`finished=False`) or ended, in the session's history.

    Never raises: a store that cannot be written is reported once through `logging` and the run
    goes on. For a finished run (and `wait`), returns a future that resolves once the write is
    committed (an asyncio future when called on a running loop): the loop awaits it, without
    blocking, so a run is on disk before `run_sync`/`run_async` return or "done" is emitted.
    With wait=False the write is queued and nothing is returned (`barrier()` tells when it is
    committed).

    `alone`: no other run of the process is in flight. A finished run alone, whose caller waits,
    is committed on the calling thread when the store's writer has nothing else to do
    (`_sqlite.Store.commit_now`, which never waits); None is returned then: it is committed.
    """
    try:
        history = _available()
        if history is None:
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return history.add(result, finished=finished, wait=False)
        if alone and finished and wait:
            # Built by commit_now on this thread before the run goes on: no snapshot needed. Else
            # by the writer (which reports failures), from a snapshot taken then.
            store = history._store
            rows = for_writer(result, finished=True, copy=False)
            return None if store.commit_now(rows) else store.submit_async(rows.detached())
        return history.add_async(result, finished=finished, wait=wait)
    except Exception as exc:  # noqa: BLE001 - history must never break a run
        if not _record_failed.is_set():
            _record_failed.set()
            logger.warning("openstackai_nb: run history is not recording: %s", exc)
        return None


def barrier() -> asyncio.Future[None] | None:
    """On the run loop: a future resolved once every run recorded so far is committed."""
    try:
        history = _available()
        return None if history is None else history._store.submit_async(_nothing)
    except Exception as exc:  # noqa: BLE001 - history must never break a run
        logger.warning("openstackai_nb: run history is not recording: %s", exc)
        return None


def flush(timeout: float = 30.0) -> bool:
    """From any thread: wait until every run recorded so far is committed; False if `timeout` ran out.

    Never raises (True when there is no history to wait for). `compare` calls it before it
    returns when a remote scheduler's runs were recorded by this process (`record(wait=False)`).
    """
    try:
        history = _available()
        return True if history is None else history.flush(timeout)
    except Exception as exc:  # noqa: BLE001 - history must never break a run
        logger.warning("openstackai_nb: run history is not recording: %s", exc)
        return False


def _nothing(conn: object) -> None:
    return None


class HistoryObserver(RunObserver):
    """Records every run into the session's history (`openstackai_nb.history`).

    A run still going after `RUNNING_RECORD_DELAY` gets its RUNNING row; a finished run is
    written and its commit awaited before the run returns, or, inside `observers.batch()`
    (compare), queued for the next group commit and awaited once when the batch ends.
    """

    records_history = True

    def __init__(self) -> None:
        self._running: set[str] = set()
        """The run_ids of the runs in flight (set.add and .discard are atomic: runs on several loops)."""

    def run_started(self, run: RunResult, agent: Agent) -> None:
        """Note the run as in flight: a run that ends alone commits itself (`record(alone=True)`)."""
        self._running.add(run.run_id)

    def run_still_running(self, run: RunResult) -> None:
        """Write the RUNNING row of a run still going."""
        record(run, finished=False)

    def run_ended(self, run: RunResult, failure: BaseException | None) -> Awaitable[None] | None:
        """Write a finished run; what is returned resolves once it is committed (None: committed, or inside a batch)."""
        running = self._running
        running.discard(run.run_id)
        pending = record(run, finished=True, wait=not in_batch(), alone=not running)
        return pending if isinstance(pending, asyncio.Future) else None

    async def batch_ended(self) -> None:
        """Wait until every run recorded so far is committed."""
        pending = barrier()
        if pending is not None:
            await pending


class SessionRecorder(RunRecorder):
    """Deprecated (the history is `HistoryObserver` now): records every run into the session's history."""

    def started(self, result: RunResult) -> object:
        """Write the RUNNING row of a run still going."""
        return record(result, finished=False)

    def finished(self, result: RunResult) -> Durable:
        """Write a finished run; the future resolves once it is committed."""
        return record(result, finished=True)

    def finished_deferred(self, result: RunResult) -> Durable:
        """Queue a finished run for the next group commit (see `commits_deferred`)."""
        return record(result, finished=True, wait=False)

    def barrier(self) -> Durable:
        """A future resolved once every run recorded so far is committed."""
        return barrier()
