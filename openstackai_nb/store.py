"""RunHistory: the durable run store (SQLite, WAL) and its queries.

Every run (API, magic, compare) is written here by the run loop: once when it starts (status
RUNNING) and once when it ends. `openstackai_nb.history` is the session's `RunHistory`, created
on first use (`get_history()`); `RunHistory(path)` opens any other store file.

Where the session's store lives:

- ``OPENSTACKAI_NB_HISTORY=/some/file.sqlite``: that file (an error if it cannot be written);
- ``OPENSTACKAI_NB_HISTORY=off``: in memory only, gone when the process ends;
- otherwise ``.openstackai_nb/history.sqlite`` in the working directory (the notebook's folder);
  when that folder cannot be written, the user's data directory
  (``~/.local/share/openstackai-nb/history.sqlite`` on Linux) with a one-line warning.

Layout: a narrow table ``runs`` of scalar columns (read straight into pandas: no JSON is parsed
for `to_dataframe()`), the run's full ``RunResult`` JSON in ``results`` (for iteration and
export), and the tidy tables ``tool_calls`` and ``turns`` keyed by run_id. Secrets are scrubbed
(`_secrets.scrub`) before anything is written.

Durability: WAL with ``synchronous=NORMAL`` (a committed run survives the process being killed;
an OS crash may lose the last few), ``busy_timeout`` so several kernels write the same file
safely, and ``BEGIN IMMEDIATE`` transactions. The run loop only serialises a run (~0.1 ms) and
hands the write to the store's writer thread, which commits whatever is queued in one
transaction: a slow disk never stalls the runs in flight. Reads through the same store wait for
pending writes (so a process always sees its own runs), and pending writes are flushed at exit.
WAL checkpoints, the one step that waits for the disk, run on a separate connection of a
background thread (``wal_autocheckpoint=0`` on the writing connection).

Interrupted runs: a RUNNING row remembers the host, pid and process start time of its owner.
When a store is opened or read and that process no longer exists, the run is marked FAILED
with the error ``"interrupted: ..."`` (its input and partial row are kept). Rows owned by a live
process, or by another host, stay RUNNING.

A file that is not a readable SQLite database raises `HistoryError` naming the file and what to
do; it is never modified or replaced. A single unreadable row is skipped with a warning, so one
bad run never hides the others.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from openstackai_nb.errors import HistoryError

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.runner.result import RunResult

__all__ = [
    "HistoryError",
    "HistoryWarning",
    "RunHistory",
    "default_path",
    "get_history",
    "record",
    "set_history",
]

logger = logging.getLogger("openstackai_nb")

ENV_VAR = "OPENSTACKAI_NB_HISTORY"
_OFF = {"off", ":memory:", "none", "false", "0", "no"}
_SCHEMA_VERSION = 1
_BUSY_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            TEXT NOT NULL UNIQUE,
    agent             TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    input             TEXT NOT NULL DEFAULT '',
    final_output      TEXT,
    status            TEXT NOT NULL,
    turn_count        INTEGER NOT NULL DEFAULT 0,
    elapsed_time      REAL NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    n_tool_calls      INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    started_at        INTEGER NOT NULL,  -- nanoseconds since the epoch, UTC
    metadata          TEXT NOT NULL DEFAULT '{}',
    owner_host        TEXT,
    owner_pid         INTEGER,
    owner_start       TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
-- The full RunResult JSON lives apart, so the runs table stays narrow and fast to scan.
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tool_calls (
    run_id       TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    call_id      TEXT,
    name         TEXT,
    arguments    TEXT,
    result       TEXT,
    error        TEXT,
    started_at   INTEGER,
    elapsed_time REAL,
    turn         INTEGER,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS turns (
    run_id       TEXT NOT NULL,
    turn         INTEGER NOT NULL,
    start        REAL,
    duration     REAL,
    outcome      TEXT,
    model_time   REAL,
    retries      INTEGER,
    n_tool_calls INTEGER,
    tool_time    REAL,
    error        TEXT,
    PRIMARY KEY (run_id, turn)
) WITHOUT ROWID;
"""

RUN_COLUMNS = (
    "run_id",
    "agent",
    "model",
    "input",
    "final_output",
    "status",
    "turn_count",
    "elapsed_time",
    "prompt_tokens",
    "completion_tokens",
    "n_tool_calls",
    "error",
    "started_at",
)
_INT_COLUMNS = ("turn_count", "prompt_tokens", "completion_tokens", "n_tool_calls")

_UPSERT = (
    "INSERT INTO runs (run_id, agent, model, input, final_output, status, turn_count, elapsed_time,"
    " prompt_tokens, completion_tokens, n_tool_calls, error, started_at, metadata, owner_host, owner_pid,"
    " owner_start) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT(run_id) DO UPDATE SET agent=excluded.agent, model=excluded.model, input=excluded.input,"
    " final_output=excluded.final_output, status=excluded.status, turn_count=excluded.turn_count,"
    " elapsed_time=excluded.elapsed_time, prompt_tokens=excluded.prompt_tokens,"
    " completion_tokens=excluded.completion_tokens, n_tool_calls=excluded.n_tool_calls, error=excluded.error,"
    " started_at=excluded.started_at, metadata=excluded.metadata, owner_host=excluded.owner_host,"
    " owner_pid=excluded.owner_pid, owner_start=excluded.owner_start"
)
_PUT_RESULT = "INSERT OR REPLACE INTO results (run_id, result) VALUES (?, ?)"
_RESULT = "(SELECT b.result FROM results b WHERE b.run_id = runs.run_id)"


class HistoryWarning(UserWarning):
    """Something about the run history the user should know (fallback location, a bad row)."""


# -- where the store lives ---------------------------------------------------------------------


def _user_data_dir() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "openstackai-nb"


def default_path() -> Path | None:
    """The session store's file from `OPENSTACKAI_NB_HISTORY` or the default; None means memory."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env.lower() in _OFF:
        return None
    if env:
        return Path(env).expanduser()
    return Path.cwd() / ".openstackai_nb" / "history.sqlite"


# -- who owns a RUNNING row --------------------------------------------------------------------


def _proc_start(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses: split after the last ")".
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


_HOST = socket.gethostname()
_owner_cache: tuple[int, str | None] | None = None


def _owner() -> tuple[str, int, str | None]:
    global _owner_cache
    pid = os.getpid()
    if _owner_cache is None or _owner_cache[0] != pid:
        _owner_cache = (pid, _proc_start(pid))
    return _HOST, pid, _owner_cache[1]


def _process_gone(host: str | None, pid: int | None, start: str | None) -> bool:
    """True only when we can tell the owner process no longer exists."""
    if host != _HOST or not pid:
        return False
    if pid == os.getpid():
        return start is not None and start != _owner()[2]
    if os.path.isdir("/proc/self"):
        now = _proc_start(pid)
        return now is None or (start is not None and now != start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


# -- turning a RunResult into rows --------------------------------------------------------------


def _ns(value: Any) -> int:
    """ISO-8601 text or datetime -> nanoseconds since the epoch (UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    return 0


def _json_default(value: Any) -> Any:
    # The same text pydantic writes in the result JSON: ISO dates, else str().
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


_KEY_MARKERS = ("bearer", "sk-", "pk-", "rk-", "ak-", "ghp_", "gho_", "xox", "hf_")
_SECRET_SUFFIXES = ("API_KEY", "_TOKEN", "_SECRET", "PASSWORD")


def _may_hold_secret(text: str) -> bool:
    """A fast, conservative pre-check for `_secrets.scrub` (which costs ~1 ms on a run's JSON).

    True when the text contains a key-shaped prefix or a secret the process knows (registered
    keys and `*_API_KEY`/`*_TOKEN`/... variables, read without decoding all of os.environ).
    """
    from openstackai_nb import _secrets

    low = text.lower()
    if any(m in low for m in _KEY_MARKERS):
        return True
    for secret in _secrets._known:
        if secret in text:
            return True
    raw = getattr(os.environ, "_data", None)
    if isinstance(raw, dict):
        for key in _secret_env_keys(raw):
            v = raw.get(key)
            if v is not None and len(v) >= 6:
                value = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                if value in text:
                    return True
        return False
    return True  # unknown platform layout: let scrub decide


_env_keys_cache: tuple[int, list[Any]] = (0, [])


def _secret_env_keys(raw: dict[Any, Any]) -> list[Any]:
    """The secret-named keys of the environment, recomputed only when the set of names changes."""
    global _env_keys_cache
    fingerprint = hash(tuple(raw))
    if fingerprint != _env_keys_cache[0]:
        keys = [
            k
            for k in raw
            if (k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)).upper().endswith(_SECRET_SUFFIXES)
        ]
        _env_keys_cache = (fingerprint, keys)
    return _env_keys_cache[1]


class _Rows:
    """The rows one RunResult becomes: its runs row, tool-call rows and turn rows (scrubbed)."""

    __slots__ = ("run", "run_id", "text", "tools", "turns")

    def __init__(self, result: RunResult, owner: tuple[Any, Any, Any], *, detail: bool) -> None:
        text = result.model_dump_json()
        if _may_hold_secret(text):
            from openstackai_nb._secrets import scrub

            clean = scrub(text)
            if clean != text:
                self._from_data(json.loads(clean), clean, owner, detail)
                return
        self.run_id = run_id = result.run_id
        self.run = (
            run_id,
            result.agent_name,
            result.model,
            result.input,
            result.final_output,
            str(result.status.value),
            result.turn_count,
            float(result.elapsed_time),
            result.usage.prompt_tokens,
            result.usage.completion_tokens,
            len(result.tool_calls),
            result.error,
            _ns(result.started_at),
            _dumps(result.metadata) if result.metadata else "{}",
            *owner,
        )
        self.text = text
        if not detail:
            self.tools, self.turns = [], []
            return
        self.tools = [
            (run_id, i, c.call_id, c.name, _dumps(c.arguments), _dumps(c.result), c.error, _ns(c.started_at),
             c.elapsed_time, c.turn)
            for i, c in enumerate(result.tool_calls)
        ]  # fmt: skip
        self.turns = _turn_rows(
            run_id,
            result.turn_count,
            [(s.kind, s.turn, s.start, s.duration, s.outcome, s.attributes) for s in result.trace],
            [c.turn for c in result.tool_calls],
        )

    def _from_data(self, data: dict[str, Any], text: str, owner: tuple[Any, Any, Any], detail: bool) -> None:
        usage = data.get("usage") or {}
        calls = data.get("tool_calls") or []
        self.run_id = run_id = data["run_id"]
        self.run = (
            run_id,
            data.get("agent_name") or "",
            data.get("model") or "",
            data.get("input") or "",
            data.get("final_output"),
            data.get("status") or "QUEUED",
            int(data.get("turn_count") or 0),
            float(data.get("elapsed_time") or 0.0),
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            len(calls),
            data.get("error"),
            _ns(data.get("started_at")),
            _dumps(data.get("metadata") or {}),
            *owner,
        )
        self.text = text
        if not detail:
            self.tools, self.turns = [], []
            return
        self.tools = [
            (run_id, i, c.get("call_id"), c.get("name"), _dumps(c.get("arguments")), _dumps(c.get("result")),
             c.get("error"), _ns(c.get("started_at")), c.get("elapsed_time"), c.get("turn"))
            for i, c in enumerate(calls)
        ]  # fmt: skip
        spans = [
            (s.get("kind"), s.get("turn"), s.get("start"), s.get("duration"), s.get("outcome"), s.get("attributes"))
            for s in data.get("trace") or ()
        ]
        self.turns = _turn_rows(run_id, int(data.get("turn_count") or 0), spans, [c.get("turn") for c in calls])


def _turn_rows(
    run_id: str, turn_count: int, spans: Sequence[tuple[Any, ...]], call_turns: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """One row per turn: from the trace's spans, else from turn_count and the tool calls."""
    turns: dict[int, list[Any]] = {}

    def row(turn: int) -> list[Any]:
        if turn not in turns:
            # start, duration, outcome, model_time, retries, n_tool_calls, tool_time, error
            turns[turn] = [None, None, None, None, 0, 0, 0.0 if spans else None, None]
        return turns[turn]

    for kind, turn, start, duration, outcome, attributes in spans:
        attrs = attributes or {}
        r = row(int(turn or 0))
        if kind == "turn":
            r[0], r[1], r[2] = start, duration, outcome
        elif kind == "model":
            r[3] = (r[3] or 0.0) + float(duration or 0.0)
            r[4] += len(attrs.get("retries") or ())
            if attrs.get("error") and not r[7]:
                r[7] = str(attrs["error"])
        elif kind == "tool":
            r[6] += float(duration or 0.0)
    for turn in call_turns:
        row(int(turn or 0))[5] += 1
    for turn in range(1, turn_count + 1):
        row(turn)
    return [(run_id, turn, *r) for turn, r in sorted(turns.items())]


# -- the store ------------------------------------------------------------------------------------


class _Where:
    """A SQL condition on the runs table (and its parameters), combined with AND."""

    __slots__ = ("clauses", "params")

    def __init__(self, clauses: tuple[str, ...] = (), params: tuple[Any, ...] = ()) -> None:
        self.clauses = clauses
        self.params = params

    def and_(self, clause: str, *params: Any) -> _Where:
        return _Where((*self.clauses, clause), (*self.params, *params))

    def sql(self, prefix: str = "") -> str:
        if not self.clauses:
            return ""
        return " WHERE " + " AND ".join(f"({c.replace('@', prefix)})" for c in self.clauses)


class _Store:
    """One SQLite connection shared by threads (the run loop writes, the notebook reads)."""

    def __init__(self, path: Path | None, *, explicit: bool) -> None:
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self.path = path
        self.conn = self._open(path, explicit)
        self.unchecked = 0  # commits since the last checkpoint
        self._ckpt_conn: sqlite3.Connection | None = None
        if self.path is not None:
            _checkpointer.watch(self)
        # Writes submitted by the run loop (`submit`) are committed by a writer thread, in batches.
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], Future[None]]] = []
        self._busy = False
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self._writer_failed = False

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: never blocks writers); checkpointer thread only."""
        try:
            if self._ckpt_conn is None:
                self._ckpt_conn = sqlite3.connect(str(self.path), timeout=1.0, check_same_thread=False)
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
        except _Unwritable as exc:
            if explicit:
                raise HistoryError(
                    f"cannot write the run history file {path} ({exc}). Choose a writable file with "
                    f"{ENV_VAR}=/path/to/history.sqlite (or {ENV_VAR}=off to keep history in memory only)"
                ) from None
            fallback = _user_data_dir() / "history.sqlite"
            warnings.warn(
                f"openstackai_nb: cannot write run history in {path.parent} ({exc}); using {fallback}",
                HistoryWarning,
                stacklevel=4,
            )
            try:
                conn = self._connect_file(fallback)
            except _Unwritable as exc2:
                raise HistoryError(
                    f"cannot write the run history in {path.parent} nor in {fallback.parent} ({exc2}); "
                    f"set {ENV_VAR} to a writable file, or {ENV_VAR}=off"
                ) from None
            self.path = fallback
            return conn

    def _connect_file(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _Unwritable(exc.strerror or str(exc)) from None
        if path.is_dir():
            raise HistoryError(f"the run history path {path} is a folder; give a file such as {path}/history.sqlite")
        return self._connect(str(path), path)

    def _connect(self, target: str, path: Path | None) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(target, timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        except sqlite3.OperationalError as exc:
            raise _Unwritable(str(exc)) from None
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                conn.close()
                raise HistoryError(
                    f"the run history file {path} was written by a newer openstackai-nb (schema {version}); "
                    "upgrade openstackai-nb or use another file"
                )
            if path is not None:
                conn.execute("PRAGMA journal_mode=WAL")
                # Commits happen on the store's writer thread, never on the run loop, so SQLite's
                # own checkpoint after a commit (every ~1000 pages) is kept: with checkpoints only
                # on another connection, a WAL written to without pause never got reset and grew
                # without bound (730 MB for 20,000 writes). The WAL is truncated back to 16 MB.
                conn.execute("PRAGMA journal_size_limit=16777216")
            conn.execute("PRAGMA synchronous=NORMAL")
            if version < _SCHEMA_VERSION:
                # Idempotent (IF NOT EXISTS): two processes creating the same file at once is fine.
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except HistoryError:
            raise
        except sqlite3.OperationalError as exc:
            conn.close()
            msg = str(exc)
            if "readonly" in msg or "unable to open" in msg or "disk I/O" in msg:
                raise _Unwritable(msg) from None
            raise _corrupt(path, exc) from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _corrupt(path, exc) from None
        return conn

    # using ----------------------------------------------------------------------------------
    def check_fork(self) -> None:
        if self.pid != os.getpid() and self.path is not None:
            # A forked child must not share the parent's connections, nor wait for its thread.
            self.conn = self._connect(str(self.path), self.path)
            self._ckpt_conn = None
            self.pid = os.getpid()
            _checkpointer.watch(self)

    def submit(self, fn: Callable[[sqlite3.Connection], Any]) -> Future[None]:
        """Queue a write for the writer thread; the future resolves once it is committed.

        Returns at once. Writes queued together are committed in one transaction (group
        commit), so waiting on the future costs a run one commit, shared with its neighbours.
        """
        done: Future[None] = Future()
        if _exiting:
            # After the exit flush (e.g. runs cancelled while the process shuts down): commit now.
            self.write(fn)
            done.set_result(None)
            return done
        with self._cond:
            self._pending.append((fn, done))
            if self._writer is None or not self._writer.is_alive() or self.pid != os.getpid():
                self._writer = threading.Thread(target=self._write_loop, name="openstackai-nb-history", daemon=True)
                self._writer.start()
                _open_writers.add(self)
            self._cond.notify()
        return done

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted write is committed; False if `timeout` ran out first."""
        if threading.current_thread() is self._writer:
            return True
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: bool(self._pending), timeout=_WRITER_IDLE):
                    self._writer = None  # idle: end the thread; the next submit starts another
                    return
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                self._commit([fn for fn, _ in batch])
                for _, done in batch:
                    done.set_result(None)
            except Exception:  # noqa: BLE001 - one bad write must not lose the batch: retry alone
                for fn, done in batch:
                    try:
                        self._commit([fn])
                        done.set_result(None)
                    except Exception as exc:  # noqa: BLE001 - reported once; the runs go on
                        done.set_exception(exc)
                        if not self._writer_failed:
                            self._writer_failed = True
                            logger.warning("openstackai_nb: could not record a run in %s: %s", self.path, exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `fn` in one transaction now (after every submitted write); return its result."""
        self.flush()
        return self._commit([fn])[-1]

    def _commit(self, fns: Sequence[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
        with self.lock:
            self.check_fork()
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = [fn(conn) for fn in fns]
                except BaseException:
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
                if "malformed" in str(exc) or "not a database" in str(exc):
                    raise _corrupt(self.path, exc) from None
                raise HistoryError(f"could not write the run history file {self.path}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.path, exc) from None

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.flush()
        with self.lock:
            self.check_fork()
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "malformed" in str(exc) or "not a database" in str(exc):
                    raise _corrupt(self.path, exc) from None
                raise HistoryError(f"could not read the run history file {self.path}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.path, exc) from None


_CHECKPOINT_EVERY = 500  # commits; also checkpointed once a second when anything was written
_WRITER_IDLE = 10.0  # seconds without writes before a store's writer thread ends
_open_writers: weakref.WeakSet[_Store] = weakref.WeakSet()


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
        self.stores: weakref.WeakSet[_Store] = weakref.WeakSet()
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def watch(self, store: _Store) -> None:
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


class _Unwritable(Exception):
    pass


def _corrupt(path: Path | None, exc: BaseException) -> HistoryError:
    where = str(path) if path is not None else "(in memory)"
    return HistoryError(
        f"the run history file {where} is not a readable SQLite database ({exc}). Nothing was changed in it. "
        f"Move it aside (e.g. `mv {where} {where}.broken`) to start a new history, or point {ENV_VAR} at another "
        f"file; `sqlite3 {where} .recover` may rescue its runs"
    )


class RunHistory:
    """Runs recorded in a store file (or in memory): a sequence of RunResults, newest last.

    `openstackai_nb.history` is the session's instance; every run of the process lands in it.
    `RunHistory(path)` opens another store file (created if missing); `RunHistory(":memory:")`
    an empty one in memory.

    Args:
        path: the store file; None = `OPENSTACKAI_NB_HISTORY` or `.openstackai_nb/history.sqlite`.

    Raises:
        HistoryError: the file is not a readable SQLite database, or cannot be written.

    Example:
        >>> from openstackai_nb import history
        >>> df = history.to_dataframe()                      # one row per run
        >>> failed = history.filter(status="FAILED")
        >>> history.export("runs.jsonl")
    """

    _store: _Store
    _where: _Where

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            resolved, explicit = default_path(), bool(os.environ.get(ENV_VAR, "").strip())
        elif str(path).strip().lower() in _OFF:
            resolved, explicit = None, True
        else:
            resolved, explicit = Path(path).expanduser(), True
        self._store = _Store(resolved, explicit=explicit)
        self._where = _Where()
        self._reap()

    @classmethod
    def _view(cls, store: _Store, where: _Where) -> RunHistory:
        view = cls.__new__(cls)
        view._store, view._where = store, where
        return view

    # -- where ----------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The store file (None when the history is in memory only)."""
        return self._store.path

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        part = " (filtered)" if self._where.clauses else ""
        return f"RunHistory({len(self)} runs{part}, {where})"

    # -- recording ------------------------------------------------------------------------------
    def add(self, result: RunResult, *, finished: bool = True, wait: bool = True) -> Future[None] | None:
        """Insert or update a run (keyed by run_id). The run loop records every run this way.

        Args:
            result: the run (serialised now, so later changes to it are not recorded).
            finished: False when the run has just started (its row is marked as owned by this
                process, so a crash can be detected later).
            wait: commit before returning. False hands the write to the store's writer thread
                (the run loop's way: a commit never stalls the loop); reads of this store wait
                for such writes, so they are always seen.

        Returns:
            With wait=False, a future that resolves once the write is committed.
        """
        if not finished:
            rows = _Rows(result, _owner(), detail=False)

            def write(c: sqlite3.Connection) -> None:
                c.execute(_UPSERT, rows.run)
                c.execute(_PUT_RESULT, (rows.run_id, rows.text))

        else:
            rows = _Rows(result, (None, None, None), detail=True)

            def write(c: sqlite3.Connection) -> None:
                run_id = rows.run_id
                c.execute(_UPSERT, rows.run)
                c.execute(_PUT_RESULT, (run_id, rows.text))
                c.execute("DELETE FROM tool_calls WHERE run_id=?", (run_id,))
                c.execute("DELETE FROM turns WHERE run_id=?", (run_id,))
                if rows.tools:
                    c.executemany("INSERT INTO tool_calls VALUES (?,?,?,?,?,?,?,?,?,?)", rows.tools)
                if rows.turns:
                    c.executemany("INSERT INTO turns VALUES (?,?,?,?,?,?,?,?,?,?)", rows.turns)

        if wait:
            self._store.write(write)
            return None
        return self._store.submit(write)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every run recorded so far is committed to the store file."""
        return self._store.flush(timeout)

    def add_many(self, results: Iterable[RunResult]) -> int:
        """Insert or update finished runs in one transaction (imports); returns how many."""
        rows: list[tuple[Any, ...]] = []
        tools: list[tuple[Any, ...]] = []
        turns: list[tuple[Any, ...]] = []
        ids: list[tuple[str]] = []
        texts: list[tuple[str, str]] = []
        for result in results:
            r = _Rows(result, (None, None, None), detail=True)
            ids.append((r.run_id,))
            texts.append((r.run_id, r.text))
            rows.append(r.run)
            tools.extend(r.tools)
            turns.extend(r.turns)

        def write(c: sqlite3.Connection) -> None:
            c.executemany(_UPSERT, rows)
            c.executemany(_PUT_RESULT, texts)
            c.executemany("DELETE FROM tool_calls WHERE run_id=?", ids)
            c.executemany("DELETE FROM turns WHERE run_id=?", ids)
            c.executemany("INSERT INTO tool_calls VALUES (?,?,?,?,?,?,?,?,?,?)", tools)
            c.executemany("INSERT INTO turns VALUES (?,?,?,?,?,?,?,?,?,?)", turns)

        self._store.write(write)
        return len(rows)

    def _reap(self) -> None:
        """Mark RUNNING rows whose process has ended as FAILED ("interrupted: ...")."""
        rows = self._store.read("SELECT run_id, owner_host, owner_pid, owner_start FROM runs WHERE status='RUNNING'")
        dead = [r for r in rows if _process_gone(r[1], r[2], r[3])]
        if not dead:
            return

        def write(c: sqlite3.Connection) -> None:
            for run_id, _host, pid, _start in dead:
                error = (
                    f"interrupted: the process that ran it (pid {pid}) ended before the run finished "
                    "(kernel restarted or killed?)"
                )
                got = c.execute(f"SELECT {_RESULT} FROM runs WHERE run_id=? AND status='RUNNING'", (run_id,)).fetchone()
                if got is None:
                    continue  # another process reaped it first
                try:
                    data = json.loads(got[0])
                    data["status"], data["error"] = "FAILED", error
                    c.execute(_PUT_RESULT, (run_id, _dumps(data)))
                except (TypeError, ValueError):
                    pass  # an unreadable record stays as it is; the row below still says FAILED
                c.execute(
                    "UPDATE runs SET status='FAILED', error=?, owner_host=NULL, owner_pid=NULL,"
                    " owner_start=NULL WHERE run_id=? AND status='RUNNING'",
                    (error, run_id),
                )

        self._store.write(write)

    # -- reading --------------------------------------------------------------------------------
    def _select(self, columns: str, tail: str = "", params: Sequence[Any] = ()) -> list[Any]:
        self._reap()
        return self._store.read(f"SELECT {columns} FROM runs{self._where.sql()}{tail}", (*self._where.params, *params))

    def __len__(self) -> int:
        return int(self._store.read(f"SELECT COUNT(*) FROM runs{self._where.sql()}", self._where.params)[0][0])

    def __bool__(self) -> bool:
        return True

    def _results(self, rows: Iterable[Sequence[Any]]) -> list[RunResult]:
        from openstackai_nb.runner.result import RunResult

        out: list[RunResult] = []
        for run_id, text in rows:
            try:
                out.append(RunResult.from_dict(json.loads(text)))
            except Exception as exc:  # noqa: BLE001 - one bad row must not hide the others
                warnings.warn(
                    f"openstackai_nb: skipped run {run_id} in {self.path}: its record cannot be read ({exc})",
                    HistoryWarning,
                    stacklevel=3,
                )
        return out

    def __iter__(self) -> Iterator[RunResult]:
        # Pages of 500 so iterating a large store does not hold every result at once.
        last = -1
        while True:
            tail = f"{' AND' if self._where.clauses else ' WHERE'} seq > ? ORDER BY seq LIMIT 500"
            rows = self._select(f"seq, run_id, {_RESULT}", tail, (last,))
            if not rows:
                return
            last = rows[-1][0]
            yield from self._results((r[1], r[2]) for r in rows)

    @overload
    def __getitem__(self, key: int | str) -> RunResult: ...
    @overload
    def __getitem__(self, key: slice) -> list[RunResult]: ...
    def __getitem__(self, key: int | str | slice) -> RunResult | list[RunResult]:
        """`history[-1]` is the newest run, `history["run_..."]` a run by id, `history[-5:]` a list."""
        if isinstance(key, str):
            rows = self._select(
                f"run_id, {_RESULT}", f"{' AND' if self._where.clauses else ' WHERE'} run_id = ?", (key,)
            )
            got = self._results(rows)
            if not got:
                raise KeyError(f"no run {key!r} in {self!r}")
            return got[0]
        if isinstance(key, slice):
            ids = self._ids()[key]
            return [self[i] for i in ids]
        if not isinstance(key, int):
            raise TypeError(f"RunHistory indices must be int, str (run_id) or slice, not {type(key).__name__}")
        n = len(self)
        index = key + n if key < 0 else key
        if not 0 <= index < n:
            raise IndexError(f"run index {key} out of range ({n} runs)")
        rows = self._select(f"run_id, {_RESULT}", " ORDER BY seq LIMIT 1 OFFSET ?", (index,))
        got = self._results(rows)
        if not got:
            raise IndexError(f"run {key} cannot be read")
        return got[0]

    def _ids(self) -> list[str]:
        return [r[0] for r in self._select("run_id", " ORDER BY seq")]

    @property
    def run_ids(self) -> list[str]:
        """The run ids, oldest first."""
        return self._ids()

    def last(self, n: int = 1) -> list[RunResult]:
        """The `n` newest runs, oldest first."""
        rows = self._select(f"seq, run_id, {_RESULT}", " ORDER BY seq DESC LIMIT ?", (max(0, int(n)),))
        return self._results((r[1], r[2]) for r in reversed(rows))

    # -- queries --------------------------------------------------------------------------------
    def filter(
        self,
        predicate: Callable[[RunResult], bool] | None = None,
        *,
        agent: str | Sequence[str] | None = None,
        model: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        run_ids: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RunHistory:
        """The runs matching every given condition, as a RunHistory view on the same store.

        Args:
            predicate: a function of a RunResult (evaluated here, over the runs left by the rest).
            agent: an agent name, or several.
            model: a model name, or several.
            status: "COMPLETED", "FAILED", "CANCELLED", "RUNNING" (or a RunStatus), or several.
            since: runs started at or after this time (a datetime, UTC if naive, or ISO text).
            until: runs started before this time.
            run_ids: only these runs.
            metadata: runs whose metadata has these key/value pairs.

        Example:
            >>> history.filter(agent="Planner", status="FAILED").to_dataframe()
        """
        where = self._where

        def one_of(column: str, value: str | Sequence[str]) -> None:
            nonlocal where
            values = [value] if isinstance(value, str) else list(value)
            values = [str(getattr(v, "value", v)) for v in values]
            where = where.and_(f"@{column} IN ({','.join('?' * len(values))})" if values else "0", *values)

        if agent is not None:
            one_of("agent", agent)
        if model is not None:
            one_of("model", model)
        if status is not None:
            one_of("status", status)
        if since is not None:
            where = where.and_("@started_at >= ?", _ns(since))
        if until is not None:
            where = where.and_("@started_at < ?", _ns(until))
        if run_ids is not None:
            where = where.and_("@run_id IN (SELECT value FROM json_each(?))", _dumps(list(run_ids)))
        for key, value in (metadata or {}).items():
            where = where.and_("json_extract(@metadata, ?) IS ?", "$." + json.dumps(str(key)), _sql_value(value))
        view = RunHistory._view(self._store, where)
        if predicate is not None:
            keep = [r.run_id for r in view if predicate(r)]
            kept = where.and_("@run_id IN (SELECT value FROM json_each(?))", _dumps(keep))
            view = RunHistory._view(self._store, kept)
        return view

    def clear(self) -> int:
        """Delete the runs of this history from its store (for a filtered view, only those); returns how many."""
        cond = self._where.sql()
        params = self._where.params

        def write(c: sqlite3.Connection) -> int:
            sub = f"SELECT run_id FROM runs{cond}"
            c.execute(f"DELETE FROM tool_calls WHERE run_id IN ({sub})", params)
            c.execute(f"DELETE FROM turns WHERE run_id IN ({sub})", params)
            c.execute(f"DELETE FROM results WHERE run_id IN ({sub})", params)
            return c.execute(f"DELETE FROM runs{cond}", params).rowcount

        return int(self._store.write(write))

    # -- DataFrames -----------------------------------------------------------------------------
    def to_dataframe(self, *, metadata: bool = True) -> pd.DataFrame:
        """One row per run, oldest first.

        Columns: run_id, agent, model, input, final_output, status, turn_count, elapsed_time,
        prompt_tokens, completion_tokens, n_tool_calls, error, started_at (datetime64[ns, UTC]),
        then one column per metadata key (named ``metadata.<key>`` if it clashes with a column).
        """
        from openstackai_nb import export

        with _gc_paused():
            rows = self._select(", ".join(RUN_COLUMNS) + ", metadata", " ORDER BY seq")
            return export.runs_frame(rows, metadata=metadata)

    def tool_calls_dataframe(self) -> pd.DataFrame:
        """One row per tool call: run_id, index, call_id, name, arguments, result, error, ok,
        started_at, elapsed_time, turn (join with `to_dataframe()` on run_id)."""
        from openstackai_nb import export

        self._reap()
        with _gc_paused():
            rows = self._store.read(
                "SELECT t.run_id, t.idx, t.call_id, t.name, t.arguments, t.result, t.error, t.started_at,"
                " t.elapsed_time, t.turn FROM tool_calls t JOIN runs ON runs.run_id = t.run_id"
                f"{self._where.sql('runs.')}"
                " ORDER BY runs.seq, t.idx",
                self._where.params,
            )
            return export.tool_calls_frame(rows)

    def turns_dataframe(self) -> pd.DataFrame:
        """One row per turn: run_id, turn, start, duration, outcome, model_time, retries,
        n_tool_calls, tool_time, error (join with `to_dataframe()` on run_id)."""
        from openstackai_nb import export

        self._reap()
        with _gc_paused():
            rows = self._store.read(
                "SELECT t.run_id, t.turn, t.start, t.duration, t.outcome, t.model_time, t.retries, t.n_tool_calls,"
                f" t.tool_time, t.error FROM turns t JOIN runs ON runs.run_id = t.run_id{self._where.sql('runs.')}"
                " ORDER BY runs.seq, t.turn",
                self._where.params,
            )
            return export.turns_frame(rows)

    # -- files ----------------------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the runs to a JSON lines file (one `RunResult.to_dict()` per line, secrets
        scrubbed; never pickle). Returns the path. Load it back with `RunHistory.load(path)`."""
        from openstackai_nb import export

        return export.write_jsonl(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunHistory:
        """A RunHistory in memory holding the runs of a JSON lines export (or a store file)."""
        from openstackai_nb import export

        return export.read_history(path)

    def to_html(self, path: str | os.PathLike[str], runs: Iterable[RunResult] | None = None, **options: Any) -> Path:
        """Write one self-contained HTML report of `runs` (default: every run of this history).

        Delegates to `openstackai_nb.report.write_report` (options such as ``title=`` and
        ``figures=`` are passed on); model text is escaped and secrets scrubbed there.
        """
        from openstackai_nb import report

        return Path(report.write_report(list(self) if runs is None else list(runs), path, **options))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a large table is built: millions of new tuples and strings
    (none of them cyclic) would otherwise trigger full collections over and over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, int | float | str):
        return value
    return _dumps(value)


# -- the session's history -----------------------------------------------------------------------

_history: RunHistory | None = None
_history_lock = threading.Lock()
_record_failed = False


def get_history() -> RunHistory:
    """The session's RunHistory (created on first use; the same object on every call)."""
    global _history
    if _history is None:
        with _history_lock:
            if _history is None:
                _history = RunHistory()
    return _history


def set_history(history: RunHistory | str | os.PathLike[str] | None) -> RunHistory | None:
    """Send the session's runs to another store from now on; returns the previous one.

    Prefer `OPENSTACKAI_NB_HISTORY` set before the first run: `openstackai_nb.history`
    refers to the session history of the moment it is read. None resets to the default
    (re-read from the environment on next use).
    """
    global _history
    if history is not None and not isinstance(history, RunHistory):
        history = RunHistory(history)
    with _history_lock:
        previous, _history = _history, history
    return previous


def record(result: RunResult, *, finished: bool) -> Future[None] | None:
    """Record a run that started (`finished=False`) or ended, in the session's history.

    Called by the run loop (from the loop's thread). Never raises: a store that cannot be
    written is reported once through `logging` and the run goes on. Returns a future that
    resolves once the write is committed: the loop awaits it (without blocking) for a finished
    run, so a run is on disk before `run_sync`/`run_async` return or "done" is emitted.
    """
    global _record_failed
    try:
        return get_history().add(result, finished=finished, wait=False)
    except Exception as exc:  # noqa: BLE001 - history must never break a run
        if not _record_failed:
            _record_failed = True
            logger.warning("openstackai_nb: run history is not recording: %s", exc)
        return None
