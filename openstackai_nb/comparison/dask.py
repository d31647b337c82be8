"""`DaskScheduler`: `compare()` on a Dask cluster, with nothing lost when a worker dies.

`compare(agents, inputs, scheduler=DaskScheduler())` sends the pairs to Dask (`dask.distributed`)
in chunks; what a worker does with a chunk is in `_dask_worker.py`, a submitted compare (its
chunks, events and end) in `_dask_handle.py`. The design, on both sides:

- The agents are pickled once per compare (cloudpickle: functions, tools and FunctionModels
  defined in a notebook travel by value) into one Dask task whose result every chunk depends on,
  so that Dask recomputes it when the workers holding it die (a `scatter`ed object would be
  lost with them). An agent that cannot be pickled is a ConfigError naming it and its tool,
  before anything runs.
- `concurrency` stays the total in flight: each worker process runs at most
  `per_worker = ceil(concurrency / workers)` runs of the compare at once (or `per_worker=`).
- Results stream back as they finish: a worker logs each one as a Dask event on the compare's
  topic and the client subscribes to it (`Client.subscribe_topic`): the events ride the
  connections Dask already keeps (worker -> scheduler -> client, batched), with no request per
  result and no polling. A `distributed.Queue` costs a request per result; per-pair futures
  (`as_completed`) would be one task per pair. Measured in benchmarks/bench_dask.py.
- Memory that does not grow with the grid: `CHUNKS_PER_WORKER` chunks per worker are on the
  cluster at once, the next sent when one ends, and an ended chunk's task is let go (so the
  scheduler holds the pairs of a few chunks, not of the grid); the client holds a byte per job.
  The batched streams the results ride keep `MESSAGE_LOG` batches in their debugging logs, not
  distributed's 1000 (`_dask_internals`): with the scheduler in the client's process (a
  LocalCluster), those logs held the last 1000 batches of results' JSON.
- This scheduler records nothing (`records_runs = False`): `compare` records each result in the
  client's history as it arrives, and drives the progress table, as with local runs.
- A worker that dies mid-chunk: Dask runs the chunk again, which skips the pairs whose result
  already reached the scheduler; a result that arrives twice is dropped (one row and one record
  per pair). A chunk Dask gives up on (`KilledWorker`: it killed every worker that tried it)
  ends as FAILED rows, naming the error, for its pairs that had no result; the rest goes on.
- `cancel()` (an interrupt): every worker stops starting pairs of the compare and cancels its
  runs in flight, whose CANCELLED results come back and are recorded; pairs never started get
  no record.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from openstackai_nb._extras import require
from openstackai_nb._secrets import scrub
from openstackai_nb.comparison._dask_handle import DaskHandle
from openstackai_nb.comparison._dask_worker import MAX_CHUNK
from openstackai_nb.comparison.scheduler import Handle, Job, Report
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    from distributed import Client

    from openstackai_nb.agent import Agent

__all__ = ["DaskScheduler"]

CHUNKS_PER_WORKER = 4
"""Chunks of a compare on the cluster at once, per worker (at least twice the slots' worth of pairs);
the next is sent when one ends."""
_NEEDED_FOR = "DaskScheduler (compare on a Dask cluster)"


class DaskScheduler:
    """Runs a comparison's pairs on a Dask cluster, in chunks, each worker on its own run loop.

    Args:
        client: a `distributed.Client`. None: the current client (`distributed.default_client()`),
            else a LocalCluster on 127.0.0.1, started once per process (it says so, with its
            dashboard link).
        per_worker: runs in flight at once per worker process. None: `ceil(concurrency / workers)`,
            so that `concurrency` stays the total across the cluster (provider rate limits count
            the total).
        chunk_size: pairs per Dask task (1 to 1000). None: about a quarter of each worker's
            share of the pairs, between `per_worker` and `4 * per_worker`.

    Example:
        >>> df = compare(agents, inputs, concurrency=50, scheduler=DaskScheduler())  # doctest: +SKIP

    Raises:
        ConfigError: a per_worker or chunk_size that is not a whole number in range.
        ImportError: dask.distributed is not installed (`pip install "openstackai-nb[dask]"`).
    """

    records_runs = False
    """Runs are recorded by the caller (`compare`), never on a worker."""

    def __init__(self, client: Client | None = None, per_worker: int | None = None, chunk_size: int | None = None):
        require("distributed", "dask", _NEEDED_FOR)
        _check_count("per_worker", per_worker, sys.maxsize)
        _check_count("chunk_size", chunk_size, MAX_CHUNK)
        self.client = client
        self.per_worker = per_worker
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        parts = [f"{k}={v!r}" for k, v in (("per_worker", self.per_worker), ("chunk_size", self.chunk_size)) if v]
        return f"DaskScheduler({', '.join(parts)})"

    def submit(self, jobs: Sequence[Job], *, concurrency: int, report: Report, keep_results: bool = True) -> Handle:
        """Send the jobs to the cluster in chunks and return at once (ConfigError before anything runs).

        With ``keep_results=False`` each result goes to `report` only (the handle keeps none).
        """
        agents: dict[str, Agent] = {}
        for job in jobs:
            agents.setdefault(job.label, job.agent)
        payload = _pickled(agents)
        client = self.client if self.client is not None else _current_client()
        workers = _worker_count(client)
        per_worker = self.per_worker or math.ceil(concurrency / workers)
        chunk_size = self.chunk_size or _default_chunk(len(jobs), workers, per_worker)
        # Enough chunks for twice the slots, so that small chunks (`chunk_size=1`) still fill them.
        window = max(CHUNKS_PER_WORKER * workers, math.ceil(2 * per_worker * workers / chunk_size))
        return DaskHandle(
            client,
            jobs,
            payload,
            per_worker=per_worker,
            chunk_size=chunk_size,
            window=window,
            report=report,
            keep=keep_results,
        )


def _check_count(name: str, value: object, most: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ConfigError(f"DaskScheduler: {name} must be a whole number from 1 to {most}, got {value!r}")


def _default_chunk(pairs: int, workers: int, per_worker: int) -> int:
    quarter_share = math.ceil(pairs / (4 * workers))
    return max(1, min(MAX_CHUNK, max(per_worker, min(quarter_share, 4 * per_worker))))


# -- the client and its cluster ------------------------------------------------------------------
_own: tuple[Any, Client] | None = None
_own_lock = threading.Lock()


def _current_client() -> Client:
    distributed = require("distributed", "dask", _NEEDED_FOR)
    try:
        return distributed.default_client()
    except ValueError:  # no client in this process yet
        pass
    global _own
    with _own_lock:
        if _own is None or _own[1].status not in ("running", "connecting"):
            cluster = distributed.LocalCluster(host="127.0.0.1", dashboard_address="127.0.0.1:0", processes=True)
            client = distributed.Client(cluster)
            _own = (cluster, client)
            workers = _nthreads(client)
            print(
                f"DaskScheduler: no Dask client in this process, so it started a LocalCluster on 127.0.0.1 "
                f"({len(workers)} workers x {max(workers.values(), default=0)} threads); "
                f"dashboard: {client.dashboard_link} (pass DaskScheduler(client) to use your own cluster)",
                file=sys.stderr,
            )
        return _own[1]


def _nthreads(client: Client) -> dict[str, int]:
    """Threads per worker address (a synchronous client's answer)."""
    return cast("dict[str, int]", client.nthreads())


def _worker_count(client: Client, wait: float = 30.0) -> int:
    workers = len(_nthreads(client))
    if workers:
        return workers
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError:
        raise ConfigError(
            f"DaskScheduler: the Dask cluster of {client!r} has no worker (waited {wait:g}s): "
            "start workers (`dask worker ADDRESS`) or scale the cluster"
        ) from None
    return max(1, len(_nthreads(client)))


def _pickled(agents: Mapping[str, Agent]) -> bytes:
    """The agents as cloudpickle bytes; a ConfigError naming the agent and its tool when they cannot be."""
    import cloudpickle

    try:
        return cloudpickle.dumps(dict(agents))
    except Exception as exc:  # noqa: BLE001 - whatever pickling raised, say which part of which agent
        raise ConfigError(scrub(_unpicklable(agents, exc))) from None


def _unpicklable(agents: Mapping[str, Agent], error: Exception) -> str:
    import cloudpickle

    advice = (
        "Dask sends the agents to its workers with cloudpickle: create what cannot travel (a lock, a "
        "connection, an open file) inside the function, or run this comparison without scheduler="
    )
    for label, agent in agents.items():
        parts: list[tuple[str, Any]] = [(f"its tool {tool.name!r}", tool) for tool in agent.tools]
        parts.append((f"its model {agent.model_name!r}", agent.model))
        parts.append(("its settings", agent.model_settings))
        for what, part in parts:
            try:
                cloudpickle.dumps(part)
            except Exception as exc:  # noqa: BLE001 - any pickling failure names the part that cannot be sent
                return f"DaskScheduler: agent {label!r} cannot be sent to the workers: {what} cannot be pickled ({type(exc).__name__}: {exc}). {advice}"  # noqa: E501
    return f"DaskScheduler: the agents cannot be sent to the workers ({type(error).__name__}: {error}). {advice}"
