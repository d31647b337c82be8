"""The store's writer thread: the queue of writes, group commit, and who waits for what.

Writes handed over by the run loop (`submit_async`) or by other threads (`submit`) are
committed by one writer thread per store, in batches (group commit), which then wakes each
waiting event loop once per batch. Writes nobody waits for (runs inside `compare()`, RUNNING
rows) may wait `_LAZY_WINDOW` seconds for company. A run alone in the process, which waits for
its own commit anyway, may commit on its own thread instead (`commit_now`): never when that
would wait (writes queued or in flight, the store in use, the file locked), so the hand-over to
the writer and back, two thread wake-ups per run, is spared only where it buys nothing.

A file locked by another process (a `BEGIN EXCLUSIVE` held in the sqlite3 shell, a backup, a
long write elsewhere): the writer waits for the lock at most `_LOCK_SLICE` seconds per attempt
(SQLite's busy_timeout; reads and `write()` keep the usual `BUSY_MS`), and what it could not
write goes back to the front of the queue, in order, and is tried again every `_LOCK_SLICE`
seconds until the lock is released: nothing is lost while the process lives. Whoever waits for
those writes (a run before its "done") waits at most `_LOCK_WAIT` seconds, then gets the
`Locked` error (the reason: which file, SQLite's message, that the runs are kept in memory),
and writes queued while the file stays locked get it after one attempt. Reads then show what
the file holds without waiting for the runs kept in memory. Once the lock is released, the
kept runs are written and one line says so.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb.store._sqlite_file import Locked

if TYPE_CHECKING:
    from openstackai_nb.store._rows import Rows

__all__ = ["LOCK_SLICE_MS", "StoreWriter", "Waiter", "Write"]

logger = logging.getLogger("openstackai_nb")

Write = Callable[[sqlite3.Connection], Any]
"""A write: a function of the connection, called inside a transaction."""
Waiter = Future[None] | asyncio.Future[None] | None
"""Who waits for a queued write: a thread (concurrent future), an event loop, or nobody."""


def _settle(waiters: list[asyncio.Future[None]], exc: BaseException | None) -> None:
    # On the waiters' loop: a waiter may have been cancelled (its run was) meanwhile.
    for fut in waiters:
        if not fut.done():
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)
                fut.exception()  # the writer has logged it: no "exception never retrieved" later


class StoreWriter:
    """The writer thread of a store (`_sqlite.Store`), and the queue it commits."""

    pid: int
    path: Path | None
    lock: threading.RLock

    def _commit(self, items: Sequence[Rows | Write], busy_ms: int = 0) -> list[Any]:
        """Apply the writes in one transaction (the store's; `busy_ms`: its own default when not given)."""
        raise NotImplementedError

    def _commit_inline(self, item: Rows) -> bool:
        """Under the store's lock: `item` in its own transaction that waits for nothing; True once committed."""
        raise NotImplementedError

    def _checkpoint_now(self) -> None:
        """On the writer thread: checkpoint the WAL (after `commit_now`'s commits)."""
        raise NotImplementedError

    def _init_writer(self) -> None:
        # Writes queued by the run loop are committed by a writer thread, in batches.
        self._pending: list[tuple[Rows | Write, Waiter]] = []
        self._busy = False
        self._inline = False  # a run's own thread is committing it (`commit_now`)
        self._inline_commits = 0  # commits by `commit_now` since the writer's last checkpoint
        self._checkpoint_due = False  # the writer checkpoints the WAL for them (they do not)
        self._flushing = 0  # threads waiting in flush()
        self._urgent = False  # someone waits for the queued writes: commit them now
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self._writer_failed = False
        self._locked: Locked | None = None  # why the last attempt could not write (another process's lock)
        self._locked_since = 0.0  # time.monotonic() of the first attempt that found the lock

    def submit(self, item: Rows | Write) -> Future[None]:
        """Queue a write for the writer thread; the future resolves once it is committed.

        Returns at once. Writes queued together are committed in one transaction (group
        commit), so waiting on the future costs a run one commit, shared with its neighbours.
        """
        done: Future[None] = Future()
        self._queue(item, done)
        return done

    def submit_async(self, item: Rows | Write, *, wait: bool = True) -> asyncio.Future[None] | None:
        """`submit` for the running event loop: an asyncio future (None with wait=False).

        The writer wakes each loop once per batch, not once per write. Writes nobody waits for
        (wait=False) may be held up to `_LAZY_WINDOW` seconds to share a bigger commit.
        """
        waiter: asyncio.Future[None] | None = asyncio.get_running_loop().create_future() if wait else None
        self._queue(item, waiter)
        return waiter

    def commit_now(self, item: Rows) -> bool:
        """Commit `item` on the calling thread, if that waits for nothing; True once it is committed.

        For a run that is alone in the process and waits for its commit anyway (`run_sync`, one run
        after another): committing it here spares the hand-over to the writer thread and back (two
        thread wake-ups, about half of what the history cost such a run). Never waits: False (and
        nothing written) when other writes are queued or in progress (they keep their order and
        their group commit), when the store is in use by another thread, when another process
        holds the file's write lock (SQLite's busy timeout is 0 here), or when anything fails; the
        caller then hands `item` to the writer thread as usual. SQLite's own WAL checkpoint (the
        step that waits for the disk) is off for these commits: every `_INLINE_CHECKPOINT` of them,
        the writer thread checkpoints instead.
        """
        with self._cond:
            if self._pending or self._busy or self._inline or self._locked is not None or _exiting:
                return False
            self._inline = True
        committed = False
        try:
            try:
                item.build()
            except Exception:  # noqa: BLE001 - the writer thread tries again and reports it, as for any run
                return False
            if self.lock.acquire(blocking=False):
                try:
                    committed = self._commit_inline(item)
                finally:
                    self.lock.release()
        finally:
            with self._cond:
                self._inline = False
                wake = self._flushing > 0  # flush() callers wait for this commit; the idle writer need not wake
                if committed and self.path is not None:
                    self._inline_commits += 1
                    if self._inline_commits >= _INLINE_CHECKPOINT:
                        self._inline_commits = 0
                        self._checkpoint_due = wake = True
                        self._start_writer()
                if wake:
                    self._cond.notify_all()
        return committed

    def _queue(self, item: Rows | Write, waiter: Waiter) -> None:
        if _exiting:
            # After the exit flush (e.g. runs cancelled while the process shuts down): commit now.
            self._commit([item])
            self._resolve([waiter], None)
            return
        with self._cond:
            self._pending.append((item, waiter))
            if waiter is not None:
                self._urgent = True
            self._start_writer()
            self._cond.notify_all()  # the writer, wherever it waits (flush() callers wait here too)

    def _start_writer(self) -> None:
        """Under the condition: start the writer thread unless it runs."""
        if self._writer is None or not self._writer.is_alive() or self.pid != os.getpid():
            self._writer = threading.Thread(target=self._write_loop, name="openstackai-nb-history", daemon=True)
            self._writer.start()
            _open_writers.add(self)

    def flush(self, timeout: float = 30.0, *, while_locked: bool = True) -> bool:
        """Wait until every submitted write is committed; False if `timeout` ran out first.

        With while_locked=False, also stop waiting (False) once the writes have been held up by
        another process's lock for `_LOCK_WAIT` seconds (reads: they show what the file holds).
        """
        if threading.current_thread() is self._writer:
            return True
        with self._cond:
            if self._pending:
                self._urgent = True
                self._cond.notify_all()
            self._flushing += 1
            try:
                done = self._cond.wait_for(
                    lambda: (
                        (not self._pending and not self._busy and not self._inline)
                        or (not while_locked and self._held_up())
                    ),
                    timeout,
                )
            finally:
                self._flushing -= 1
            return done and not self._pending and not self._busy and not self._inline

    def _held_up(self) -> bool:
        """Under the condition: the writes have waited for another process's lock `_LOCK_WAIT` s or more."""
        return self._locked is not None and time.monotonic() - self._locked_since >= _LOCK_WAIT

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._pending or self._checkpoint_due, timeout=_WRITER_IDLE):
                    self._writer = None  # idle: end the thread; the next submit starts another
                    return
                if self._checkpoint_due and not self._pending:
                    self._checkpoint_due = False
                    self._busy = True
                    checkpoint = True
                else:
                    checkpoint = False
            if checkpoint:
                try:
                    self._checkpoint_now()
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
                continue
            with self._cond:
                if self._locked is not None:
                    # The file is locked by another process: try again soon, or as soon as a write
                    # that someone waits for comes in (it gets its answer after one attempt).
                    self._cond.wait_for(lambda: self._urgent, _LOCK_SLICE)
                elif not self._urgent:
                    # Nobody waits for these yet (runs inside compare(), RUNNING rows): gather
                    # more for one commit; fewer, bigger commits cost the run loop less CPU.
                    self._cond.wait_for(lambda: self._urgent or len(self._pending) >= _LAZY_BATCH, _LAZY_WINDOW)
                batch, self._pending = self._pending, []
                self._urgent = False
                self._busy = True
            try:
                self._write_batch(batch)
            finally:
                del batch  # not kept while the thread waits: late survivors pin memory (store/_texts.py)
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_batch(self, batch: list[tuple[Rows | Write, Waiter]]) -> None:
        try:
            self._commit([item for item, _ in batch], busy_ms=LOCK_SLICE_MS)
        except Locked as exc:
            self._hold_back(batch, exc)
            return
        except Exception:  # noqa: BLE001 - one bad write must not lose the batch: retry alone
            for i, (item, waiter) in enumerate(batch):
                try:
                    self._commit([item], busy_ms=LOCK_SLICE_MS)
                except Locked as exc:
                    self._hold_back(batch[i:], exc)
                    return
                except Exception as exc:  # noqa: BLE001 - reported once; the runs go on
                    self._resolve([waiter], exc)
                    if not self._writer_failed:
                        self._writer_failed = True
                        logger.warning("openstackai_nb: could not record a run in %s: %s", self.path, exc)
                else:
                    self._resolve([waiter], None)
        else:
            self._resolve([waiter for _, waiter in batch], None)
        if self._locked is not None:
            self._unlocked(batch)

    def _hold_back(self, batch: list[tuple[Rows | Write, Waiter]], exc: Locked) -> None:
        """Put writes another process's lock kept out back at the front of the queue; answer overdue waiters."""
        with self._cond:
            if self._locked is None:
                self._locked_since = time.monotonic()
            self._locked = exc
            overdue = self._held_up()
            self._pending[:0] = [(item, None) for item, _ in batch] if overdue else batch
        if overdue:
            kept = Locked(f"{exc}; it is kept in memory and written once the lock is released")
            self._resolve([waiter for _, waiter in batch], kept)

    def _unlocked(self, batch: list[tuple[Rows | Write, Waiter]]) -> None:
        """The first commit after a lock: say that what was kept is written now."""
        held = time.monotonic() - self._locked_since
        with self._cond:
            self._locked = None
        runs = len({item.run_id for item, _ in batch if not callable(item) and item.finished})
        if held >= _LOCK_WAIT:
            logger.warning(
                "openstackai_nb: the run history file %s was locked by another process for %.0f s; "
                "the runs kept in memory meanwhile are written now: %d",
                self.path,
                held,
                runs,
            )

    @staticmethod
    def _resolve(waiters: Iterable[Waiter], exc: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiter in waiters:
            if isinstance(waiter, Future):
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(exc)
            elif waiter is not None:
                by_loop.setdefault(waiter.get_loop(), []).append(waiter)
        for loop, futs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, futs, exc)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass


_INLINE_CHECKPOINT = 100  # commits by `commit_now` (a few WAL pages each) between the writer's checkpoints
_WRITER_IDLE = 10.0  # seconds without writes before a store's writer thread ends
_LAZY_WINDOW = 0.02  # seconds a write nobody waits for may wait for company
_LAZY_BATCH = 256  # ... or until this many are queued
_LOCK_SLICE = 0.25  # seconds the writer waits for another process's lock per attempt
LOCK_SLICE_MS = int(_LOCK_SLICE * 1000)
"""`_LOCK_SLICE` in milliseconds (SQLite's busy_timeout of the writer's transactions)."""
_LOCK_WAIT = 2.0  # seconds a waiter waits for writes held up by such a lock before it gets `Locked`
_open_writers: weakref.WeakSet[StoreWriter] = weakref.WeakSet()
_exiting = False


@atexit.register
def _flush_at_exit() -> None:
    global _exiting
    _exiting = True
    for store in list(_open_writers):
        if store.pid == os.getpid() and not store.flush(5.0):
            with store._cond:
                store._cond.wait_for(lambda s=store: not s._busy, 1.0)  # a batch in flight goes back to _pending
                runs = {item.run_id for item, _ in store._pending if not callable(item)}
                reason = store._locked or "the writer did not finish in 5 s"
            if runs:
                logger.warning("openstackai_nb: runs not in the history file at exit: %d (%s)", len(runs), reason)
