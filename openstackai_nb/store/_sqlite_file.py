"""What the history store knows about its file: its identity, damage, and where runs go instead.

- Identity: ``(st_dev, st_ino)`` of the store file, taken when it is opened and compared (one
  ``os.stat``) before every write batch and read. A file deleted (e.g. ``rm -r .openstackai_nb``)
  or replaced while the process has it open is noticed; the store opens the file now at that
  path (recreating it if need be) instead of writing on into a deleted inode that no other
  process can see.
- Damage: a SQLite error that suggests damage ("malformed") is confirmed with
  ``PRAGMA quick_check`` (which reads the whole file: run only after such an error, never on
  every open). A damaged file is never written again: runs go to a fresh file beside it,
  ``history.<UTC time>.sqlite``, and a small marker file ``history.sqlite.damaged`` records
  where, so that the next process that opens the damaged file goes straight to the fresh one.
  The marker holds the damaged file's identity: once that file is moved away or replaced, the
  marker no longer applies.
- Modes: the store's folder, when the store creates it, is 0700 and the store file 0600
  (`_files.private_dir` / `private_file`, re-exported here for other SQLite files of the
  package); SQLite gives the ``-wal`` and ``-shm`` files the database file's mode.
- Connections to a file that was deleted, replaced or found damaged are never closed. Closing
  the last connection of a WAL database checkpoints it and then deletes ``<path>-wal`` and
  ``<path>-shm`` by name, which would now be the files of the new store at that path, possibly in
  use by another process (https://www.sqlite.org/howtocorrupt.html, "unlinking or renaming a
  database file while in use"). They are kept open until the process ends.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from openstackai_nb._files import private_dir, private_file, user_data_dir
from openstackai_nb._warnings import warn as warn_user
from openstackai_nb.errors import HistoryError

__all__ = [
    "ENV_VAR",
    "Damaged",
    "FileIdentity",
    "Locked",
    "Unwritable",
    "corrupt",
    "damage_marker",
    "damaged_message",
    "fresh_path",
    "identity",
    "is_contended",
    "is_unwritable",
    "integrity_problem",
    "keep_open_forever",
    "private_dir",
    "private_file",
    "read_marker",
    "suggests_damage",
    "user_data_dir",
    "warn",
    "write_marker",
]

logger = logging.getLogger("openstackai_nb")

ENV_VAR = "OPENSTACKAI_NB_HISTORY"

FileIdentity = tuple[int, int]
"""(st_dev, st_ino): which file a path names."""


def identity(path: Path) -> FileIdentity | None:
    """The identity of the file at `path` now; None when there is none.

    Raises:
        OSError: the path cannot be examined (other than not existing).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def is_contended(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "busy": another process holds the file, for now."""
    text = str(exc)
    return "locked" in text or "busy" in text


def is_unwritable(exc: BaseException) -> bool:
    """True for the SQLite errors of a file or folder this process may not write."""
    text = str(exc)
    return "readonly" in text or "unable to open" in text or "disk I/O" in text


def suggests_damage(exc: BaseException) -> bool:
    """True for the SQLite errors a damaged file gives (SQLITE_CORRUPT and, mid-use, SQLITE_NOTADB)."""
    text = str(exc)
    return "malformed" in text or "not a database" in text


def integrity_problem(conn: sqlite3.Connection) -> str | None:
    """The first problem ``PRAGMA quick_check`` finds, or None when the file is sound."""
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    first = str(rows[0][0]) if rows else "no answer from PRAGMA quick_check"
    if first == "ok":
        return None
    return first.replace("*** in database main ***", "").strip().splitlines()[0][:200]


def fresh_path(damaged: Path) -> Path:
    """A new file beside `damaged`: ``history.sqlite`` -> ``history.20261125T050203Z.sqlite``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return damaged.with_name(f"{damaged.stem}.{stamp}{damaged.suffix}")


def damage_marker(path: Path) -> Path:
    """Where the note saying `path` is damaged, and where its runs go now, is kept."""
    return path.with_name(path.name + ".damaged")


def _fingerprint(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    # Size and modification time too: an inode number can be reused once the file is gone.
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def write_marker(damaged: Path, fresh: Path, problem: str) -> None:
    """Note beside `damaged` that runs go to `fresh` (best effort: a failure only costs a re-check)."""
    note = {"damaged": damaged.name, "file": _fingerprint(damaged), "runs_go_to": fresh.name, "problem": problem}
    try:
        damage_marker(damaged).write_text(json.dumps(note) + "\n", encoding="utf-8")
    except OSError as exc:
        logger.debug("openstackai_nb: could not write %s: %s", damage_marker(damaged), exc)


def read_marker(path: Path) -> tuple[Path, str] | None:
    """(the fresh file, the problem found) when `path` is a store file known to be damaged."""
    marker = damage_marker(path)
    try:
        note = json.loads(marker.read_text(encoding="utf-8"))
        fresh, problem, recorded = note["runs_go_to"], str(note.get("problem", "")), note["file"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: ignored, the file is checked again if an error suggests damage
    if not isinstance(fresh, str) or Path(fresh).name != fresh or recorded != _fingerprint(path):
        return None  # the damaged file was moved away or replaced: the note no longer applies
    return path.with_name(fresh), problem


_kept: list[sqlite3.Connection] = []


def keep_open_forever(conn: sqlite3.Connection | None) -> None:
    """Never close `conn`, not even when the interpreter shuts down (see the module docstring)."""
    if conn is None:
        return
    _kept.append(conn)
    try:  # CPython frees module globals at exit, which closes connections: one reference more
        import ctypes

        ctypes.pythonapi.Py_IncRef(ctypes.py_object(conn))
    except (ImportError, AttributeError, OSError):
        pass  # not CPython: the list above keeps it open while the process runs


def warn(message: str) -> None:
    """A HistoryWarning from whichever thread noticed (often the store's writer thread).

    Never raises: where warnings are turned into errors it is logged instead, so the write that
    noticed still happens.
    """
    from openstackai_nb.errors import HistoryWarning

    try:
        warn_user(message, HistoryWarning)
    except Warning:
        logger.warning(message)


class Locked(HistoryError):
    """Another process holds the store file's write lock (SQLite's "database is locked")."""


class Unwritable(Exception):
    """The store file (or its folder) cannot be created or written."""


class Damaged(Exception):
    """An SQLite error that suggests a damaged file (to be confirmed by `PRAGMA quick_check`)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def damaged_message(damaged: Path, fresh: Path, problem: str) -> str:
    return (
        f"openstackai_nb: the run history file {damaged} is damaged ({problem}); it is not written any more: runs from "
        f"now on go to {fresh}. `sqlite3 {damaged} .recover` may rescue its runs into a new file, which "
        "RunHistory(path) reads"
    )


def corrupt(path: Path | None, exc: BaseException) -> HistoryError:
    """The error for a store file SQLite cannot read (never modified or replaced)."""
    where = str(path) if path is not None else "(in memory)"
    return HistoryError(
        f"the run history file {where} is not a readable SQLite database ({exc}). Nothing was changed in it. "
        f"Move it aside (e.g. `mv {where} {where}.broken`) to start a new history, or point {ENV_VAR} at another "
        f"file; `sqlite3 {where} .recover` may rescue its runs"
    )
