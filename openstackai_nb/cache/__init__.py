"""The response cache: answers of model calls kept on disk, so an identical request is never paid twice.

Turn it on per run (`RunConfig(cache=True)`), per comparison (`compare(..., cache=True)`), per
cell (`%%agent --cache`) or for the session (``OPENSTACKAI_NB_CACHE=1``; ``read`` or ``write``
for the one-way modes). What a key is made of and what is stored: `openstackai_nb.models.cached`;
the guide: docs/cache.md.

Where: ``cache.sqlite`` beside the history file (``.openstackai_nb/cache.sqlite`` in the working
directory by default; beside ``OPENSTACKAI_NB_HISTORY`` when that names a file; in memory only
when it is ``off``), or the file given to `configure(path=...)`. A folder that cannot be written
falls back to the user's data directory, as the history does, then to memory (logged). Several
kernels and processes share one file (SQLite, WAL).

Size: at most `max_bytes` (default 1 GB; `configure(max_bytes=...)` or
``OPENSTACKAI_NB_CACHE_MAX_BYTES``), the oldest answers deleted first.

Importing the package installs nothing: the first run that uses the cache imports this module
through the runner's seam (`runner.caching.STORE_OPENER` names `session_store`); nothing is
opened until then.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openstackai_nb.errors import ConfigError
from openstackai_nb.runner.caching import CACHE_ENV

if TYPE_CHECKING:
    from openstackai_nb.cache._file import ResponseFile

__all__ = [
    "CACHE_ENV",
    "CacheStats",
    "DEFAULT_MAX_BYTES",
    "MAX_BYTES_ENV",
    "clear",
    "configure",
    "path",
    "session_store",
    "stats",
]

_logger = logging.getLogger("openstackai_nb")

DEFAULT_MAX_BYTES = 1_000_000_000
"""The cache's size bound when neither `configure(max_bytes=...)` nor the variable sets one (1 GB)."""
MAX_BYTES_ENV = "OPENSTACKAI_NB_CACHE_MAX_BYTES"
"""Environment variable: the cache's size bound in bytes."""

_lock = threading.Lock()
_files: dict[Path | None, ResponseFile] = {}  # guarded by _lock: one open file per place
_configured_path: Path | None = None  # guarded by _lock: configure(path=...), read without it (one reference)
_paths: dict[tuple[str, str], Path | None] = {}  # a memo of default places: a race computes the same value twice
_configured_max: int | None = None  # guarded by _lock: configure(max_bytes=...)


@dataclass(frozen=True)
class CacheStats:
    """What the session's cache holds, and how this process used it."""

    path: Path | None
    """The cache file (None: in memory)."""
    entries: int
    """Answers stored."""
    bytes: int
    """Bytes the answers take in the file (what `max_bytes` bounds)."""
    hits: int
    """Model calls of this process answered from the cache."""
    misses: int
    """Model calls of this process that looked in the cache and found nothing (or an expired answer)."""
    max_bytes: int
    """The size bound."""


def _max_bytes() -> int:
    if _configured_max is not None:
        return _configured_max
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_BYTES_ENV}={raw!r}: must be a number of bytes >= 1")
    return value


def path() -> Path | None:
    """Where the session's cache is (None: in memory), by the rules of the module docs."""
    if _configured_path is not None:
        return _configured_path
    where = (os.environ.get("OPENSTACKAI_NB_HISTORY", ""), os.getcwd())
    if where not in _paths:  # found once per (variable, working directory): runs ask at each start
        from openstackai_nb.store.run_history import default_path

        history = default_path()
        _paths[where] = None if history is None else history.parent / "cache.sqlite"
    return _paths[where]


def configure(*, max_bytes: int | None = None, path: str | os.PathLike[str] | None = None) -> None:
    """Set the cache's size bound and/or its file for this process.

    Args:
        max_bytes: the size bound in bytes (>= 1); the oldest answers are deleted past it.
        path: the cache file (created if missing); default: beside the history file.

    Raises:
        ConfigError: `max_bytes` is not a whole number >= 1.
    """
    global _configured_max, _configured_path
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigError(f"configure: max_bytes={max_bytes!r}: must be a whole number of bytes >= 1")
        with _lock:
            _configured_max = max_bytes
            for f in _files.values():
                f.max_bytes = max_bytes
    if path is not None:
        where = Path(path).expanduser().absolute()
        with _lock:
            _configured_path = where


def _open(where: Path | None) -> ResponseFile:
    from openstackai_nb.cache._file import ResponseFile

    with _lock:
        found = _files.get(where)
        if found is not None:
            return found
        explicit = _configured_path is not None or bool(os.environ.get("OPENSTACKAI_NB_HISTORY", "").strip())
        tries = [where] if where is None or explicit else [where, _fallback()]
        bound = _max_bytes()  # a bad OPENSTACKAI_NB_CACHE_MAX_BYTES is the user's ConfigError, not a broken file
        for candidate in tries:
            try:
                opened = ResponseFile(candidate, bound)
            except (OSError, Exception) as exc:  # noqa: BLE001 - sqlite3.Error, OSError: the cache never breaks a run
                _logger.warning("openstackai_nb: cannot use the response cache %s (%s)", candidate, exc)
                continue
            _files[where] = opened
            return opened
        _logger.warning("openstackai_nb: the response cache is kept in memory for this process")
        opened = _files[where] = ResponseFile(None, bound)
        return opened


def _fallback() -> Path:
    from openstackai_nb._files import user_data_dir

    return user_data_dir() / "cache.sqlite"


def session_store() -> ResponseFile:
    """The session's response store, opened on first use (what runs that use the cache read and write)."""
    return _open(path())


def stats() -> CacheStats:
    """Entries, bytes, this process's hits and misses, and the path of the session's cache."""
    f = session_store()
    entries, size = f.stats()
    return CacheStats(path=f.path, entries=entries, bytes=size, hits=f.hits, misses=f.misses, max_bytes=f.max_bytes)


def clear(older_than: float | None = None) -> int:
    """Delete the cached answers (only those stored more than `older_than` seconds ago, if given).

    Returns:
        How many answers were deleted.

    Raises:
        ConfigError: `older_than` is not a number of seconds >= 0.
    """
    if older_than is not None and (
        isinstance(older_than, bool) or not isinstance(older_than, int | float) or not older_than >= 0
    ):
        raise ConfigError(f"clear: older_than={older_than!r}: must be a number of seconds >= 0 (or None: all)")
    return session_store().clear(older_than)
