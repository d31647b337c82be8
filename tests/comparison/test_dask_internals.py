"""The distributed internals `comparison/_dask_internals.py` relies on: these fail loudly when they change.

`forget_topics` deletes a finished compare's event topics from ``Scheduler._broker._topics``
(distributed has no public way to drop a topic); `shorten_message_logs` and `shorten_log` give
the batched streams' debugging logs (`BatchedSend.recent_message_log`) a short `maxlen`. A
scheduler in this process, without workers, is enough to check them; `test_dask.py` checks that
a compare on a real cluster leaves no topic and short logs. None of these skips: a distributed
that moved an internal is what they are here to catch.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest

from openstackai_nb.comparison._dask_internals import (
    CHECKED,
    MESSAGE_LOG,
    SINCE,
    forget_topics,
    shorten_log,
    shorten_message_logs,
)

distributed = pytest.importorskip("distributed")

WHAT_TO_DO = "re-read distributed/broker.py and scheduler.py and update openstackai_nb/comparison/_dask_internals.py"


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def _topics(dask_scheduler: Any = None) -> dict[str, str] | None:
    """On the scheduler: each topic the broker keeps, and the type that keeps it (None: no such place)."""
    known = getattr(getattr(dask_scheduler, "_broker", None), "_topics", None)
    return {name: type(topic).__name__ for name, topic in known.items()} if isinstance(known, dict) else None


def test_the_scheduler_keeps_its_topics_where_the_checked_versions_did(client: Any) -> None:
    installed = version("distributed")
    broker = client.run_on_scheduler(lambda dask_scheduler: type(dask_scheduler._broker).__module__)
    assert broker == "distributed.broker", f"distributed {installed} (checked: {CHECKED}): {WHAT_TO_DO}"
    client.log_event("openstackai-nb-probe", {"n": 1})
    kept = client.run_on_scheduler(_topics)
    assert kept is not None, f"distributed {installed} has no Scheduler._broker._topics dict: {WHAT_TO_DO}"
    assert kept.get("openstackai-nb-probe") == "Topic", f"distributed {installed}: {kept}; {WHAT_TO_DO}"


def test_forget_topics_drops_the_topics_and_their_events(client: Any) -> None:
    for n in range(3):
        client.log_event("openstackai-nb-gone", n)
    client.log_event("openstackai-nb-kept", "x")
    assert client.run_on_scheduler(forget_topics, ["openstackai-nb-gone", "openstackai-nb-never"]) is None
    kept = client.run_on_scheduler(_topics)
    assert kept is not None, WHAT_TO_DO
    assert "openstackai-nb-gone" not in kept and "openstackai-nb-never" not in kept, WHAT_TO_DO
    assert "openstackai-nb-kept" in kept  # only the topics named
    events = client.get_events()
    assert "openstackai-nb-gone" not in events and len(events["openstackai-nb-kept"]) == 1


def test_a_dropped_topic_takes_its_subscribers_with_it(client: Any) -> None:
    client.subscribe_topic("openstackai-nb-subscribed", lambda event: None)
    deadline = time.monotonic() + 30
    while "openstackai-nb-subscribed" not in (client.run_on_scheduler(_topics) or {}):  # the subscription is on its way
        assert time.monotonic() < deadline, "the subscription never reached the scheduler"
        time.sleep(0.01)
    assert client.run_on_scheduler(forget_topics, ["openstackai-nb-subscribed"]) is None
    client.log_event("openstackai-nb-subscribed", "late")  # makes the topic again, without a subscriber
    subscribers = client.run_on_scheduler(
        lambda dask_scheduler: dask_scheduler._broker._topics["openstackai-nb-subscribed"].subscribers
    )
    assert subscribers == set(), WHAT_TO_DO


def test_where_the_internal_is_missing_forget_topics_says_so_instead_of_guessing() -> None:
    problem = forget_topics(["t"], object())
    assert problem is not None and "Scheduler._broker._topics" in problem and CHECKED in problem


def test_the_installed_distributed_has_the_broker() -> None:
    major, minor = (int(p) for p in version("distributed").split(".")[:2])
    assert (major, minor) >= SINCE


def _log_lengths(client: str, dask_scheduler: Any = None) -> dict[str, Any]:
    """On the scheduler: the type and maxlen of the message log of its stream to `client`."""
    log = dask_scheduler.client_comms[client].recent_message_log
    return {"type": type(log).__name__, "maxlen": log.maxlen}


def test_the_streams_keep_their_message_logs_where_the_checked_versions_did(client: Any) -> None:
    from distributed.batched import BatchedSend

    installed = version("distributed")
    assert isinstance(client.scheduler_comm, BatchedSend), f"distributed {installed}: {WHAT_TO_DO}"
    assert isinstance(client.scheduler_comm.recent_message_log, deque), f"distributed {installed}: {WHAT_TO_DO}"
    before = client.run_on_scheduler(_log_lengths, client.id)
    assert before["type"] == "deque", f"distributed {installed}: {before}; {WHAT_TO_DO}"


def test_shorten_message_logs_keeps_the_last_batches_of_the_client_s_stream(client: Any) -> None:
    for n in range(3):
        client.log_event("openstackai-nb-log", n)
    assert client.run_on_scheduler(shorten_message_logs, client.id, 2) is None
    assert client.run_on_scheduler(_log_lengths, client.id) == {"type": "deque", "maxlen": 2}, WHAT_TO_DO
    assert client.run_on_scheduler(shorten_message_logs, client.id, MESSAGE_LOG) is None  # a longer one: kept at 2
    assert client.run_on_scheduler(_log_lengths, client.id)["maxlen"] == 2
    assert client.run_on_scheduler(shorten_message_logs, "Client-never-connected") is None  # workers' streams only
    assert client.get_events("openstackai-nb-log")  # the events themselves are not the log: still there


def test_shorten_log_on_the_client_s_own_stream(client: Any) -> None:
    assert shorten_log(client.scheduler_comm, MESSAGE_LOG, keep=False) is None
    assert client.scheduler_comm.recent_message_log.maxlen <= MESSAGE_LOG, WHAT_TO_DO
    client.subscribe_topic("openstackai-nb-after", lambda event: None)  # a message on that stream: still sent
    deadline = time.monotonic() + 30
    while "openstackai-nb-after" not in (client.run_on_scheduler(_topics) or {}):
        assert time.monotonic() < deadline, "the client's stream stopped sending"
        time.sleep(0.01)


def test_where_the_message_log_is_missing_the_functions_say_so_instead_of_guessing() -> None:
    problem = shorten_log(object())
    assert problem is not None and "recent_message_log" in problem and CHECKED in problem
    problem = shorten_message_logs("c", dask_scheduler=object())
    assert problem is not None and "client_comms" in problem and CHECKED in problem
