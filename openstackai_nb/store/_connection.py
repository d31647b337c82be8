"""How a store gets its SQLite connection, and gets a new one when its file goes away or goes bad.

`StoreConnection` is the base of `_sqlite.Store`: opening (with the fallback to the user's data
folder), the pragmas and schema, the identity check before each batch and read, and the move to
a fresh file when damage is confirmed (`_sqlite_file` holds the file-level helpers and why).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from openstackai_nb._warnings import warn
from openstackai_nb.errors import HistoryError, HistoryWarning
from openstackai_nb.store import _sqlite_file as files
from openstackai_nb.store._schema import BUSY_MS, setup
from openstackai_nb.store._sqlite_file import ENV_VAR, Damaged, Unwritable, corrupt, damaged_message, user_data_dir

__all__ = ["StoreConnection"]

logger = logging.getLogger("openstackai_nb")


class StoreConnection:
    """The connection of a store and the file under it (see the module docs)."""

    lock: threading.RLock
    pid: int
    path: Path | None
    conn: sqlite3.Connection
    _identity: files.FileIdentity | None
    _ckpt_conn: sqlite3.Connection | None
    _ckpt_cursor: sqlite3.Cursor | None = None

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: never blocks writers); checkpointer thread only."""
        try:
            if self._ckpt_conn is None and self.path is not None:
                # mode=rw: never create a file (the store's may have just been deleted).
                uri = self.path.absolute().as_uri() + "?mode=rw"
                self._ckpt_conn = sqlite3.connect(uri, uri=True, timeout=1.0, check_same_thread=False)
            if self._ckpt_conn is None:
                return
            cursor = self._ckpt_cursor
            if cursor is None or cursor.connection is not self._ckpt_conn:
                # One cursor, not one per checkpoint (conn.execute makes one): sqlite3 keeps a weak
                # reference to every cursor and drops them every 200 only, so one a second over a
                # long compare() left objects behind that pinned memory (store/_texts.py).
                cursor = self._ckpt_cursor = self._ckpt_conn.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
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
            warn(
                f"openstackai_nb: cannot write run history in {path.parent} ({exc}); using {fallback}",
                HistoryWarning,
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
            files.private_dir(path.parent)  # created 0700: it holds every run's prompts and answers
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

    def _file_changed(self) -> bool:
        """Whether the path no longer names the file the connection writes (deleted or replaced)."""
        if self._identity is None or self.path is None:
            return False
        try:
            return files.identity(self.path) != self._identity
        except OSError:
            return False  # cannot tell: go on with the open connection

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
            if path is not None:
                files.private_file(path)  # 0600 before SQLite creates it; its -wal and -shm follow
        except OSError as exc:
            raise Unwritable(exc.strerror or str(exc)) from None
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
            except sqlite3.DatabaseError as exc:  # OperationalError included
                if files.is_contended(exc) and time.monotonic() < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.1)
                    continue
                conn.close()
                if files.is_unwritable(exc):
                    raise Unwritable(str(exc)) from None
                if files.is_contended(exc):
                    raise HistoryError(
                        f"the run history file {path} stayed locked by another process for {BUSY_MS // 1000} s "
                        f"({exc}); try again, or point {ENV_VAR} at another file"
                    ) from None
                if path is not None and "malformed" in str(exc):
                    raise Damaged(exc) from None
                raise corrupt(path, exc) from None
