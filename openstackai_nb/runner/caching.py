"""The runner's side of the response cache: which runs use it, and the seam its store plugs into.

A run uses the cache when `RunConfig.cache` says so, or, when that is left unset (None), when
`OPENSTACKAI_NB_CACHE` does (``1``/``true``/``on``, ``read``, ``write``; ``0``/``off`` or unset:
no cache). Such a run's model is wrapped in a `models.cached.CachedModel` once, where the run
gets its model (`Agent.get_model(cache=...)`), so every model call of the run goes through it.

The store is found in one place, here, and lazily, as the default observers are
(`observers.DEFAULT_OBSERVERS`): the first run that uses the cache imports `STORE_OPENER`
(``openstackai_nb.cache:session_store``, the session's SQLite cache), so importing the package
installs nothing and the runner never imports the cache. `set_store_opener` replaces it.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import Usage
from openstackai_nb.models.cached import CachedModel, CacheMode, ResponseStore

if TYPE_CHECKING:
    from openstackai_nb.models.base import Model
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.config import RunConfig

__all__ = [
    "CACHE_ENV",
    "MODES",
    "RunCache",
    "STORE_OPENER",
    "for_run",
    "session_mode",
    "set_store_opener",
]

CACHE_ENV = "OPENSTACKAI_NB_CACHE"
"""Environment variable: the cache mode of runs whose RunConfig leaves `cache` unset."""
MODES: tuple[CacheMode, ...] = (True, "read", "write", False)
"""The cache modes (see `models.cached.CacheMode`)."""
_ON = {"1", "true", "on", "yes"}
_OFF = {"", "0", "false", "off", "no"}

STORE_OPENER = "openstackai_nb.cache:session_store"
"""The function that gives the session's response store, as a ``module:function`` path,
imported by the first run that uses the cache."""

_UNSET = object()
_lock = threading.Lock()
_opener: object = _UNSET  # guarded by _lock: set_store_opener's, or STORE_OPENER's once resolved


def set_store_opener(opener: Callable[[], ResponseStore | None] | None) -> None:
    """Replace the function that gives the session's response store (None: no cache anywhere)."""
    global _opener
    with _lock:
        _opener = opener


def _store_opener() -> Callable[[], ResponseStore | None] | None:
    global _opener
    opener = _opener
    if opener is _UNSET:
        module, _, name = STORE_OPENER.partition(":")
        found = getattr(importlib.import_module(module), name)
        with _lock:
            if _opener is _UNSET:
                _opener = found
            opener = _opener
    return opener  # type: ignore[return-value]


def session_mode() -> CacheMode:
    """The mode `OPENSTACKAI_NB_CACHE` sets (False when unset).

    Raises:
        ConfigError: the variable holds something else than the values above.
    """
    raw = os.environ.get(CACHE_ENV, "").strip().lower()
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    if raw in ("read", "write"):
        return raw  # type: ignore[return-value]
    raise ConfigError(f"{CACHE_ENV}={raw!r}: must be 1 (on), read, write or 0 (off)")


class RunCache:
    """One run's use of the cache: wraps its model, tells whether a call was a hit."""

    __slots__ = ("mode", "model", "store", "ttl", "repeat")

    def __init__(self, store: ResponseStore, mode: CacheMode, ttl: float | None, repeat: int) -> None:
        self.store = store
        self.mode: CacheMode = mode
        self.ttl = ttl
        self.repeat = repeat
        self.model: CachedModel | None = None

    def wrap(self, model: Model) -> Model:
        """The run's model, answering from the cache (offline models, unless `cacheable`, are returned as they are)."""
        offline = model.endpoint is None and getattr(model, "cacheable", False) is not True
        if offline or getattr(model, "replays", False):
            return model
        self.model = CachedModel(model, self.store, mode=self.mode, max_age=self.ttl, repeat=self.repeat)
        return self.model

    @property
    def hit(self) -> bool:
        """Whether the run's latest model call was answered from the cache."""
        return self.model is not None and self.model.last_hit

    def take_usage(self, result: RunResult, usage: Usage) -> None:
        """Count a call's usage: billed (`usage`), or, on a hit, the original kept in `cached_usage`."""
        if self.hit:
            if result.cached_usage is None:
                result.cached_usage = Usage()
            result.cached_usage.add(usage)
        else:
            result.usage.add(usage)


def for_run(config: RunConfig) -> RunCache | None:
    """The cache of a run with this config, or None when it uses none."""
    mode = config.cache if config.cache is not None else session_mode()
    if mode is False:
        return None
    opener = _store_opener()
    if opener is None:
        return None
    store = opener()
    if store is None:
        return None
    repeat = config.metadata.get("repeat", 0)
    return RunCache(store, mode, config.cache_ttl, repeat if isinstance(repeat, int) else 0)
