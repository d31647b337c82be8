"""The history's SQLite store: one connection, its transactions and reads, checkpoints.

The tables and the batched write of runs are `_schema`'s; the writer thread with group commit,
and what happens while another process holds the file's lock, `_writer`'s.

Durability: WAL with ``synchronous=NORMAL`` (a committed run survives the process being killed;
an OS crash may lose the last few), ``busy_timeout`` so several kernels write the same file
safely, and ``BEGIN IMMEDIATE`` transactions.

Writes from the run loop: the loop hands over a snapshot of a finished run (`_rows.Rows.later`,
~0.01 ms); the store's writer thread turns what is queued into rows (JSON, scrubbing) and
commits it in one transaction of two multi-row statements (`_schema.write_rows`; why: see
there), then wakes each waiting event loop once per batch. A slow disk never stalls the runs in
flight. A run alone in the process, which waits for its commit anyway, commits itself when the
writer has nothing queued (`StoreWriter.commit_now`: never waits, else the writer does it).
Reads wait for pending writes (a process always sees its own runs); pending writes are flushed
at exit. Checkpoints: `_checkpoint`. The file under the store (deleted, replaced, damaged):
`_sqlite_file`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import HistoryError
from openstackai_nb.store import _sqlite_file as files
from openstackai_nb.store._checkpoint import checkpointer
from openstackai_nb.store._connection import StoreConnection
from openstackai_nb.store._schema import BUSY_MS, write_rows
from openstackai_nb.store._sqlite_file import Damaged, Locked, corrupt
from openstackai_nb.store._writer import LOCK_SLICE_MS, StoreWriter, Write

if TYPE_CHECKING:
    from openstackai_nb.store._rows import Rows

__all__ = ["Store"]

logger = logging.getLogger("openstackai_nb")


class Store(StoreWriter, StoreConnection):
    """One SQLite connection shared by threads (the run loop writes, the notebook reads)."""

    def __init__(self, path: Path | None, *, explicit: bool) -> None:
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self.path = path
        self._identity: files.FileIdentity | None = None  # of the file `conn` writes (None: memory)
        self._ckpt_conn: sqlite3.Connection | None = None
        self.conn = self._open(path, explicit)
        # (connection, busy timeout ms, SQLite's own checkpoints on): as `_schema.setup` leaves them
        self._settings_of: tuple[sqlite3.Connection, int, bool] = (self.conn, BUSY_MS, True)
        self.unchecked = 0  # commits since the last checkpoint
        if self.path is not None:
            checkpointer.watch(self)
        self._write_cursor: sqlite3.Cursor | None = None  # `_cursor`
        self._init_writer()

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

    def _commit_inline(self, item: Rows) -> bool:
        """Under the lock: `commit_now`'s transaction, unless the file changed under the store."""
        if self.pid != os.getpid() or self._file_changed():
            return False  # the writer thread reconnects (and says so)
        try:
            self._transaction([item], 0, checkpoints=False)
        except Exception:  # noqa: BLE001 - Locked, damage...: the writer thread tries again and reports
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            return False
        return True

    def _checkpoint_now(self) -> None:
        """On the writer thread: the WAL checkpoint `commit_now`'s commits left out (best effort)."""
        with self.lock:
            try:
                self._settings(LOCK_SLICE_MS)
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the next one tries again; the checkpointer thread runs too
                logger.debug("openstackai_nb: WAL checkpoint of %s failed: %s", self.path, exc)

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

    def _cursor(self) -> sqlite3.Cursor:
        """Under the lock: the one cursor of the writes.

        `conn.execute` makes a cursor per statement, and sqlite3 drops its weak references to them
        only every 200: after many runs they pinned allocator arenas, and each cost a little CPU.
        """
        cursor = self._write_cursor
        if cursor is None or cursor.connection is not self.conn:
            cursor = self._write_cursor = self.conn.cursor()
        return cursor

    def _transaction(self, items: Sequence[Rows | Write], busy_ms: int, *, checkpoints: bool = True) -> list[Any]:
        conn = self.conn
        try:
            self._settings(busy_ms, checkpoints=checkpoints)
            cursor = self._cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                out: list[Any] = []
                group: list[Rows] = []
                for item in items:
                    if callable(item):
                        write_rows(cursor, group)
                        group = []
                        out.append(item(conn))
                    else:
                        group.append(item)
                        out.append(None)
                write_rows(cursor, group)
            except BaseException:
                if conn.in_transaction:  # SQLite may have rolled back already (e.g. on damage)
                    conn.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
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

    def _settings(self, busy_ms: int, *, checkpoints: bool | None = None) -> None:
        """Under the lock: the busy timeout, and whether commits run SQLite's own WAL checkpoint.

        Each is set only when it changes (`checkpoints=None`: as it is). The writer's batches wait
        `LOCK_SLICE_MS`, reads and `write()` `BUSY_MS`, `commit_now` 0 (with no checkpoint): one
        PRAGMA when they alternate, none between the writer's batches nor between a sequence of
        `commit_now`s (they were two statements per batch).
        """
        conn, old_ms, old_checkpoints = self._settings_of
        if checkpoints is None:
            checkpoints = old_checkpoints
        if conn is not self.conn:
            old_ms, old_checkpoints = BUSY_MS, True  # a new connection: as `_schema.setup` left it
        if old_ms != busy_ms:
            self.conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        if old_checkpoints != checkpoints:
            self.conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_AUTOCHECKPOINT if checkpoints else 0}")
        self._settings_of = (self.conn, busy_ms, checkpoints)

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
            self._settings(BUSY_MS)
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
_WAL_AUTOCHECKPOINT = 1000  # pages: SQLite's default for its own checkpoint after a commit
