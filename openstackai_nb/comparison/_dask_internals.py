"""The Dask internal `DaskScheduler` relies on: dropping a finished compare's event topics.

A compare's results ride Dask's event log (`dask.py`): workers `log_event` each result on the
compare's topic, and each chunk's finished indices on a topic of its own. The scheduler keeps
every topic it has seen, with its last `distributed.admin.low-level-log-length` events (1000 by
default), for the life of the cluster: a finished compare would leave up to 1000 results' JSON
per topic in the scheduler's memory, and a notebook that compares all afternoon on one cluster
would keep them all.

distributed has no public way to drop a topic. `Client.unsubscribe_topic` removes a subscriber
and keeps the events; `Scheduler.log_event`, `get_events`, `subscribe_topic` and
`unsubscribe_topic` keep (or even create) the topic; the scheduler clears a topic itself only
when the worker or client whose address names it leaves (`Broker.truncate`, which empties the
events and keeps the entry). So `forget_topics`, run on the scheduler through the public
`Client.run_on_scheduler`, deletes the compare's entries from ``Scheduler._broker._topics``, a
``defaultdict[str, distributed.broker.Topic]``; a topic's subscribers go with it. Because it is
a defaultdict, any later message naming a topic makes it again (empty): so `dask.py` sends no
`unsubscribe_topic` (it travels on the client's batched stream, unordered with
`run_on_scheduler`, and arrived after the drop in 30 of 30 tries on a local scheduler), and waits
for the chunks' tasks to end before the drop (a chunk's last event precedes its task's end).

Checked with distributed 2026.8.0 (installed by `scripts/_venv.sh dev`, December 2026) and in
distributed's history: `Broker` and its `_topics` came with 2024.7.0 ("Refactor event logging
functionality into broker", dask/distributed#8731) and are unchanged since (through 2026.7.0 and
the main branch after it); the `[dask]` extra needs distributed >= 2024.8.
`tests/comparison/test_dask_internals.py` fails loudly when this changes. At run time a scheduler
where the internal is not found keeps its topics and says so (`forget_topics` returns why, and
`dask.py` logs it as a warning), rather than guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["CHECKED", "SINCE", "forget_topics"]

CHECKED = "2026.8.0"
"""The distributed version this module's internal was read and tested with."""
SINCE = (2024, 7)
"""The first distributed (year, month) with `Scheduler._broker._topics`."""


def _version(text: str) -> tuple[int, int]:
    parts = [int(p) if p.isdigit() else 0 for p in text.split(".")[:2]]
    return (parts[0], parts[1]) if len(parts) == 2 else (0, 0)


def forget_topics(topics: Sequence[str], dask_scheduler: Any = None) -> str | None:
    """On the scheduler (`Client.run_on_scheduler`): drop these event topics and their events.

    Returns:
        None when done (a topic the scheduler never had is fine), else why nothing was dropped:
        this distributed does not keep its topics where the checked versions did.
    """
    from importlib.metadata import version as installed

    from distributed.broker import Broker

    version = installed("distributed")
    if _version(version) < SINCE:
        return f"distributed {version} predates its event broker ({SINCE[0]}.{SINCE[1]}); its topics stay"
    broker = getattr(dask_scheduler, "_broker", None)
    known = getattr(broker, "_topics", None)
    if not isinstance(broker, Broker) or not isinstance(known, dict):
        return (
            f"distributed {version} keeps its event topics elsewhere than Scheduler._broker._topics "
            f"(checked with {CHECKED}); a finished compare's topics stay on the scheduler"
        )
    for topic in topics:
        known.pop(topic, None)
    return None
