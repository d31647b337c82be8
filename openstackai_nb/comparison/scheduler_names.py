"""Schedulers by name: `compare(scheduler="dask")` and `%%agent --scheduler dask` name the same one.

`compare(scheduler=...)` takes a `Scheduler` object (`comparison.scheduler`) or one of these
names, which is what the magic's `--scheduler` option takes, so the two spell one idea the same
way. Kept apart from the scheduling seam (`scheduler.py`), which knows no implementation: this
module is where a name picks one (the Dask one imported only when named).
"""

from __future__ import annotations

from typing import Literal

from openstackai_nb.comparison.scheduler import LocalScheduler, Scheduler
from openstackai_nb.errors import ConfigError

__all__ = ["SCHEDULER_NAMES", "SchedulerName", "as_scheduler"]

SchedulerName = Literal["local", "dask"]
"""The schedulers known by name: "local" (this process, the default) and "dask" (a Dask cluster)."""

SCHEDULER_NAMES: tuple[SchedulerName, ...] = ("local", "dask")
"""The names `as_scheduler` knows, in the order `%%agent --scheduler` lists them."""


def as_scheduler(scheduler: Scheduler | SchedulerName | None) -> Scheduler:
    """The scheduler `compare(scheduler=...)` names: a `Scheduler` object, or one by name.

    None or "local": a `LocalScheduler` (this process); "dask": a `DaskScheduler()` with its
    defaults (the current Dask client, else a local cluster); a Scheduler object as it is (e.g.
    `DaskScheduler(client, per_worker=4)` for other settings).

    Raises:
        ConfigError: another string, or an object without `submit`.
        ImportError: "dask" without dask.distributed (`pip install "openstackai-nb[dask]"`).
    """
    if scheduler is None or scheduler == "local":
        return LocalScheduler()
    if scheduler == "dask":
        from openstackai_nb.comparison.dask import DaskScheduler

        return DaskScheduler()
    if isinstance(scheduler, str) or not callable(getattr(scheduler, "submit", None)):
        raise ConfigError(
            f"compare: scheduler must be {' or '.join(repr(n) for n in SCHEDULER_NAMES)}, or a Scheduler object "
            f"(LocalScheduler(), DaskScheduler(...)); got {type(scheduler).__name__}: {scheduler!r:.80}"
        )
    return scheduler
