"""The Dask internals `DaskScheduler` relies on: dropping event topics, shortening message logs.

A finished compare's event topics are dropped; the streams its results take keep short logs.

## Event topics

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

## Message logs
Each of distributed's batched streams (`distributed.batched.BatchedSend`: the scheduler's stream
to each client, `Scheduler.client_comms`, and to each worker, `Scheduler.stream_comms`; the
client's to the scheduler, `Client.scheduler_comm`; a worker's to the scheduler,
`Worker.batched_stream`) keeps the last `distributed.admin.low-level-log-length` batches it sent
(1000 by default, each up to 1 MB) in `recent_message_log`, a deque kept for debugging
distributed itself. A compare's results are events on those streams: the scheduler's stream to
the client kept the last 1000 batches of results' JSON, which is what made the client's memory
grow with the grid when the scheduler runs in the client's process (a LocalCluster's default):
after a 3,000-run grid it held 226 batches of results, and a 40,000-run grid left 186 to 250 MB
in the client after its DataFrame was deleted. `shorten_message_logs` (on the scheduler)
and `shorten_log` (the client's and each worker's own stream) give those deques a `maxlen` of
`MESSAGE_LOG` batches. The config key cannot do it for a compare: it is read once, when each
stream is made, and it also sets how many events a topic keeps (`MAX_CHUNK` relies on 1000).
`BatchedSend.recent_message_log` was read and tested with distributed 2026.8.0 (`CHECKED`);
`tests/comparison/test_dask_internals.py` fails loudly when it changes, and a stream without it
is left as it is (the function says why, and `DaskHandle` logs it as a warning).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["CHECKED", "MESSAGE_LOG", "SINCE", "forget_topics", "shorten_log", "shorten_message_logs"]

CHECKED = "2026.8.0"
"""The distributed version this module's internal was read and tested with."""
SINCE = (2024, 7)
"""The first distributed (year, month) with `Scheduler._broker._topics`."""
MESSAGE_LOG = 16
"""Batches kept in the debugging log of each stream a compare's messages take (distributed keeps 1000)."""


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


def shorten_log(stream: Any, most: int = MESSAGE_LOG, *, keep: bool = True) -> str | None:
    """Keep at most `most` batches in a batched stream's `recent_message_log` (a shorter one stays).

    Args:
        stream: a `distributed.batched.BatchedSend`.
        most: the batches to keep.
        keep: keep the last `most` batches of the log (only on the stream's own event loop, where
            the log cannot change while it is copied); False: start an empty log.

    Returns:
        None when done, else why the stream was left as it is.
    """
    log = getattr(stream, "recent_message_log", None)
    if not isinstance(log, deque):
        return (
            f"{type(stream).__name__} has no recent_message_log deque (checked with distributed {CHECKED}); "
            "its message log keeps its length"
        )
    if log.maxlen is None or log.maxlen > most:
        stream.recent_message_log = deque(log if keep else (), maxlen=most)
    return None


def shorten_message_logs(client: str, most: int = MESSAGE_LOG, dask_scheduler: Any = None) -> str | None:
    """On the scheduler (`Client.run_on_scheduler`): shorten the logs of its streams to `client` and to the workers.

    Returns:
        None when done, else why a stream was left as it is.
    """
    to_client = getattr(dask_scheduler, "client_comms", None)
    to_workers = getattr(dask_scheduler, "stream_comms", None)
    if not isinstance(to_client, dict) or not isinstance(to_workers, dict):
        return (
            f"the scheduler keeps its streams elsewhere than client_comms and stream_comms (checked with "
            f"distributed {CHECKED}); their message logs keep their length"
        )
    streams = [to_client[client]] if client in to_client else []
    problems = [shorten_log(stream, most) for stream in [*streams, *to_workers.values()]]
    return next((p for p in problems if p is not None), None)
