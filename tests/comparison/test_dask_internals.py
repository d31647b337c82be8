"""The distributed internal `comparison/_dask_internals.py` relies on: these fail loudly when it changes.

`forget_topics` deletes a finished compare's event topics from ``Scheduler._broker._topics``
(distributed has no public way to drop a topic). A scheduler in this process, without workers,
is enough to check it; `test_dask.py` checks that a compare on a real cluster leaves no topic.
None of these skips: a distributed that moved the internal is what they are here to catch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest

from openstackai_nb.comparison._dask_internals import CHECKED, SINCE, forget_topics

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
