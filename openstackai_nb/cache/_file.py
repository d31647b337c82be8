"""The response cache's SQLite file: one table of answers, shared by every process that opens it.

WAL journal, a busy timeout for other processes' writes, one connection per process guarded by
a lock (runs of one process may be on several threads). The file is created 0600 in a folder
created 0700 (the WAL and shared-memory files take the file's mode). What is stored: the key
(a SHA-256, see `models.cached.request_key`), the model's name, the answer's deltas as JSON
(scrubbed), when it was stored and its size. Never a request, a header or a key.

Memo: the answers this process read or wrote are also kept in memory (`MEMO_BYTES`), so a
re-run in the same kernel reads no file (an SQLite statement costs the run loop a GIL hand-off
with the history's writer thread, ~0.3 to 1 ms on a busy machine). What another process changes
later (a "write" refresh, `clear()`) reaches this process only for answers it has not kept.

Size bound: after a write, when the rows take more than `max_bytes`, the oldest are deleted
until they take 90% of it. A store that cannot be written (a read-only folder, a damaged file,
another process holding a lock past the timeout) never breaks a run: the write is skipped and
logged once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb._files import private_dir, private_file
from openstackai_nb._secrets import scrub, scrub_data

if TYPE_CHECKING:
    import sqlite3

__all__ = ["ResponseFile"]

logger = logging.getLogger("openstackai_nb")

_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key     TEXT PRIMARY KEY,
    model   TEXT NOT NULL,
    deltas  TEXT NOT NULL,
    created REAL NOT NULL,  -- seconds since the epoch
    size    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS answers_created ON answers(created);
"""
BUSY_MS = 5_000
MEMO_BYTES = 64_000_000
"""The answers a process read or wrote, kept in memory up to this many bytes of JSON (least
recently used dropped first): a cell or grid re-run in the same kernel reads no file."""


def _used_bytes(conn: sqlite3.Connection) -> int:
    pages, free, size = (
        conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
    )
    return int((pages - free) * size)


class ResponseFile:
    """The answers of one cache file (or of memory, with `path` None).

    Args:
        path: the SQLite file; None keeps answers in memory, for this process only.
        max_bytes: the size bound of the stored answers.

    Raises:
        OSError, sqlite3.Error: the file cannot be created or read as a cache.
    """

    def __init__(self, path: Path | None, max_bytes: int) -> None:
        import sqlite3

        self.path = path
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._warned = False
        self._memo: OrderedDict[str, tuple[float, list[dict[str, Any]], int]] = OrderedDict()
        self._memo_bytes = 0
        self._conn = self._connect(sqlite3)

    def _connect(self, sqlite3: Any) -> sqlite3.Connection:
        if self.path is not None:
            private_dir(self.path.parent)  # 0700 and 0600 when created here, as the history's
            private_file(self.path)
        conn = sqlite3.connect(
            ":memory:" if self.path is None else str(self.path),
            timeout=BUSY_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > _VERSION:
            conn.close()
            raise sqlite3.DatabaseError(f"cache schema {version} is newer than this openstackai-nb's ({_VERSION})")
        if self.path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA journal_size_limit=16777216")
        conn.execute("PRAGMA synchronous=NORMAL")
        if version < _VERSION:
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={_VERSION}")
        return conn

    def _conn_now(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # a forked child: never share the parent's connection
            import sqlite3

            self._pid = os.getpid()
            self._conn = self._connect(sqlite3)
        return self._conn

    # -- the ResponseStore interface (models.cached) --------------------------------------------
    def get(self, key: str, max_age: float | None = None) -> list[dict[str, Any]] | None:
        """The stored deltas of `key` (None: a miss, also when older than `max_age` seconds)."""
        import sqlite3

        with self._lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
        if found is None:
            try:
                with self._lock:
                    row = (
                        self._conn_now().execute("SELECT deltas, created FROM answers WHERE key = ?", (key,)).fetchone()
                    )
            except sqlite3.Error as exc:
                self._failed("read", exc)
                row = None
            try:
                parsed = None if row is None else json.loads(row[0])
            except ValueError:
                parsed = None
            if isinstance(parsed, list) and row is not None:
                found = (row[1], parsed, len(row[0]))
                self._remember(key, found)
        if found is None or (max_age is not None and time.time() - found[0] > max_age):
            self.misses += 1
            return None
        self.hits += 1
        return found[1]

    def put(self, key: str, deltas: list[dict[str, Any]], model: str) -> None:
        """Store one complete answer (replacing an older one under the same key); never raises."""
        import sqlite3

        text = json.dumps(scrub_data(deltas), ensure_ascii=False, separators=(",", ":"))
        try:
            with self._lock:
                conn = self._conn_now()
                now = time.time()
                conn.execute(
                    "INSERT OR REPLACE INTO answers (key, model, deltas, created, size) VALUES (?, ?, ?, ?, ?)",
                    (key, scrub(model), text, now, len(text) + len(key) + len(model)),
                )
                self._bound(conn)
        except sqlite3.Error as exc:
            self._failed("write", exc)
            return
        self._remember(key, (now, json.loads(text), len(text)))

    # -- the memo: answers this process read or wrote, kept in memory ------------------------------
    def _remember(self, key: str, entry: tuple[float, list[dict[str, Any]], int]) -> None:
        with self._lock:
            old = self._memo.pop(key, None)
            if old is not None:
                self._memo_bytes -= old[2]
            self._memo[key] = entry
            self._memo_bytes += entry[2]
            while self._memo_bytes > MEMO_BYTES and self._memo:
                self._memo_bytes -= self._memo.popitem(last=False)[1][2]

    def _forget(self, keys: list[str] | None) -> None:
        """Drop `keys` from the memo (None: all); the caller holds the lock."""
        if keys is None:
            self._memo.clear()
            self._memo_bytes = 0
            return
        for key in keys:
            old = self._memo.pop(key, None)
            if old is not None:
                self._memo_bytes -= old[2]

    # -- upkeep -----------------------------------------------------------------------------------
    def _bound(self, conn: sqlite3.Connection) -> None:
        """Delete the oldest answers while the file's pages in use exceed `max_bytes`."""
        used = _used_bytes(conn)
        if used <= self.max_bytes:
            return
        total = conn.execute("SELECT COALESCE(SUM(size), 0) FROM answers").fetchone()[0]
        # Pages hold more than the rows' own bytes (b-tree upkeep): aim at 90% in proportion.
        excess = total - int(total * 0.9 * self.max_bytes / used)
        keys: list[str] = []
        freed = 0
        for key, size in conn.execute("SELECT key, size FROM answers ORDER BY created"):
            if freed >= excess:
                break
            keys.append(key)
            freed += size
        self._forget(keys)
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            conn.execute(f"DELETE FROM answers WHERE key IN ({','.join('?' * len(part))})", part)

    def stats(self) -> tuple[int, int]:
        """(entries, bytes: the file's pages in use, what `max_bytes` bounds)."""
        with self._lock:
            conn = self._conn_now()
            return int(conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]), _used_bytes(conn)

    def clear(self, older_than: float | None = None) -> int:
        """Delete every answer (or those stored more than `older_than` seconds ago); return how many."""
        with self._lock:
            conn = self._conn_now()
            if older_than is None:
                cur = conn.execute("DELETE FROM answers")
                self._forget(None)
            else:
                cutoff = time.time() - older_than
                cur = conn.execute("DELETE FROM answers WHERE created < ?", (cutoff,))
                self._forget([k for k, entry in self._memo.items() if entry[0] < cutoff])
            return cur.rowcount

    def _failed(self, what: str, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            where = self.path or "memory"
            logger.warning(
                "openstackai_nb: could not %s the response cache %s (%s); runs go on uncached", what, where, exc
            )
