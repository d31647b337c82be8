"""One daemon thread that checkpoints the WAL of every open store file now and then.

SQLite's own checkpoints run on each store's writer thread; this one copies the WAL back into
the database file (PASSIVE: never blocks writers) once a second after writes, on its own
connection, so readers in other processes see a short WAL.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol

__all__ = ["Checkpointed", "Checkpointer", "checkpointer"]


class Checkpointed(Protocol):
    """What the checkpointer needs of a store."""

    unchecked: int
    """Commits since the last checkpoint."""
    pid: int
    """The process the store belongs to."""

    def checkpoint(self) -> None:
        """Checkpoint its WAL (best effort)."""
        ...


class Checkpointer:
    """One daemon thread that checkpoints the WAL of every open store file now and then."""

    def __init__(self) -> None:
        self.stores: weakref.WeakSet[Checkpointed] = weakref.WeakSet()
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def watch(self, store: Checkpointed) -> None:
        """Checkpoint `store` from now on (starts the thread, again after a fork)."""
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


checkpointer = Checkpointer()
"""The process's checkpointer thread (started with the first store file)."""
