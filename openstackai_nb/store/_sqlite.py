"""The history's SQLite store: one connection, a writer thread with group commit, checkpoints.

The tables and the batched write of runs are `_schema`'s.

Durability: WAL with ``synchronous=NORMAL`` (a committed run survives the process being killed;
an OS crash may lose the last few), ``busy_timeout`` so several kernels write the same file
safely, and ``BEGIN IMMEDIATE`` transactions.

Writes from the run loop: the loop only turns a run into rows (`_rows.Rows`, ~0.05 ms) and
queues them; the store's writer thread commits whatever is queued in one transaction, with one
multi-row statement per table (`write_rows`), then wakes each waiting event loop once per batch.
Statement count matters more than row count here: the sqlite3 module releases the GIL around
every statement, and on a busy process each release costs the writer a GIL hand-off (measured:
1,000 rows in batches of 10 under a CPU-bound thread took 13 s and 246 ms of CPU one statement
per row, 2.3 s and 53 ms with one multi-row statement per batch). A slow disk never stalls the
runs in flight. Reads wait for pending writes (a process always sees its own runs), and pending
writes are flushed at exit. SQLite's own WAL checkpoints run on the writer thread; a background
thread also checkpoints (PASSIVE) on its own connection once a second after writes.

The file under the store (`_sqlite_file`): before each write batch and read, one ``os.stat``
checks that the path still names the file the connection writes; a file deleted or replaced
meanwhile is reopened (recreated) with one `HistoryWarning`. An error that suggests damage
is confirmed with ``PRAGMA quick_check``; a damaged file is never written again: runs go to a
fresh file beside it, with one warning naming both.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import HistoryError, HistoryWarning
from openstackai_nb.store import _sqlite_file as files
from openstackai_nb.store._schema import BUSY_MS, setup, write_rows
from openstackai_nb.store._sqlite_file import ENV_VAR, Damaged, Unwritable, corrupt, damaged_message, user_data_dir

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


class Store:
    """One SQLite connection shared by threads (the run loop writes, the notebook reads)."""

    def __init__(self, path: Path | None, *, explicit: bool) -> None:
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self.path = path
        self._identity: files.FileIdentity | None = None  # of the file `conn` writes (None: memory)
        self._ckpt_conn: sqlite3.Connection | None = None
        self.conn = self._open(path, explicit)
        self.unchecked = 0  # commits since the last checkpoint
        if self.path is not None:
            _checkpointer.watch(self)
        # Writes queued by the run loop are committed by a writer thread, in batches.
        self._pending: list[tuple[Rows | Write, Waiter]] = []
        self._busy = False
        self._urgent = False  # someone waits for the queued writes: commit them now
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self._writer_failed = False

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: never blocks writers); checkpointer thread only."""
        try:
            if self._ckpt_conn is None and self.path is not None:
                # mode=rw: never create a file (the store's may have just been deleted).
                uri = self.path.absolute().as_uri() + "?mode=rw"
                self._ckpt_conn = sqlite3.connect(uri, uri=True, timeout=1.0, check_same_thread=False)
            if self._ckpt_conn is None:
                return
            self._ckpt_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # best effort: the next round tries again
            logger.debug("openstackai_nb: WAL checkpoint of %s failed: %s", self.path, exc)

    def close_checkpointer(self) -> None:
        conn, self._ckpt_conn = self._ckpt_conn, None
        if conn is not None:
            conn.close()

    # opening --------------------------------------------------------------------------------
    def _open(self, path: Path | None, explicit: bool) -> sqlite3.Connection:
        if path is None:
            return self._connect(":memory:", None)
        try:
            return self._connect_file(path)
        except Unwritable as exc:
            if explicit:
                raise HistoryError(
                    f"cannot write the run history file {path} ({exc}). Choose a writable file with "
                    f"{ENV_VAR}=/path/to/history.sqlite (or {ENV_VAR}=off to keep history in memory only)"
                ) from None
            fallback = user_data_dir() / "history.sqlite"
            try:
                conn = self._connect_file(fallback)
            except Unwritable as exc2:
                # One message for one cause: no "using <fallback>" warning before this error.
                raise HistoryError(
                    f"cannot write the run history in {path.parent} ({exc}) nor in {fallback.parent} ({exc2}); "
                    f"set {ENV_VAR} to a writable file, or {ENV_VAR}=off"
                ) from None
            warnings.warn(
                f"openstackai_nb: cannot write run history in {path.parent} ({exc}); using {fallback}",
                HistoryWarning,
                stacklevel=4,
            )
            return conn

    def _connect_file(self, path: Path) -> sqlite3.Connection:
        """Open (or create) the store file at `path`, or the fresh file that replaces a damaged one.

        Sets `self.path` and the file's identity.
        """
        known = files.read_marker(path)
        if known is not None:
            files.warn(damaged_message(path, known[0], known[1] or "found by an earlier check"))
            path = known[0]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unwritable(exc.strerror or str(exc)) from None
        if path.is_dir():
            raise HistoryError(f"the run history path {path} is a folder; give a file such as {path}/history.sqlite")
        try:
            conn = self._connect(str(path), path)
        except Damaged as exc:
            problem = self._problem_of(path)
            if problem is None:
                raise corrupt(path, exc.error) from None
            return self._move_off(path, problem)
        self.path, self._identity = path, files.identity(path)
        return conn

    def _problem_of(self, path: Path) -> str | None:
        """What `PRAGMA quick_check` finds wrong with the file at `path` (None: nothing)."""
        try:
            conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, timeout=BUSY_MS / 1000)
        except sqlite3.Error as exc:
            return str(exc)
        try:
            return files.integrity_problem(conn)
        finally:
            conn.close()  # read-only, and the file is not deleted: closing touches nothing

    def _move_off(self, damaged: Path, problem: str) -> sqlite3.Connection:
        """Open a fresh file beside a damaged one, note it there, warn once; returns its connection."""
        fresh = files.fresh_path(damaged)
        conn = self._connect(str(fresh), fresh)
        files.write_marker(damaged, fresh, problem)
        files.warn(damaged_message(damaged, fresh, problem))
        self.path, self._identity = fresh, files.identity(fresh)
        return conn

    def _check_file(self) -> None:
        """Under the lock, before a write batch or a read: does the path still name our file?"""
        if self._identity is None or self.path is None:
            return
        try:
            now = files.identity(self.path)
        except OSError:
            return  # cannot tell: go on with the open connection
        if now == self._identity:
            return
        path = self.path
        try:
            self._replace_connection(lambda: self._connect_file(path))
        except Unwritable as exc:
            raise HistoryError(
                f"the run history file {path} was deleted while this process had it open, and cannot be created "
                f"again ({exc}); set {ENV_VAR} to a writable file, or {ENV_VAR}=off"
            ) from None
        files.warn(
            f"openstackai_nb: the run history file {path} was {'deleted' if now is None else 'replaced'} while this "
            f"process had it open; runs from now on go to the new file {self.path} (runs recorded before are not in it)"
        )

    def _on_damage(self, exc: BaseException) -> None:
        """Under the lock, after an error that suggests damage: confirm it, then move off the file.

        Raises:
            HistoryError: the file is sound after all (the error is reported as it was), or no
                fresh file could be opened.
        """
        damaged = self.path
        problem = files.integrity_problem(self.conn) if damaged is not None else None
        if damaged is None or problem is None:
            raise corrupt(damaged, exc) from None
        self._replace_connection(lambda: self._move_off(damaged, problem))

    def _replace_connection(self, connect: Callable[[], sqlite3.Connection]) -> None:
        conn = connect()
        old, self.conn = self.conn, conn
        ckpt, self._ckpt_conn = self._ckpt_conn, None
        files.keep_open_forever(old)  # closing them could delete the new file's -wal and -shm
        files.keep_open_forever(ckpt)

    def _connect(self, target: str, path: Path | None) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(target, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        except sqlite3.OperationalError as exc:
            raise Unwritable(str(exc)) from None
        # Another process opening (or creating) the same file at this moment can hold the lock
        # the setup needs; `PRAGMA journal_mode=WAL` then fails at once with "database is locked"
        # instead of waiting for the busy timeout. That is contention, not damage: try again.
        deadline = time.monotonic() + BUSY_MS / 1000
        pause = 0.005
        while True:
            try:
                setup(conn, path)
                return conn
            except HistoryError:
                conn.close()
                raise
            except sqlite3.OperationalError as exc:
                msg = str(exc)
                if ("locked" in msg or "busy" in msg) and time.monotonic() < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.1)
                    continue
                conn.close()
                if "readonly" in msg or "unable to open" in msg or "disk I/O" in msg:
                    raise Unwritable(msg) from None
                if "locked" in msg or "busy" in msg:
                    raise HistoryError(
                        f"the run history file {path} stayed locked by another process for {BUSY_MS // 1000} s "
                        f"({msg}); try again, or point {ENV_VAR} at another file"
                    ) from None
                if path is not None and "malformed" in msg:
                    raise Damaged(exc) from None
                raise corrupt(path, exc) from None
            except sqlite3.DatabaseError as exc:
                conn.close()
                if path is not None and "malformed" in str(exc):
                    raise Damaged(exc) from None
                raise corrupt(path, exc) from None

    # using ----------------------------------------------------------------------------------
    def check_fork(self) -> None:
        if self.pid != os.getpid() and self.path is not None:
            # A forked child must not share the parent's connections, nor wait for its thread,
            # nor close them (that could delete the -wal the parent writes).
            files.keep_open_forever(self.conn)
            self.conn = self._connect(str(self.path), self.path)
            self._ckpt_conn = None
            self.pid = os.getpid()
            _checkpointer.watch(self)

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

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted write is committed; False if `timeout` ran out first."""
        if threading.current_thread() is self._writer:
            return True
        with self._cond:
            if self._pending:
                self._urgent = True
                self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: bool(self._pending), timeout=_WRITER_IDLE):
                    self._writer = None  # idle: end the thread; the next submit starts another
                    return
                if not self._urgent:
                    # Nobody waits for these yet (runs inside compare(), RUNNING rows): gather
                    # more for one commit; fewer, bigger commits cost the run loop less CPU.
                    self._cond.wait_for(lambda: self._urgent or len(self._pending) >= _LAZY_BATCH, _LAZY_WINDOW)
                batch, self._pending = self._pending, []
                self._urgent = False
                self._busy = True
            try:
                try:
                    self._commit([item for item, _ in batch])
                except Exception:  # noqa: BLE001 - one bad write must not lose the batch: retry alone
                    for item, waiter in batch:
                        try:
                            self._commit([item])
                        except Exception as exc:  # noqa: BLE001 - reported once; the runs go on
                            self._resolve([waiter], exc)
                            if not self._writer_failed:
                                self._writer_failed = True
                                logger.warning("openstackai_nb: could not record a run in %s: %s", self.path, exc)
                        else:
                            self._resolve([waiter], None)
                else:
                    self._resolve([waiter for _, waiter in batch], None)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

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
        self.flush()
        return self._commit([fn])[-1]

    def _commit(self, items: Sequence[Rows | Write]) -> list[Any]:
        """Apply the writes in one transaction; consecutive runs' rows go in together."""
        with self.lock:
            self.check_fork()
            self._check_file()
            try:
                return self._transaction(items)
            except Damaged as exc:
                self._on_damage(exc.error)
                return self._transaction(items)  # again, in the fresh file

    def _transaction(self, items: Sequence[Rows | Write]) -> list[Any]:
        conn = self.conn
        try:
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
                    _checkpointer.wake.set()
            return out
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HistoryError(
                    f"the run history file {self.path} stayed locked by another process ({exc})"
                ) from None
            if files.suggests_damage(exc):
                raise Damaged(exc) from None
            raise HistoryError(f"could not write the run history file {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if files.suggests_damage(exc):
                raise Damaged(exc) from None
            raise corrupt(self.path, exc) from None

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.flush()
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
_open_writers: weakref.WeakSet[Store] = weakref.WeakSet()
_exiting = False


@atexit.register
def _flush_at_exit() -> None:
    global _exiting
    _exiting = True
    for store in list(_open_writers):
        if store.pid == os.getpid():
            store.flush(5.0)


class _Checkpointer:
    """One daemon thread that checkpoints the WAL of every open store file now and then."""

    def __init__(self) -> None:
        self.stores: weakref.WeakSet[Store] = weakref.WeakSet()
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def watch(self, store: Store) -> None:
        with self.lock:
            self.stores.add(store)
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="openstackai-nb-checkpoint", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            self.wake.wait(1.0)
            self.wake.clear()
            for store in list(self.stores):
                if store.unchecked and store.pid == os.getpid():
                    store.unchecked = 0
                    store.checkpoint()


_checkpointer = _Checkpointer()
