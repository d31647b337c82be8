"""compare() on Dask (DaskScheduler) against the local scheduler, in one run, on the loopback server.

1. 2,000 pairs against a 50 ms server, concurrency 50: the local scheduler (one process) and
   DaskScheduler with 2 workers, (a) on a LocalCluster inside the client process (what a
   notebook gets) and (b) on a scheduler and workers in processes of their own (`dask scheduler`,
   `dask worker --nworkers 2`), where the client's CPU is the client's alone. Wall time, runs per
   second, CPU per run of each process (client, scheduler, workers), and the CPU per run Dask adds.
2. Runs per second against a 500 ms server with 1 and 2 workers, 100 runs in flight per worker
   (the latency-bound case: more workers, more runs in flight, more runs per second).
3. How results travel from a worker to the client: 2,000 messages the size of a RunResult's JSON
   through Dask events (`log_event` / `subscribe_topic`, what DaskScheduler uses), a
   `distributed.Queue`, and one task per result (`client.map` + `as_completed`; Pub/Sub is gone
   from distributed 2026): time until all arrived and the client's CPU per message.

Each contender runs in its own client process (benchmarks/_common.py: run_worker); history is on
(a file in the client process's own temporary folder). `--quick`: fewer pairs, for a smoke run.
`--profile`: a cProfile of the client's main thread in 1(b), top functions by own time.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_dask.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Server, machine, run_worker, worker_main  # noqa: E402

KEY = "sk-bench-0000000000000000"
LOOPS = "workers' run loops"


# -- process CPU --------------------------------------------------------------------------------
def cpu_of(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of a process (or one of its threads) so far (Linux /proc)."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpus(pids: dict[str, list[tuple[int, int | None]]]) -> dict[str, float]:
    """CPU seconds so far by role; a role's entries are (pid, thread id or None for the whole process)."""
    out = {}
    for role, ps in pids.items():
        total = 0.0
        for pid, tid in ps:
            try:
                total += cpu_of(pid, tid)
            except OSError:
                pass
        out[role] = total
    return out


def _run_loop_thread() -> tuple[int, int]:
    """On a worker: its pid, and the native id of the package's run loop thread (where the runs run)."""
    from openstackai_nb.runner import loop as _sync

    _sync.get_loop()
    thread = _sync._thread
    assert thread is not None and thread.native_id is not None
    return os.getpid(), thread.native_id


def roles(client: Any, scheduler_pid: int | None, server_pid: int) -> dict[str, list[tuple[int, int | None]]]:
    """What to measure: the workers (and their run loop threads alone), the scheduler, the server."""
    loops = list(client.run(_run_loop_thread).values())
    out: dict[str, list[tuple[int, int | None]]] = {
        "workers": [(pid, None) for pid, _ in loops],
        LOOPS: [(pid, tid) for pid, tid in loops],
    }
    if scheduler_pid is not None:
        out["scheduler"] = [(scheduler_pid, None)]
    out["server"] = [(server_pid, None)]
    return out


# -- a cluster for the client process -------------------------------------------------------------
class External:
    """A Dask scheduler and workers in processes of their own (the CLI), on 127.0.0.1."""

    def __init__(self, workers: int) -> None:
        self.dir = tempfile.mkdtemp(prefix="bench_dask_")
        file = os.path.join(self.dir, "scheduler.json")
        env = {**os.environ, "OPENSTACKAI_NB_HISTORY": "off"}
        dask = [sys.executable, "-m", "dask"]
        self.procs = [
            subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                              "--scheduler-file", file], env=env, stderr=subprocess.DEVNULL, cwd=self.dir)
        ]  # fmt: skip
        while not os.path.exists(file):
            time.sleep(0.05)
        time.sleep(0.2)
        self.procs.append(
            subprocess.Popen([*dask, "worker", "--scheduler-file", file, "--nworkers", str(workers), "--nthreads",
                              "1", "--no-dashboard", "--host", "127.0.0.1"], env=env, stderr=subprocess.DEVNULL,
                             cwd=self.dir)
        )  # fmt: skip
        from distributed import Client

        self.client = Client(scheduler_file=file)
        self.client.wait_for_workers(workers, timeout=120)

    def close(self) -> None:
        self.client.close()
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_cluster(where: str, workers: int) -> tuple[Any, Any, int | None]:
    """(client, closer, the scheduler's pid when it has its own process)."""
    from distributed import Client, LocalCluster

    if where == "local-cluster":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, env={"OPENSTACKAI_NB_HISTORY": "off"})  # fmt: skip
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close, None
    ext = External(workers)
    return ext.client, ext.close, ext.client.run_on_scheduler(os.getpid)


# -- 1 and 2: compare --------------------------------------------------------------------------------
def agents_and_inputs(url: str, pairs: int) -> tuple[list[Any], list[str]]:
    from openstackai_nb import Agent
    from openstackai_nb.models.openai import OpenAIChatModel

    n_agents = 4
    agents = [Agent(name=f"agent-{i}", model=OpenAIChatModel("test-model", base_url=url, api_key=KEY))
              for i in range(n_agents)]  # fmt: skip
    return agents, [f"question {i}" for i in range(pairs // n_agents)]


def measure_compare(contender: str, p: dict[str, Any]) -> dict[str, Any]:
    from openstackai_nb import DaskScheduler, compare

    agents, inputs = agents_and_inputs(p["url"], p["pairs"])
    client = close = None
    pids: dict[str, list[tuple[int, int | None]]] = {"server": [(p["server_pid"], None)]}
    scheduler = None
    if contender != "local":
        client, close, scheduler_pid = start_cluster(contender, p["workers"])
        scheduler = DaskScheduler(client, per_worker=p.get("per_worker"))
    try:
        compare(agents, inputs[: max(4, p["concurrency"] // len(agents))], concurrency=p["concurrency"],
                progress=False, scheduler=scheduler)  # warm up: imports, connections  # fmt: skip
        if client is not None:
            pids = roles(client, scheduler_pid, p["server_pid"])
        profiler = None
        if p.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        before = cpus(pids)
        t0, c0 = time.perf_counter(), time.process_time()
        df = compare(agents, inputs, concurrency=p["concurrency"], progress=False, scheduler=scheduler)
        wall, client_cpu = time.perf_counter() - t0, time.process_time() - c0
        after = cpus(pids)
        profile = ""
        if profiler is not None:
            import io
            import pstats

            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
            profile = out.getvalue()
        assert (df["status"] == "COMPLETED").all() and len(df) == p["pairs"], df["error"].dropna().head()
        from openstackai_nb import history

        runs = len(history.filter(metadata={"compare_id": history[df["run_id"].iloc[0]].metadata["compare_id"]}))
        assert runs == p["pairs"], runs
    finally:
        if close is not None:
            close()
    cpu = {role: after[role] - before[role] for role in pids}
    return {"wall": wall, "client_cpu": client_cpu, "cpu": cpu, "profile": profile}


def section_compare(pairs: int, profile: bool) -> None:
    concurrency, latency = 50, 0.05
    print(f"1. {pairs} pairs (4 agents), concurrency {concurrency}, {latency * 1e3:.0f} ms per request: "
          f"latency bound {pairs / concurrency * latency:.2f} s; history on (a file)")  # fmt: skip
    rows: dict[str, dict[str, Any]] = {}
    with Server(mode="text", latency=latency) as server:
        for contender, label in (
            ("local", "local scheduler (one process)"),
            ("local-cluster", "Dask, LocalCluster in the client, 2 workers"),
            ("external", "Dask, scheduler + 2 workers outside"),
        ):
            params = {"url": server.url, "server_pid": server.proc.pid, "pairs": pairs, "concurrency": concurrency,
                      "workers": 2, "profile": profile and contender == "external"}  # fmt: skip
            r = run_worker(__file__, contender, params, timeout=1800)
            rows[contender] = r
            if "error" in r:
                print(f"  {label:<46} ERROR {r['error']}")
                continue
            ms = {role: v / pairs * 1e3 for role, v in {"client": r["client_cpu"], **r["cpu"]}.items()}
            r["dask_ms"] = ms["client"] + ms.get("scheduler", 0.0) + ms.get("workers", 0.0)
            sched = ""
            if "scheduler" in ms:
                sched = f"scheduler {ms['scheduler']:4.2f}  "
            elif contender == "local-cluster":
                sched = "(scheduler: in the client)  "
            workers = ""
            if "workers" in ms:
                workers = f"workers {ms['workers']:4.2f} (their run loops {ms[LOOPS]:4.2f})  "
            cpu = f"client {ms['client']:4.2f}  {sched}{workers}= {r['dask_ms']:4.2f};  server {ms['server']:4.2f}"
            print(f"  {label:<44} wall {r['wall']:5.2f} s  {pairs / r['wall']:4.0f} runs/s  CPU ms per run: {cpu}")
            if r.get("profile"):
                print("  cProfile of the client's main thread (the scheduler's events arrive on Dask's IO thread):")
                print("\n".join("    " + line for line in r["profile"].strip().splitlines()))
    local = rows.get("local", {})
    for contender in ("local-cluster", "external"):
        r = rows.get(contender, {})
        if "wall" in r and "wall" in local:
            added = r["dask_ms"] - local["dask_ms"]
            print(f"  {contender}: wall {r['wall'] / local['wall']:4.2f}x local's; client CPU "
                  f"{r['client_cpu'] / pairs * 1e3:4.2f} ms per run; Dask adds {added:+4.2f} ms of CPU per run "
                  f"(client + scheduler + workers, vs the local process)")  # fmt: skip


def section_scale(pairs: int) -> None:
    per_worker, latency = 100, 0.5
    print(f"2. {pairs} pairs against a {latency * 1e3:.0f} ms server, {per_worker} runs in flight per worker "
          f"(scheduler and workers outside the client)")  # fmt: skip
    with Server(mode="text", latency=latency) as server:
        rates = {}
        for workers in (1, 2):
            params = {"url": server.url, "server_pid": server.proc.pid, "pairs": pairs,
                      "concurrency": per_worker * workers, "workers": workers, "per_worker": per_worker}  # fmt: skip
            r = run_worker(__file__, "external", params, timeout=1800)
            if "error" in r:
                print(f"  {workers} worker(s): ERROR {r['error']}")
                continue
            rates[workers] = pairs / r["wall"]
            bound = per_worker * workers / latency
            cpu = r["client_cpu"] / pairs * 1e3
            print(f"  {workers} worker(s): wall {r['wall']:6.2f} s  {rates[workers]:6.0f} runs/s  "
                  f"(latency bound {bound:.0f} runs/s; client CPU {cpu:4.2f} ms per run)")  # fmt: skip
        if len(rates) == 2:
            print(f"  2 workers / 1 worker: {rates[2] / rates[1]:4.2f}x the runs per second")


# -- 3: transport ----------------------------------------------------------------------------------
def _send_events(topic: str, n: int, payload: str) -> int:
    from distributed import get_worker

    worker = get_worker()
    for i in range(n):
        worker.log_event(topic, ["done", i, payload])
    return n


def _send_queue(name: str, n: int, payload: str) -> int:
    from distributed import Queue

    q = Queue(name)
    for i in range(n):
        q.put(["done", i, payload])
    return n


def _one_result(i: int, payload: str) -> list[Any]:
    return ["done", i, payload]


def measure_transport(contender: str, p: dict[str, Any]) -> dict[str, Any]:
    import queue as stdlib_queue

    from distributed import Client, LocalCluster, Queue, as_completed

    n, payload = p["n"], "x" * p["size"]
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)  # fmt: skip
    client = Client(cluster)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        if contender == "events":
            inbox: stdlib_queue.SimpleQueue[Any] = stdlib_queue.SimpleQueue()
            client.subscribe_topic("bench", inbox.put)
            client.submit(_send_events, "bench", n, payload)
            for _ in range(n):
                inbox.get(timeout=120)
        elif contender == "queue":
            q = Queue("bench", client=client)
            client.submit(_send_queue, "bench", n, payload)
            got = 0
            while got < n:
                batch = q.get(batch=True)
                got += len(batch)
                if not batch:
                    time.sleep(0.001)
        else:  # one task per result (what DaskScheduler does not do)
            futures = client.map(_one_result, range(n), payload=payload, pure=False)
            for _ in as_completed(futures, with_results=True):
                pass
        return {"wall": time.perf_counter() - t0, "client_cpu": time.process_time() - c0}
    finally:
        client.close()
        cluster.close()


def section_transport(n: int) -> None:
    size = 2500
    print(f"3. {n} results of {size} bytes from a worker task to the client (LocalCluster, 1 worker; "
          f"includes about 0.1 s of task start)")  # fmt: skip
    for contender, label in (
        ("events", "Dask events (log_event / subscribe_topic)"),
        ("queue", "distributed.Queue (put / get(batch=True))"),
        ("tasks", "a task per result (client.map + as_completed)"),
    ):
        r = run_worker(__file__, f"transport-{contender}", {"n": n, "size": size}, timeout=600)
        if "error" in r:
            print(f"  {label:<44} ERROR {r['error']}")
            continue
        print(f"  {label:<44} {r['wall']:6.2f} s  {n / r['wall']:7.0f} per s  "
              f"client CPU {r['client_cpu'] / n * 1e6:5.0f} us per result")  # fmt: skip


def measure(contender: str, params: dict[str, Any]) -> dict[str, Any]:
    if contender.startswith("transport-"):
        return measure_transport(contender.removeprefix("transport-"), params)
    return measure_compare(contender, params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs (a smoke run)")
    parser.add_argument("--profile", action="store_true", help="cProfile of the client's main thread in 1(b)")
    parser.add_argument("--only", choices=["compare", "scale", "transport"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["compare", "scale", "transport"])
    load = os.getloadavg()[0]
    print(f"{machine()}; load average {load:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if "compare" in only:
        section_compare(400 if args.quick else 2000, args.profile)
    if "scale" in only:
        section_scale(400 if args.quick else 2000)
    if "transport" in only:
        section_transport(500 if args.quick else 2000)
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    if not worker_main(measure):
        main()
