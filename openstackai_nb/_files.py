"""Files and folders only their owner can read: the history, its folder, cassettes.

Every run's prompts, answers and tool results go into the history file, and a recording
cassette holds the same, so on a shared machine (JupyterHub, a lab server) they must not be
readable by other users. What the package creates is private from its first byte: a folder
with mode 0700, a file with 0600, given to `os.mkdir` / `os.open` (never a chmod after data was
written, never a change of the process's umask, which would touch every other file the user's
code creates). A umask can only take bits away, so a stricter umask stays stricter.

Only what is created here gets these modes: an existing file or folder (the user's own, or one
written by an older version) keeps the mode it has. SQLite gives a database's `-wal` and `-shm`
files the mode of the database file, so a history file created here has private companions.
Files written where the user named a path for others to read (exports, reports) keep the
user's usual mode, see `store.export`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, Literal

__all__ = ["FILE_MODE", "FOLDER_MODE", "open_private", "private_dir", "private_file", "user_data_dir"]

FILE_MODE = 0o600
"""Files the package creates: read and write for the owner only."""
FOLDER_MODE = 0o700
"""Folders the package creates: the owner only."""


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Make sure the folder `path` exists; create it with mode 0700 if it does not.

    Missing parent folders are created as usual (the user's umask); an existing folder is left
    as it is.

    Raises:
        OSError: the folder cannot be created (or a file is in the way).
    """
    folder = Path(path)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(folder, FOLDER_MODE)
    except FileExistsError:
        if not folder.is_dir():
            raise
    return folder


def private_file(path: str | os.PathLike[str]) -> bool:
    """Create `path` empty with mode 0600 unless it exists; True when this call created it.

    Call it before another library (SQLite) creates the file with its own default mode.

    Raises:
        OSError: the file cannot be created (a missing or read-only folder).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_private(path: str | os.PathLike[str], mode: Literal["wb", "ab"]) -> BinaryIO:
    """`open(path, mode)` for writing bytes, where a file that does not exist yet is created 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if mode == "wb" else os.O_APPEND)
    fd = os.open(path, flags, FILE_MODE)
    try:
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def user_data_dir() -> Path:
    """Where the history goes when the working directory cannot be written."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "openstackai-nb"
