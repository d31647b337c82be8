"""The history's SQLite store: one connection, a writer thread with group commit, checkpoints.

The tables and the batched write of runs are `_schema`'s.

Durability: WAL with ``synchronous=NORMAL`` (a committed run survives the process being killed;
an OS crash may lose the last few), ``busy_timeout`` so several kernels write the same file
safely, and ``BEGIN IMMEDIATE`` transactions.

Writes from the run loop: the loop only hands over a snapshot of a finished run
(`_rows.Rows.later`, ~0.01 ms); the store's writer thread turns what is queued into rows (JSON,
scrubbing) and commits it in one transaction of two multi-row statements (`_schema.write_rows`;
why: see there), then wakes each waiting event loop once per batch. A slow disk never stalls
the runs in flight. Reads wait for pending writes (a process always sees its own runs); pending
writes are flushed at exit. Checkpoints: `_checkpoint`. The file under the store (deleted,
replaced, damaged): `_sqlite_file`.

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

from openstackai_nb.errors import HistoryError
from openstackai_nb.store import _sqlite_file as files
from openstackai_nb.store._checkpoint import checkpointer
from openstackai_nb.store._connection import StoreConnection
from openstackai_nb.store._schema import BUSY_MS, write_rows
from openstackai_nb.store._sqlite_file import Damaged, Locked, corrupt

if TYPE_CHECKING:
    from openstackai_nb.store._rows import Rows

__all__ = ["Store"]

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


class Store(StoreConnection):
    """One SQLite connection shared by threads (the run loop writes, the notebook reads)."""

    def __init__(self, path: Path | None, *, explicit: bool) -> None:
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self.path = path
        self._identity: files.FileIdentity | None = None  # of the file `conn` writes (None: memory)
        self._ckpt_conn: sqlite3.Connection | None = None
        self.conn = self._open(path, explicit)
        self._timeout_of: tuple[sqlite3.Connection, int] = (self.conn, BUSY_MS)  # set by `_schema.setup`
        self.unchecked = 0  # commits since the last checkpoint
        if self.path is not None:
            checkpointer.watch(self)
        # Writes queued by the run loop are committed by a writer thread, in batches.
        self._pending: list[tuple[Rows | Write, Waiter]] = []
        self._busy = False
        self._urgent = False  # someone waits for the queued writes: commit them now
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self._writer_failed = False
        self._locked: Locked | None = None  # why the last attempt could not write (another process's lock)
        self._locked_since = 0.0  # time.monotonic() of the first attempt that found the lock

    # using ----------------------------------------------------------------------------------
    def check_fork(self) -> None:
        if self.pid != os.getpid() and self.path is not None:
            # A forked child must not share the parent's connections, nor wait for its thread,
            # nor close them (that could delete the -wal the parent writes).
            files.keep_open_forever(self.conn)
            self.conn = self._connect(str(self.path), self.path)
            self._ckpt_conn = None
            self.pid = os.getpid()
            checkpointer.watch(self)

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
            if self._writer is None or not self._writer.is_alive() or self.pid != os.getpid():
                self._writer = threading.Thread(target=self._write_loop, name="openstackai-nb-history", daemon=True)
                self._writer.start()
                _open_writers.add(self)
            self._cond.notify_all()  # the writer, wherever it waits (flush() callers wait here too)

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
            done = self._cond.wait_for(
                lambda: (not self._pending and not self._busy) or (not while_locked and self._held_up()), timeout
            )
            return done and not self._pending and not self._busy

    def _held_up(self) -> bool:
        """Under the condition: the writes have waited for another process's lock `_LOCK_WAIT` s or more."""
        return self._locked is not None and time.monotonic() - self._locked_since >= _LOCK_WAIT

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: bool(self._pending), timeout=_WRITER_IDLE):
                    self._writer = None  # idle: end the thread; the next submit starts another
                    return
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
            self._commit([item for item, _ in batch], busy_ms=_LOCK_SLICE_MS)
        except Locked as exc:
            self._hold_back(batch, exc)
            return
        except Exception:  # noqa: BLE001 - one bad write must not lose the batch: retry alone
            for i, (item, waiter) in enumerate(batch):
                try:
                    self._commit([item], busy_ms=_LOCK_SLICE_MS)
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

    def write(self, fn: Rows | Write) -> Any:
        """Run one write in its own transaction now (after every submitted write); return its result."""
        self.flush(while_locked=False)  # held up by a lock: this write says so (Locked) after BUSY_MS
        return self._commit([fn])[-1]

    def _commit(self, items: Sequence[Rows | Write], busy_ms: int = BUSY_MS) -> list[Any]:
        """Apply the writes in one transaction; consecutive runs' rows go in together.

        `busy_ms`: how long to wait for another process's lock before `Locked` is raised.
        """
        for item in items:  # JSON and rows of runs handed over by `Rows.later`: before taking the file's lock
            if not callable(item):
                item.build()
        with self.lock:
            self.check_fork()
            self._check_file()
            try:
                return self._transaction(items, busy_ms)
            except Damaged as exc:
                self._on_damage(exc.error)
                return self._transaction(items, busy_ms)  # again, in the fresh file

    def _transaction(self, items: Sequence[Rows | Write], busy_ms: int) -> list[Any]:
        conn = self.conn
        try:
            self._busy_timeout(busy_ms)
            conn.execute("BEGIN IMMEDIATE")
            try:
                out: list[Any] = []
                group: list[Rows] = []
                for item in items:
                    if callable(item):
                        write_rows(conn, group)
                        group = []
                        out.append(item(conn))
                    else:
                        group.append(item)
                        out.append(None)
                write_rows(conn, group)
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (e.g. on damage)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if self.path is not None:
                self.unchecked += 1
                if self.unchecked >= _CHECKPOINT_EVERY:
                    checkpointer.wake.set()
            return out
        except sqlite3.OperationalError as exc:
            if files.is_contended(exc):
                raise Locked(
                    f"the run history file {self.path} is locked by another process (sqlite3: {exc})"
                ) from None
            if files.suggests_damage(exc):
                raise Damaged(exc) from None
            raise HistoryError(f"could not write the run history file {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if files.suggests_damage(exc):
                raise Damaged(exc) from None
            raise corrupt(self.path, exc) from None

    def _busy_timeout(self, busy_ms: int) -> None:
        """Under the lock: how long the connection waits for another process's lock (set only when it changes).

        The writer's batches wait `_LOCK_SLICE_MS`, reads and `write()` `BUSY_MS`: one PRAGMA when
        they alternate, none between the writer's batches (they were two statements per batch).
        """
        if self._timeout_of != (self.conn, busy_ms):
            self.conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            self._timeout_of = (self.conn, busy_ms)

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.flush(while_locked=False)
        with self.lock:
            self.check_fork()
            self._check_file()
            try:
                return self._query(sql, params)
            except Damaged as exc:
                self._on_damage(exc.error)
                return self._query(sql, params)  # the fresh file: the runs recorded from now on

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            self._busy_timeout(BUSY_MS)
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if files.suggests_damage(exc):
                raise Damaged(exc) from None
            raise HistoryError(f"could not read the run history file {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if files.suggests_damage(exc):
                raise Damaged(exc) from None
            raise corrupt(self.path, exc) from None


_CHECKPOINT_EVERY = 500  # commits; also checkpointed once a second when anything was written
_WRITER_IDLE = 10.0  # seconds without writes before a store's writer thread ends
_LAZY_WINDOW = 0.02  # seconds a write nobody waits for may wait for company
_LAZY_BATCH = 256  # ... or until this many are queued
_LOCK_SLICE = 0.25  # seconds the writer waits for another process's lock per attempt
_LOCK_SLICE_MS = int(_LOCK_SLICE * 1000)
_LOCK_WAIT = 2.0  # seconds a waiter waits for writes held up by such a lock before it gets `Locked`
_open_writers: weakref.WeakSet[Store] = weakref.WeakSet()
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
