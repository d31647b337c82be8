"""compare() on a Dask cluster: a process-based LocalCluster (2 workers) against the loopback server.

The agents, tools and model functions that run on the workers are defined in `__main__`, as in a
notebook (`notebook()` executes their source as `__main__`), so they travel by value. One cluster
serves the whole module; the tests that kill workers wait for the nannies to bring them back.
"""

from __future__ import annotations

import _thread
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openstackai_nb import Agent, RunConfig, compare, set_prices
from openstackai_nb.comparison import DaskScheduler, Job
from openstackai_nb.errors import ConfigError
from openstackai_nb.store import RunHistory
from tests._server import OpenAIServer, Reply, Request, default_handler

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.cluster

KEY = "sk-test-SECRET-0123456789abcdef"

# What a notebook would define: executed as __main__, so cloudpickle sends it by value.
NOTEBOOK = '''
import asyncio, os, threading, time
from pathlib import Path
from openstackai_nb import Agent
from openstackai_nb.models.function import FunctionModel, call
from openstackai_nb.models.openai import OpenAIChatModel

UNITS = {"a": "apples"}

def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b

def where() -> str:
    """Which process runs this tool."""
    return f"pid {os.getpid()} counts {UNITS['a']}"

def adder(messages, info):
    if info.turn == 1:
        return call("add", a=2, b=3)
    return "sum is " + messages[-1].content

def locator(messages, info):
    if info.turn == 1:
        return call("where")
    return messages[-1].content

def broken(messages, info):
    raise RuntimeError("this model is broken")

async def gated(messages, info):
    # Answers at once, except prompts naming a file: those wait until the test creates it.
    prompt = messages[-1].content
    if prompt.startswith("wait:"):
        gate = Path(prompt[5:])
        while not gate.exists():
            await asyncio.sleep(0.02)
    if prompt == "poison":
        await asyncio.sleep(0.3)
        os._exit(13)  # kills the worker process that runs it
    return "ok " + prompt

def http(name):
    return OpenAIChatModel(name, base_url=BASE_URL, api_key=KEY)

def grader(messages, info):
    # A judge: 4 when the answer it is shown holds 42, else 2.
    return {"score": 4 if "42" in messages[-1].content.split("Answer to judge:")[-1] else 2, "reason": "read it"}

lock = threading.Lock()

def locked(x: int) -> int:
    """Reads a module-level lock."""
    with lock:
        return x
'''


def notebook(server: OpenAIServer) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__main__", "BASE_URL": server.url, "KEY": KEY}
    exec(compile(NOTEBOOK, "<notebook>", "exec"), ns)  # noqa: S102
    return ns


@dataclass
class Cluster:
    client: Any
    cluster: Any
    worker_history: Path

    def worker_pids(self) -> dict[str, int]:
        return self.client.run(os.getpid)

    def restore(self) -> None:
        """Wait until both workers are back (after a test killed some)."""
        self.client.wait_for_workers(2, timeout=60)
        deadline = time.monotonic() + 60
        while len(self.client.nthreads()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import dask

    worker_history = tmp_path_factory.mktemp("workers") / "history.sqlite"
    # A pair that kills every worker trying it fails after 2 deaths instead of 4 (quicker test).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # any free port: 8787 may be taken
            env={"OPENSTACKAI_NB_HISTORY": str(worker_history)},
        )
    client = distributed.Client(local, set_as_default=False)
    yield Cluster(client, local, worker_history)
    client.close()
    local.close()


@pytest.fixture
def dask_cluster(cluster: Cluster) -> Iterator[Cluster]:
    cluster.restore()
    yield cluster
    assert not cluster.worker_history.exists(), "a worker wrote a history file"


@pytest.fixture(autouse=True)
def no_prices() -> Iterator[None]:
    set_prices(None, replace=True)
    yield
    set_prices(None, replace=True)


def of_compare(history: RunHistory, df: Any) -> RunHistory:
    compare_id = history[df["run_id"].iloc[0]].metadata["compare_id"]
    return history.filter(metadata={"compare_id": compare_id})


def handler_with(server: OpenAIServer, *, delay: float, on_request: Callable[[Request, int], None] | None = None):
    """The default answers, `delay` seconds late; `on_request(request, count)` sees each request."""
    count = 0

    def handler(request: Request) -> Reply:
        nonlocal count
        count += 1
        if on_request is not None:
            on_request(request, count)
        reply = default_handler(request)
        reply.delay = delay
        return reply

    server.handler = handler


# -- the response cache on the workers --------------------------------------------------------------
def test_a_re_run_grid_on_dask_comes_from_the_workers_cache(
    dask_cluster: Cluster, openai_server: OpenAIServer, session_history
) -> None:
    ns = notebook(openai_server)
    agents = [Agent(name=n, instructions=n, model=ns["http"]("gpt-test")) for n in ("a", "b")]
    inputs = ["one", "two", "three"]
    scheduler = DaskScheduler(dask_cluster.client)
    cold = compare(agents, inputs, progress=False, cache=True, scheduler=scheduler)
    assert cold["cached_calls"].sum() == 0 and len(openai_server.requests) == 6
    warm = compare(agents, inputs, progress=False, cache=True, scheduler=scheduler)
    # Both workers share the cache file beside their history's path (WAL, two processes).
    assert len(openai_server.requests) == 6 and warm["cached_calls"].tolist() == [1] * 6
    assert warm["final_output"].tolist() == cold["final_output"].tolist()
    assert (dask_cluster.worker_history.parent / "cache.sqlite").exists()


# -- the same table as the local scheduler --------------------------------------------------------
def test_same_dataframe_as_local(dask_cluster: Cluster, openai_server: OpenAIServer, session_history) -> None:
    ns = notebook(openai_server)
    agents = {
        "HTTP": Agent(name="HTTP", tools=[ns["add"]], model=ns["http"]("gpt-test")),
        "Adder": Agent(name="Adder", tools=[ns["add"]], model=ns["FunctionModel"](ns["adder"], name="adder")),
        "Broken": Agent(name="Broken", model=ns["FunctionModel"](ns["broken"], name="broken")),
        "Scripted": Agent(name="Scripted", model="scripted"),
    }
    inputs = [f"say {n} words" for n in range(3, 9)]
    set_prices({"gpt-test": {"prompt": 1.0, "completion": 2.0}})
    score = {"chars": lambda r, i: len(r.final_output or ""), "has_sum": lambda r, i: "sum" in (r.final_output or "")}

    local = compare(agents, inputs, concurrency=4, score=score, progress=False)
    remote = compare(
        agents, inputs, concurrency=4, score=score, progress=False, scheduler=DaskScheduler(dask_cluster.client)
    )

    assert list(remote.columns) == list(local.columns)
    assert (remote.dtypes == local.dtypes).all()
    same = [c for c in local.columns if c not in ("run_id", "elapsed_time")]
    import pandas as pd

    pd.testing.assert_frame_equal(remote[same], local[same])
    assert set(remote["status"]) == {"COMPLETED", "FAILED"} and remote["cost_usd"].notna().sum() == len(inputs)
    assert remote.loc[remote.agent == "Adder", "final_output"].eq("sum is 5").all()
    assert remote.loc[remote.agent == "Broken", "error"].str.contains("this model is broken").all()
    assert len(openai_server.requests) == 2 * 2 * len(inputs)  # two turns per HTTP run, twice
    # The client recorded every remote run once, with the key scrubbed; no worker kept a history.
    runs = of_compare(session_history, remote)
    assert len(runs) == len(remote) and set(runs.run_ids) == set(remote["run_id"])
    assert {r.status.value for r in runs} == {"COMPLETED", "FAILED"}
    assert KEY not in Path(session_history.path).read_bytes().decode("latin-1")


def _compare_topics(dask_scheduler: Any = None) -> set[str]:
    return {t for t in dask_scheduler._broker._topics if t.startswith("openstackai-nb-")}


def test_a_finished_compare_leaves_no_event_topic_on_the_scheduler(
    dask_cluster: Cluster, openai_server: OpenAIServer
) -> None:
    # The results rode event topics (up to 1000 events each); the scheduler must not keep them.
    ns = notebook(openai_server)
    before = dask_cluster.client.run_on_scheduler(_compare_topics)
    agent = Agent(name="Adder", tools=[ns["add"]], model=ns["FunctionModel"](ns["adder"], name="adder"))
    df = compare([agent], ["a", "b", "c"], progress=False, scheduler=DaskScheduler(dask_cluster.client, chunk_size=1))
    assert (df["status"] == "COMPLETED").all()
    assert dask_cluster.client.run_on_scheduler(_compare_topics) <= before


def test_a_compare_waits_for_its_chunks_through_its_own_client(dask_cluster: Cluster) -> None:
    # This module's client is not the default one (set_as_default=False). `distributed.wait` takes
    # `default_client()`: it raised "No clients found" (or returned at once), so a finished compare
    # dropped its topics before its last chunk's task had ended, and that chunk's last event, coming
    # after the drop, made its topic again (CI, 7 Dec 2026: 1 of 2047 failed; 3 of 40 in this module).
    from openstackai_nb.comparison._dask_handle import _ended

    future = dask_cluster.client.submit(time.sleep, 0.5, pure=False)
    started = time.monotonic()
    _ended([future], 5.0)
    assert future.status == "finished" and time.monotonic() - started >= 0.4


def _chunk_tasks(dask_scheduler: Any = None) -> int:
    return sum(1 for key in dask_scheduler.tasks if str(key).startswith("openstackai-nb-chunk-"))


def test_the_cluster_holds_a_window_of_chunks_not_the_whole_grid(
    dask_cluster: Cluster, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    # 24 chunks of one pair, 2 workers with 2 slots each: 8 chunks on the cluster at once (4 per
    # worker, twice the slots); the rest are sent as chunks end, and an ended chunk's task (its
    # pairs) is let go.
    ns = notebook(openai_server)
    agent = Agent(name="Gated", model=ns["FunctionModel"](ns["gated"]))
    gate = tmp_path / "gate"
    jobs = [Job(index=i, label="Gated", agent=agent, input=f"wait:{gate}", config=RunConfig()) for i in range(24)]
    started: list[int] = []
    handle = DaskScheduler(dask_cluster.client, chunk_size=1).submit(
        jobs, concurrency=4, report=lambda kind, job, result: started.append(job.index) if kind == "start" else None
    )
    deadline = time.monotonic() + 60
    while len(started) < 4 and time.monotonic() < deadline:
        handle.wait(0.05)
    handle.wait(0.3)  # time for more to start, if there were more slots
    assert len(started) == 4 and max(started) < 8  # the slots, taken by pairs of the chunks sent
    assert dask_cluster.client.run_on_scheduler(_chunk_tasks) == 8
    gate.touch()
    while not handle.wait(0.1):
        pass
    assert [r.final_output for r in handle.results()] == [f"ok wait:{gate}"] * 24
    deadline = time.monotonic() + 30
    while dask_cluster.client.run_on_scheduler(_chunk_tasks):  # the last releases are on their way
        assert time.monotonic() < deadline, "the scheduler kept the compare's chunk tasks"
        time.sleep(0.02)


def _chunk_topics(dask_scheduler: Any = None) -> int:
    """The topics of chunks' finished indices on the scheduler (`openstackai-nb-<compare>-<chunk>`)."""
    import re

    return sum(1 for t in dask_scheduler._broker._topics if re.fullmatch(r"openstackai-nb-[0-9a-f]{12}-\d+", t))


def test_ended_chunks_topics_are_dropped_while_the_compare_runs(
    dask_cluster: Cluster, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    # 40 chunks of one pair; the last two wait at a gate: the 38 ended chunks' topics are dropped
    # 16 at a time, before the compare ends.
    ns = notebook(openai_server)
    agent = Agent(name="Gated", model=ns["FunctionModel"](ns["gated"]))
    gate = tmp_path / "gate"
    prompts = [f"q{i}" for i in range(38)] + [f"wait:{gate}"] * 2
    jobs = [Job(index=i, label="Gated", agent=agent, input=p, config=RunConfig()) for i, p in enumerate(prompts)]
    client = dask_cluster.client
    before = client.run_on_scheduler(_chunk_topics)
    done: list[int] = []
    handle = DaskScheduler(client, chunk_size=1).submit(
        jobs, concurrency=8, report=lambda kind, job, result: done.append(job.index) if kind == "done" else None
    )
    deadline = time.monotonic() + 60
    while len(done) < 38 or client.run_on_scheduler(_chunk_topics) > before + 40 - 32:
        assert time.monotonic() < deadline, f"{len(done)} done; the ended chunks' topics stayed on the scheduler"
        handle.wait(0.05)
    gate.touch()
    while not handle.wait(0.1):
        pass
    assert [r.final_output for r in handle.results()] == [f"ok {p}" for p in prompts]
    assert client.run_on_scheduler(_chunk_topics) <= before


def _stream_logs(client: str, dask_scheduler: Any = None) -> list[int | None]:
    """The maxlen of the scheduler's stream logs to `client` and to each worker."""
    streams = [dask_scheduler.client_comms[client], *dask_scheduler.stream_comms.values()]
    return [stream.recent_message_log.maxlen for stream in streams]


def test_the_streams_of_a_compare_keep_short_message_logs(dask_cluster: Cluster, openai_server: OpenAIServer) -> None:
    # Each batched stream keeps its last batches for debugging (1000 by default): with a compare's
    # results in them, the client's memory grew with the grid (the scheduler runs in its process).
    from openstackai_nb.comparison._dask_internals import MESSAGE_LOG

    ns = notebook(openai_server)
    agent = Agent(name="Where", tools=[ns["where"]], model=ns["FunctionModel"](ns["locator"]))
    df = compare([agent], [f"q{i}" for i in range(8)], concurrency=4, progress=False,
                 scheduler=DaskScheduler(dask_cluster.client, chunk_size=1))  # fmt: skip
    assert (df["status"] == "COMPLETED").all()
    client = dask_cluster.client
    assert all(n is not None and n <= MESSAGE_LOG for n in client.run_on_scheduler(_stream_logs, client.id))
    assert client.scheduler_comm.recent_message_log.maxlen <= MESSAGE_LOG
    ran = {int(out.split()[1]) for out in df["final_output"]}  # the workers that ran a chunk
    logs = client.run(lambda dask_worker: (os.getpid(), dask_worker.batched_stream.recent_message_log.maxlen))
    assert ran and all(maxlen <= MESSAGE_LOG for pid, maxlen in logs.values() if pid in ran)


def test_the_c_heap_is_trimmed_where_glibc_can() -> None:
    # A compare ends by handing the C heap's free pages back (distributed's IO thread decoded its
    # messages in an arena of its own); on glibc that is malloc_trim, elsewhere nothing is done.
    import platform

    from openstackai_nb.comparison._heap import trim_heap

    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert trim_heap() is glibc


def test_notebook_functions_run_on_the_workers(dask_cluster: Cluster, openai_server: OpenAIServer) -> None:
    ns = notebook(openai_server)
    agent = Agent(name="Where", tools=[ns["where"]], model=ns["FunctionModel"](ns["locator"]))
    df = compare([agent], [f"q{i}" for i in range(6)], concurrency=4, progress=False,
                 scheduler=DaskScheduler(dask_cluster.client))  # fmt: skip
    assert (df["status"] == "COMPLETED").all()
    pids = {int(out.split()[1]) for out in df["final_output"]}
    assert pids <= set(dask_cluster.worker_pids().values()) and os.getpid() not in pids
    assert df["final_output"].str.endswith("counts apples").all()  # the tool's module globals came along


def test_an_unpicklable_tool_is_a_config_error_before_anything_runs(
    dask_cluster: Cluster, openai_server: OpenAIServer, session_history
) -> None:
    ns = notebook(openai_server)
    agents = [
        Agent(name="Fine", model=ns["http"]("m")),
        Agent(name="Locker", tools=[ns["add"], ns["locked"]], model=ns["http"]("m")),
    ]
    with pytest.raises(ConfigError, match=r"agent 'Locker' .*tool 'locked' cannot be pickled.*_thread.lock"):
        compare(agents, ["a", "b"], progress=False, scheduler=DaskScheduler(dask_cluster.client))
    assert openai_server.requests == [] and len(session_history) == 0
    assert not [k for k in dask_cluster.client.futures if "openstackai-nb" in str(k)]


def test_workers_scrub_the_keys_they_unpickle(dask_cluster: Cluster, openai_server: OpenAIServer) -> None:
    from openstackai_nb.models.openai import OpenAIChatModel
    from tests._server import error

    plain = "plain-secret-value-4711"  # not key-shaped: only a registered key is scrubbed
    openai_server.handler = lambda request: error(400, f"the key {plain} is not valid here")
    agent = Agent(name="Keyed", model=OpenAIChatModel("m", base_url=openai_server.url, api_key=plain))
    jobs = [Job(index=0, label="Keyed", agent=agent, input="hi", config=RunConfig())]
    handle = DaskScheduler(dask_cluster.client).submit(jobs, concurrency=1, report=lambda *a: None)
    while not handle.wait(0.1):
        pass
    (result,) = handle.results()  # as the worker sent it, before this process scrubs anything
    assert result.status.value == "FAILED" and "[REDACTED] is not valid" in (result.error or "")
    assert plain not in result.to_json()


# -- concurrency and streaming ----------------------------------------------------------------------
def _count_in_flight(openai_server: OpenAIServer) -> dict[str, int]:
    """Count the replies the server is writing at once ("now") and the most at once ("max").

    The caller undoes it with ``del openai_server._write``.
    """
    state = {"now": 0, "max": 0}
    lock = threading.Lock()
    write = openai_server._write

    async def counting_write(writer: asyncio.StreamWriter, reply: Reply) -> bool:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            return await write(writer, reply)
        finally:
            with lock:
                state["now"] -= 1

    openai_server._write = counting_write  # type: ignore[method-assign]
    return state


def test_concurrency_is_the_total_in_flight_across_workers(dask_cluster: Cluster, openai_server: OpenAIServer) -> None:
    state = _count_in_flight(openai_server)
    handler_with(openai_server, delay=0.1)
    ns = notebook(openai_server)
    try:
        df = compare([Agent(name="HTTP", model=ns["http"]("m"))], [f"q{i}" for i in range(48)], concurrency=6,
                     progress=False, scheduler=DaskScheduler(dask_cluster.client))  # fmt: skip
    finally:
        del openai_server._write
    assert (df["status"] == "COMPLETED").all()
    assert 0.8 * 6 <= state["max"] <= 6  # per worker ceil(6 / 2) = 3


def test_small_chunks_still_fill_every_slot(dask_cluster: Cluster, openai_server: OpenAIServer) -> None:
    # The cluster holds a window of chunks at a time: with chunks of one pair, the window must
    # still cover the 12 slots (2 workers x 6), not 4 chunks per worker.
    state = _count_in_flight(openai_server)
    handler_with(openai_server, delay=0.2)
    ns = notebook(openai_server)
    try:
        df = compare([Agent(name="HTTP", model=ns["http"]("m"))], [f"q{i}" for i in range(48)], concurrency=12,
                     progress=False, scheduler=DaskScheduler(dask_cluster.client, chunk_size=1))  # fmt: skip
    finally:
        del openai_server._write
    assert (df["status"] == "COMPLETED").all()
    assert 0.8 * 12 <= state["max"] <= 12


def test_results_reach_the_client_before_their_chunk_ends(
    dask_cluster: Cluster, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    ns = notebook(openai_server)
    agent = Agent(name="Gated", model=ns["FunctionModel"](ns["gated"]))
    gate = tmp_path / "gate"
    prompts = ["a", "b", "c", f"wait:{gate}"]  # one chunk: it cannot end before the gate opens
    jobs = [Job(index=i, label="Gated", agent=agent, input=p, config=RunConfig()) for i, p in enumerate(prompts)]
    done: list[str] = []
    handle = DaskScheduler(dask_cluster.client, chunk_size=4).submit(
        jobs, concurrency=4, report=lambda kind, job, result: done.append(job.input) if kind == "done" else None
    )
    deadline = time.monotonic() + 60
    while len(done) < 3 and time.monotonic() < deadline:
        handle.wait(0.05)
    assert sorted(done) == ["a", "b", "c"]  # streamed back while the chunk's last run still waits
    gate.touch()
    while not handle.wait(0.1):
        pass
    assert [r.final_output for r in handle.results()] == [f"ok {p}" for p in prompts]


# -- failures ---------------------------------------------------------------------------------------
def test_a_worker_killed_mid_run_loses_nothing(
    dask_cluster: Cluster, openai_server: OpenAIServer, session_history
) -> None:
    pids = list(dask_cluster.worker_pids().values())

    def kill_one(request: Request, count: int) -> None:
        if count == 12:  # about half way through each worker's chunk
            os.kill(pids[0], signal.SIGKILL)

    handler_with(openai_server, delay=0.2, on_request=kill_one)
    ns = notebook(openai_server)
    pairs, per_worker = 24, 2
    scheduler = DaskScheduler(dask_cluster.client, per_worker=per_worker, chunk_size=12)
    df = compare([Agent(name="HTTP", model=ns["http"]("m"))], [f"q{i}" for i in range(pairs)], concurrency=4,
                 progress=False, scheduler=scheduler)  # fmt: skip
    assert (df["status"] == "COMPLETED").all() and len(df) == pairs
    assert pids[0] not in dask_cluster.worker_pids().values()  # it really died
    runs = of_compare(session_history, df)
    assert len(runs) == pairs and {r.status.value for r in runs} == {"COMPLETED"}  # one record per pair, none RUNNING
    assert pairs <= len(openai_server.requests) <= pairs + 2 * per_worker


def test_losing_every_worker_once_does_not_cancel_the_compare(
    dask_cluster: Cluster, openai_server: OpenAIServer, session_history
) -> None:
    pids = list(dask_cluster.worker_pids().values())

    def kill_all(request: Request, count: int) -> None:
        if count == 6:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)

    handler_with(openai_server, delay=0.1, on_request=kill_all)
    ns = notebook(openai_server)
    df = compare([Agent(name="HTTP", model=ns["http"]("m"))], [f"q{i}" for i in range(16)], concurrency=4,
                 progress=False, scheduler=DaskScheduler(dask_cluster.client))  # fmt: skip
    assert (df["status"] == "COMPLETED").all()
    assert not set(pids) & set(dask_cluster.worker_pids().values())  # every worker was replaced
    assert len(of_compare(session_history, df)) == 16


def test_a_poison_pair_fails_its_chunk_s_unfinished_pairs_only(
    dask_cluster: Cluster, openai_server: OpenAIServer, session_history, tmp_path: Path
) -> None:
    ns = notebook(openai_server)
    agent = Agent(name="Gated", model=ns["FunctionModel"](ns["gated"]))
    never = tmp_path / "never"
    inputs = ["a", "poison", "b", f"wait:{never}", "c", "d", "e", "f"]  # chunks of 4: the poison is in the first
    df = compare([agent], inputs, concurrency=4, progress=False,
                 scheduler=DaskScheduler(dask_cluster.client, per_worker=2, chunk_size=4))  # fmt: skip
    status = dict(zip(df["input"], df["status"], strict=True))
    assert {i for i, s in status.items() if s == "FAILED"} == {"poison", f"wait:{never}"}
    failed = df[df["status"] == "FAILED"]
    assert failed["error"].str.contains("KilledWorker").all()
    assert len(of_compare(session_history, df)) == len(inputs)


def test_a_chunk_given_up_on_sends_its_pairs_that_never_started_again(
    dask_cluster: Cluster, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    # Which chunk Dask gives up on (KilledWorker) cannot be steered: Dask's verdict on the first
    # chunk is stood in for here, while its first pair runs and the others wait for its slot.
    from distributed import KilledWorker

    ns = notebook(openai_server)
    agent = Agent(name="Gated", model=ns["FunctionModel"](ns["gated"]))
    gate = tmp_path / "gate"
    prompts = [f"wait:{gate}", "a", "b"]
    jobs = [Job(index=i, label="Gated", agent=agent, input=p, config=RunConfig()) for i, p in enumerate(prompts)]
    started: list[str] = []
    handle = DaskScheduler(dask_cluster.client, per_worker=1, chunk_size=3).submit(
        jobs, concurrency=2, report=lambda kind, job, result: started.append(job.input) if kind == "start" else None
    )
    deadline = time.monotonic() + 60
    while not started and time.monotonic() < deadline:
        handle.wait(0.05)
    assert started == [prompts[0]]

    class GaveUp:  # what a chunk's future says once Dask gave up on it
        status = "error"

        def exception(self, timeout: float | None = None) -> BaseException:
            worker = types.SimpleNamespace(address="tcp://127.0.0.1:1")
            return KilledWorker("openstackai-nb-chunk", worker, allowed_failures=1)  # type: ignore[arg-type]

    handle._futures[0] = GaveUp()  # type: ignore[attr-defined]
    handle._take(["chunk", 0])  # type: ignore[attr-defined]
    assert len(handle._chunks) == 2 and [jobs[i].input for i in handle._chunks[1]] == ["a", "b"]  # type: ignore[attr-defined]
    gate.touch()
    while not handle.wait(0.1):
        pass
    results = handle.results()
    assert results[0].status.value == "FAILED" and (results[0].error or "").startswith("KilledWorker")
    assert [r.final_output for r in results[1:]] == ["ok a", "ok b"]  # once each, whichever chunk ran them


def test_an_interrupt_stops_new_requests_and_records_in_flight_runs_cancelled(
    dask_cluster: Cluster, openai_server: OpenAIServer, session_history
) -> None:
    arrivals: list[float] = []
    interrupted: list[float] = []

    def interrupt(request: Request, count: int) -> None:
        arrivals.append(time.monotonic())
        if count == 6:
            interrupted.append(time.monotonic())
            _thread.interrupt_main()

    handler_with(openai_server, delay=0.5, on_request=interrupt)
    ns = notebook(openai_server)
    inputs = [f"q{i}" for i in range(40)]
    with pytest.raises(KeyboardInterrupt) as info:
        compare([Agent(name="HTTP", model=ns["http"]("m"))], inputs, concurrency=4, progress=False,
                scheduler=DaskScheduler(dask_cluster.client))  # fmt: skip
    time.sleep(1.5)
    assert arrivals and max(arrivals) <= interrupted[0] + 1.0  # no new request a second after the interrupt
    compare_id = str(info.value.__notes__[0]).split("compare ")[1].split()[0]
    runs = session_history.filter(metadata={"compare_id": compare_id})
    recorded = {r.input: r.status.value for r in runs}
    asked = {r.messages[-1]["content"] for r in openai_server.requests}
    assert asked <= set(recorded) and len(recorded) < len(inputs)  # nothing for pairs never started
    assert set(recorded.values()) <= {"COMPLETED", "CANCELLED"} and "CANCELLED" in recorded.values()
    assert all(recorded[i] == "CANCELLED" for i in set(recorded) - asked)


# -- the notebook magic, and no client at all --------------------------------------------------------
def test_magic_scheduler_dask_starts_a_local_cluster_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from openstackai_nb.comparison import dask as dask_scheduler

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "openstackai_nb")
    try:
        ip.run_cell(
            "from openstackai_nb import Agent\n"
            "def shout(text: str) -> str:\n"
            "    '''Shout the text.'''\n"
            "    return text.upper()\n"
            "loud = Agent(name='Loud', tools=[shout], model='scripted')\n"
            "cities = ['Paris', 'Oslo', 'Lima']\n"
        )
        ip.run_cell_magic("agent", "--over cities --agent loud --scheduler dask -o df --quiet", "Hello {{item}}")
        df = ip.user_ns["df"]
        assert list(df["input"]) == ["Hello Paris", "Hello Oslo", "Hello Lima"]
        assert set(df["status"]) == {"COMPLETED"}
        err = capsys.readouterr().err
        assert "started a LocalCluster on 127.0.0.1" in err and "dashboard: http://127.0.0.1:" in err
    finally:
        ip.run_line_magic("unload_ext", "openstackai_nb")
        for name in ("Agent", "shout", "loud", "cities", "df"):
            ip.user_ns.pop(name, None)
        own = dask_scheduler._own
        if own is not None:
            dask_scheduler._own = None
            own[1].close()
            own[0].close()


def test_magic_scheduler_needs_agents_or_over() -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "openstackai_nb")
    try:
        with pytest.raises(UsageError, match="--scheduler applies to --agents/--over"):
            ip.run_cell_magic("agent", "--model scripted --scheduler dask", "hi")
        with pytest.raises(UsageError, match="invalid choice: 'ray'"):
            ip.run_cell_magic("agent", "--model scripted --scheduler ray", "hi")
    finally:
        ip.run_line_magic("unload_ext", "openstackai_nb")


def test_bad_settings_are_config_errors() -> None:
    for kwargs in ({"per_worker": 0}, {"chunk_size": 1001}, {"chunk_size": 2.5}, {"per_worker": True}):
        with pytest.raises(ConfigError, match="DaskScheduler: (per_worker|chunk_size) must be a whole number"):
            DaskScheduler(**kwargs)


def test_importing_the_package_never_imports_dask() -> None:
    code = (
        "import sys, openstackai_nb, openstackai_nb.comparison;"
        "print(' '.join(m for m in ('dask', 'distributed', 'cloudpickle') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- cases, repeats and seeds (issue 21) ----------------------------------------------------------
def test_cases_repeats_and_seeds_on_dask(dask_cluster: Cluster, openai_server: OpenAIServer, session_history) -> None:
    from openstackai_nb import Case
    from openstackai_nb.scorers import contains, judge

    ns = notebook(openai_server)
    agents = {"HTTP": Agent(name="HTTP", model=ns["http"]("gpt-test")), "Scripted": Agent(name="S", model="scripted")}
    cases = [
        Case("say 3 words", expected="42", id="a", metadata={"topic": "x"}),
        {"input": "say 4 words", "expected": "nope"},
    ]
    score = {"score": contains(), "grade": judge(ns["FunctionModel"](ns["grader"], name="grader"))}
    local = compare(agents, cases, repeats=2, seed=5, score=score, progress=False)
    remote = compare(
        agents, cases, repeats=2, seed=5, score=score, progress=False, scheduler=DaskScheduler(dask_cluster.client)
    )
    same = [c for c in local.columns if c not in ("run_id", "elapsed_time")]
    import pandas as pd

    pd.testing.assert_frame_equal(remote[same], local[same])
    assert remote["repeat"].tolist() == [0, 1] * 4 and remote["case_id"].iloc[:2].tolist() == ["a", "a"]
    assert remote.loc[remote.agent == "HTTP", "score"].tolist() == [1.0, 1.0, 0.0, 0.0]  # "The answer is 42."
    assert sorted(r.body["seed"] for r in openai_server.requests) == [5, 5, 5, 5, 6, 6, 6, 6]
    # The judge's runs went to the cluster too; its typed verdicts came back and were read.
    assert remote.loc[remote.agent == "HTTP", "grade"].tolist() == [4.0] * 4
    assert remote["grade_reason"].eq("read it").all()
    assert len(of_compare(session_history, remote).filter(metadata={"judge": "grade"})) == 8
    runs = [r for r in of_compare(session_history, remote) if "judge" not in r.metadata]
    assert sorted((r.metadata["case_id"][:1], r.metadata["repeat"]) for r in runs) == sorted(
        [("a", 0), ("a", 1), ("c", 0), ("c", 1)] * 2
    )
    # The statistics read a Dask grid's frame as they read a local one (issue 21: "works unchanged").
    from openstackai_nb import paired, summarize

    stats = ["n", "runs", "mean", "std", "ci_low", "ci_high", "failures", "pass@1", "pass@2"]
    pd.testing.assert_frame_equal(summarize(remote, ks=(1, 2))[stats], summarize(local, ks=(1, 2))[stats])
    test, expected = paired(remote, "HTTP", "Scripted"), paired(local, "HTTP", "Scripted")
    assert test.to_dict() == expected.to_dict() and test["n"] == 2


# -- resume (issue 22) ------------------------------------------------------------------------------
def test_resume_on_dask_takes_finished_runs_from_history(
    dask_cluster: Cluster, openai_server: OpenAIServer, session_history
) -> None:
    ns = notebook(openai_server)
    agents = {"HTTP": Agent(name="HTTP", model=ns["http"]("gpt-test"))}
    cases = ["say 3 words", "say 4 words", "say 5 words"]
    first = compare(agents, cases, repeats=2, progress=False, scheduler=DaskScheduler(dask_cluster.client))
    # Forget one pair's run: as if the kernel had died before it finished.
    session_history.filter(run_ids=[first["run_id"].iloc[3]]).clear()
    openai_server.requests.clear()
    again = compare(agents, cases, repeats=2, progress=False, resume=True, scheduler=DaskScheduler(dask_cluster.client))
    assert len(openai_server.requests) == 1  # only the forgotten pair ran again, on the cluster
    assert again["resumed"].tolist() == [True, True, True, False, True, True]
    assert (again["status"] == "COMPLETED").all()
    assert again["run_id"].tolist()[:3] == first["run_id"].tolist()[:3]
