"""Run history and compare(): recording cost, DataFrames of 100,000 runs, memory, compare throughput.

    .venv/bin/python benchmarks/bench_history.py [--quick] [--only record|dataframe|memory|compare]

Prints:
1. what recording a run costs: `RunHistory.add` at start + at end on a store file (WAL), and the
   same two-turn run through `Runner.run_async` with the history on vs no observers at all;
2. `to_dataframe()` (and the tool-call / turn tables) of 100,000 recorded runs;
3. memory per recorded run (Python heap and RSS growth of the recording process; bytes on disk);
4. `compare()` of 500 (agent, input) pairs against the loopback server (tests/_server.py in its own
   process) with 50 ms latency per request at concurrency 50, against the latency bound
   500 / 50 * 0.05 s * turns; beside it the same requests sent by hand with httpx2 (the floor of
   any client built on it) and over bare asyncio streams (what the machine allows).
Targets (issue 5): recording < 1 ms per run; to_dataframe of 100,000 runs < 1 s; compare within
1.3x of the latency bound.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import Server  # noqa: E402

from openstackai_nb import Agent, RunConfig, RunHistory, Runner  # noqa: E402
from openstackai_nb import store as store_mod  # noqa: E402
from openstackai_nb.runner.observers import set_default_observers  # noqa: E402


def lookup(key: str) -> str:
    """Look up the value stored under a key."""
    return f"value of {key}"


def sample_result():
    """A realistic finished run: two turns, one tool call, trace and messages."""
    store_mod.set_history(RunHistory(":memory:"))
    agent = Agent(name="Bench", instructions="You are a helpful assistant.", tools=[lookup], model="scripted")
    return Runner.run_sync(
        agent, "What is the value of X? Use the lookup tool.", config=RunConfig(metadata={"exp": "a"})
    )


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_record(tmp: Path, n: int) -> None:
    result = sample_result()
    h = RunHistory(tmp / "record.sqlite")
    for i in range(200):  # warm up
        result.run_id = f"run_warm{i:012x}"
        h.add(result, finished=False)
        h.add(result, finished=True)
    for wait in (True, False):
        per_run = []
        t_all = time.perf_counter()
        for i in range(n):
            result.run_id = f"run_{wait}{i:016x}"
            t0 = time.perf_counter()
            h.add(result, finished=False, wait=wait)
            h.add(result, finished=True, wait=wait)
            per_run.append(time.perf_counter() - t0)
        h.flush()
        total = time.perf_counter() - t_all
        how = "committed before returning (wait=True)" if wait else "handed to the writer thread (the run loop's way)"
        print(f"  RunHistory.add at start + end, {n} runs on a file store, {how}:")
        print(
            f"    caller's time per run: median {statistics.median(per_run) * 1e6:6.0f} us"
            f"  mean {statistics.fmean(per_run) * 1e6:6.0f} us  p95 {sorted(per_run)[int(0.95 * n)] * 1e6:6.0f} us;"
            f"  all committed after {total / n * 1e6:6.0f} us per run"
        )
    assert len(h) == 2 * n + 200

    # The same run end to end, history on vs no observers (alternating batches).
    agent = Agent(name="Bench", instructions="You are a helpful assistant.", tools=[lookup], model="scripted")
    store_mod.set_history(RunHistory(tmp / "runs.sqlite"))

    async def batch(k: int) -> float:
        t0 = time.perf_counter()
        for _ in range(k):
            await Runner.run_async(agent, "What is the value of X? Use the lookup tool.")
        return (time.perf_counter() - t0) / k

    async def main() -> tuple[float, float]:
        on, off = [], []
        await batch(50)
        for _ in range(10):
            previous = set_default_observers([])
            off.append(await batch(max(20, n // 20)))
            set_default_observers(previous)
            on.append(await batch(max(20, n // 20)))
        return statistics.median(on), statistics.median(off)

    on, off = asyncio.run(main())
    print("  a two-turn scripted run through Runner.run_async:")
    print(
        f"    history on {on * 1e6:7.0f} us   no observers {off * 1e6:7.0f} us"
        f"   recording adds {(on - off) * 1e6:5.0f} us"
    )


def bench_dataframe(tmp: Path, n: int) -> None:
    result = sample_result()
    h = RunHistory(tmp / f"df{n}.sqlite")
    t0 = time.perf_counter()
    batch = []
    for i in range(n):
        r = result.model_copy()
        r.run_id = f"run_{i:016x}"
        r.metadata = {"exp": f"e{i % 10}", "seed": i % 7}
        batch.append(r)
        if len(batch) == 10_000:
            h.add_many(batch)
            batch.clear()
    if batch:
        h.add_many(batch)
    load = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in tmp.glob(f"df{n}.sqlite*"))
    print(f"  {n:,} runs bulk-loaded in {load:.1f} s; store file {size / 1e6:.0f} MB ({size / n / 1e3:.1f} kB per run)")
    import pandas  # noqa: F401 - imported once, outside the timings

    times, cpu = [], []
    for _ in range(3):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        df = h.to_dataframe()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert len(df) == n
    print(
        f"  to_dataframe() of {n:,} runs: first {times[0]:.3f} s, then best {min(times[1:]):.3f} s"
        f" (CPU {min(cpu):.3f} s; {len(df.columns)} columns; pandas imported beforehand)"
    )
    for name in ("tool_calls_dataframe", "turns_dataframe"):
        t0 = time.perf_counter()
        frame = getattr(h, name)()
        print(f"  {name}(): {len(frame):,} rows in {time.perf_counter() - t0:.3f} s")
    t0 = time.perf_counter()
    sub = h.filter(metadata={"exp": "e3"}).to_dataframe()
    print(f"  filter(metadata=...).to_dataframe(): {len(sub):,} rows in {time.perf_counter() - t0:.3f} s")


def bench_memory(tmp: Path, n: int) -> None:
    result = sample_result()
    h = RunHistory(tmp / "mem.sqlite")
    for i in range(200):
        result.run_id = f"run_warm{i:012x}"
        h.add(result, finished=True)
    gc.collect()
    rss0 = rss_mb()
    tracemalloc.start()
    heap0 = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        result.run_id = f"run_{i:016x}"
        h.add(result, finished=False)
        h.add(result, finished=True)
    gc.collect()
    heap1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rss1 = rss_mb()
    import sqlite3

    with sqlite3.connect(tmp / "mem.sqlite") as conn:  # fold the WAL in, to count what stays on disk
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = sum(p.stat().st_size for p in tmp.glob("mem.sqlite*"))
    print(
        f"  {n:,} runs recorded: Python heap +{(heap1 - heap0) / n:.1f} bytes/run,"
        f" RSS +{(rss1 - rss0) * 1024 / n:.2f} kB/run"
    )
    print(f"  on disk: {size / (n + 200) / 1e3:.1f} kB per run (full RunResult JSON + scalar, tool-call and turn rows)")


async def bare_streams(url: str, pairs: int, concurrency: int) -> None:
    """The same streamed requests over bare asyncio streams: one keep-alive connection per slot,
    a minimal HTTP/1.1 exchange (the chunked body read to its last chunk), no parsing of the
    events. Not a client anyone should use: it shows what the machine and the loopback server
    allow when the client spends almost no CPU per request."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conns = [await asyncio.open_connection(u.hostname, u.port) for _ in range(concurrency)]
    todo = list(range(pairs))

    async def slot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while todo:
            i = todo.pop()
            message = {"role": "user", "content": f"question {i}"}
            body = json.dumps({"model": "test-model", "stream": True, "messages": [message]}).encode()
            writer.write(
                b"POST %s/chat/completions HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (u.path.encode(), u.netloc.encode(), len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break

    await asyncio.gather(*(slot(r, w) for r, w in conns))
    for _, w in conns:
        w.close()


def bench_compare(pairs: int, concurrency: int, latency: float, reps: int) -> None:
    import httpx2

    from openstackai_nb import compare
    from openstackai_nb.runner import loop as _sync

    with Server(mode="text", latency=latency) as server:
        os.environ["OPENAI_BASE_URL"] = server.url
        os.environ["OPENAI_API_KEY"] = "sk-bench-0000000000000000"
        n_agents = 5
        agents = [Agent(name=f"agent-{i}", model="test-model") for i in range(n_agents)]
        inputs = [f"question {i}" for i in range(pairs // n_agents)]
        bound = pairs / concurrency * latency * 1  # one turn per run
        limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=500)
        one_client = [httpx2.AsyncClient(limits=limits, timeout=60.0)]
        # The same pooling as ours (models/_http.py): clients of 4 requests in flight each.
        shards = [httpx2.AsyncClient(limits=limits, timeout=60.0) for _ in range(-(-concurrency // 4))]

        async def raw(clients: list[httpx2.AsyncClient]) -> None:
            # The floor: the same streamed requests by hand with pooled httpx2 clients.
            sem = asyncio.Semaphore(concurrency)
            headers = {"authorization": "Bearer sk-bench-0000000000000000"}
            free = list(range(len(clients))) * -(-concurrency // len(clients))

            async def one(prompt: str) -> None:
                body = {"model": "test-model", "stream": True, "messages": [{"role": "user", "content": prompt}]}
                async with sem:
                    slot = free.pop()
                    try:
                        async with clients[slot].stream(
                            "POST", server.url + "/chat/completions", json=body, headers=headers
                        ) as r:
                            async for _ in r.aiter_lines():
                                pass
                    finally:
                        free.append(slot)

            await asyncio.gather(*(one(q) for _ in agents for q in inputs))

        async def runner_only() -> None:
            # The same runs straight through Runner.run_async + gather, no compare, no history.
            sem = asyncio.Semaphore(concurrency)

            async def one(agent: Agent, prompt: str) -> None:
                async with sem:
                    await Runner.run_async(agent, prompt)

            await asyncio.gather(*(one(a, q) for a in agents for q in inputs))

        def run_compare(where: str) -> None:
            store_mod.set_history(RunHistory(tempfile.mkdtemp() + "/c.sqlite" if where == "file" else ":memory:"))
            df = compare(agents, inputs, concurrency=concurrency, progress=False)
            assert (df["status"] == "COMPLETED").all() and len(df) == pairs, df["error"].dropna().head()

        def without_history() -> None:
            previous = set_default_observers([])
            try:
                _sync.run_blocking(runner_only())
            finally:
                set_default_observers(previous)

        variants = {
            "bare asyncio streams": lambda: _sync.run_blocking(bare_streams(server.url, pairs, concurrency)),
            "raw httpx2, one client": lambda: _sync.run_blocking(raw(one_client)),
            f"raw httpx2, {len(shards)} clients": lambda: _sync.run_blocking(raw(shards)),
            "Runner.run_async, no history": without_history,
            "compare(), history on a file": lambda: run_compare("file"),
            "compare(), history in memory": lambda: run_compare("memory"),
        }
        compare(agents, inputs[: concurrency // n_agents + 1], concurrency=concurrency, progress=False)  # warm up
        _sync.run_blocking(raw(one_client))
        _sync.run_blocking(raw(shards))
        walls: dict[str, list[float]] = {name: [] for name in variants}
        cpus: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(reps):  # interleaved, so a busy moment of the machine hits every variant alike
            for name, fn in variants.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                walls[name].append(time.perf_counter() - t0)
                cpus[name].append(time.process_time() - c0)
        for client in one_client + shards:
            _sync.run_blocking(client.aclose())
        print(f"  {pairs} pairs ({n_agents} agents x {len(inputs)} inputs), concurrency {concurrency}, "
              f"{latency * 1e3:.0f} ms per request: latency bound {bound:.3f} s")  # fmt: skip
        floor = min(statistics.median(walls[name]) for name in list(variants)[1:3])
        for name, w in walls.items():
            best, med = min(w), statistics.median(w)
            cpu = statistics.median(cpus[name]) / pairs
            print(
                f"  {name:<30} best {best:6.3f} s  median {med:6.3f} s  -> {med / bound:5.2f}x the bound,"
                f" {med / floor:4.2f}x raw httpx2; client CPU {cpu * 1e3:5.2f} ms per run (medians of {reps})"
            )
        print(
            "  (the client's CPU per run times the runs is a second bound: one process runs Python on one core"
            " at a time, so a wall time under runs x CPU per run is impossible)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument(
        "--only",
        choices=["record", "dataframe", "memory", "compare"],
        action="append",
        help="run only these parts (repeatable); default: all",
    )
    args = parser.parse_args()
    parts = set(args.only or ["record", "dataframe", "memory", "compare"])
    print(f"Python {sys.version.split()[0]}, sqlite {__import__('sqlite3').sqlite_version}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "record" in parts:
            print("1. recording a run")
            bench_record(tmp, 500 if args.quick else 3000)
        if "dataframe" in parts:
            print("2. DataFrames")
            bench_dataframe(tmp, 10_000 if args.quick else 100_000)
        if "memory" in parts:
            print("3. memory per recorded run")
            bench_memory(tmp, 1000 if args.quick else 10_000)
    if "compare" in parts:
        print("4. compare() against the loopback server")
        bench_compare(100 if args.quick else 500, 10 if args.quick else 50, 0.05, 3 if args.quick else 5)
        if not args.quick:
            print("   the same at concurrency 10 (100 pairs): where the client's CPU is not the bound")
            bench_compare(100, 10, 0.05, 5)


if __name__ == "__main__":
    main()
