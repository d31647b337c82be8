"""The response cache: a grid re-run from the cache vs cold, and the CPU cost of one lookup.

    .venv/bin/python benchmarks/bench_cache.py [--quick] [--pairs N] [--concurrency N]

Prints:
1. `compare()` of a 1,000-pair grid (5 agents x 200 inputs) against the loopback server
   (tests/_server.py in its own process) with 50 ms latency per request: cold (`cache=True`, an
   empty cache: every pair asks the server and is stored), then the same grid again, fully
   cached (no request reaches the server), at compare's default concurrency (8) and at 50;
   beside it, the DataFrame of the same 1,000 runs built from the history alone
   (`history.to_dataframe(cost=True)`), the floor of any re-run, and the grid taken whole from
   history by `compare(..., resume=True)` (no run at all). Target (issue 22): the cached re-run
   >= 20x faster than the cold one.
2. the CPU cost of the cache per model call: the request's key (`models.cached.request_key`, a
   canonical JSON and a SHA-256), a lookup that hits (SQLite SELECT by key, JSON of the deltas),
   a lookup that misses, and a store (INSERT in WAL mode).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import Server, machine  # noqa: E402

from openstackai_nb import Agent, RunHistory, compare  # noqa: E402
from openstackai_nb import store as store_mod  # noqa: E402


def bench_grid(pairs: int, concurrency: int, latency: float) -> dict[str, float]:
    import openstackai_nb.cache as cache

    with Server(mode="text", words=20, latency=latency) as server:
        os.environ["OPENAI_BASE_URL"] = server.url
        os.environ["OPENAI_API_KEY"] = "sk-bench-0000000000000000"
        folder = Path(tempfile.mkdtemp(prefix="bench-cache-"))
        os.environ["OPENSTACKAI_NB_HISTORY"] = str(folder / "history.sqlite")
        history = RunHistory(folder / "history.sqlite")
        store_mod.set_history(history)
        cache.clear()
        n_agents = 5
        agents = [Agent(name=f"agent-{i}", instructions=f"Style {i}.", model="test-model") for i in range(n_agents)]
        inputs = [f"question {i}" for i in range(pairs // n_agents)]
        t0 = time.perf_counter()
        cold = compare(agents, inputs, concurrency=concurrency, progress=False, cache=True)
        t_cold = time.perf_counter() - t0
        assert (cold["status"] == "COMPLETED").all() and cold["cached_calls"].sum() == 0
        t0 = time.perf_counter()
        warm = compare(agents, inputs, concurrency=concurrency, progress=False, cache=True)
        t_warm = time.perf_counter() - t0
        assert (warm["cached_calls"] == 1).all(), warm["cached_calls"].value_counts()
        assert warm["final_output"].tolist() == cold["final_output"].tolist()
        t0 = time.perf_counter()
        df = history.to_dataframe(cost=True)
        t_history = time.perf_counter() - t0
        assert len(df) == 2 * pairs
        t0 = time.perf_counter()
        resumed = compare(agents, inputs, concurrency=concurrency, progress=False, resume=True)
        t_resume = time.perf_counter() - t0
        assert resumed["resumed"].all() and resumed["final_output"].tolist() == cold["final_output"].tolist()
        entries = cache.stats().entries
    return {"cold": t_cold, "warm": t_warm, "history": t_history, "resume": t_resume, "entries": entries}


def bench_lookup(n: int) -> dict[str, float]:
    from openstackai_nb.cache._file import ResponseFile
    from openstackai_nb.messages import Message, ToolDefinition
    from openstackai_nb.models import OpenAIChatModel
    from openstackai_nb.models.cached import request_key

    model = OpenAIChatModel("gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="sk-bench-0000000000000000")
    messages = [
        Message(role="system", content="You are a helpful assistant. " * 10),
        Message(role="user", content="What is the value of x? Use the lookup tool. " * 3),
    ]
    tools = [
        ToolDefinition(
            name="lookup",
            description="Look up the value stored under a key.",
            parameters={"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
        )
    ]
    deltas = [{"kind": "text", "text": f"token{i} "} for i in range(40)]
    deltas += [{"kind": "finish", "text": "stop"}, {"kind": "usage", "prompt_tokens": 60, "completion_tokens": 40}]
    f = ResponseFile(Path(tempfile.mkdtemp(prefix="bench-lookup-")) / "cache.sqlite", 10**9)
    keys = [request_key(model, messages, tools, settings={"temperature": 0.2}, repeat=i) for i in range(n)]

    def per_call(fn: object, count: int) -> float:
        t0 = time.process_time()
        for i in range(count):
            fn(i)  # type: ignore[operator]
        return (time.process_time() - t0) / count * 1e6

    out = {
        "key": per_call(lambda i: request_key(model, messages, tools, settings={"temperature": 0.2}, repeat=i), n),
        "store": per_call(lambda i: f.put(keys[i], deltas, "gpt-4o-mini"), n),
        "hit": per_call(lambda i: f.get(keys[i]), n),
    }
    other = ResponseFile(f.path, 10**9)  # another process's view: nothing in its memo, each key read once
    out["file_hit"] = per_call(lambda i: other.get(keys[i]), n)
    out["miss"] = per_call(lambda i: f.get("0" * 63 + str(i % 10)), n)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 pairs, fewer lookups")
    parser.add_argument("--pairs", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    pairs = args.pairs or (200 if args.quick else 1000)
    print(f"# bench_cache.py ({machine()})")
    print(f"\n## 1. compare() of {pairs} pairs, {args.latency * 1000:.0f} ms per request: cold vs fully cached\n")
    print(
        "| concurrency | cold | cached re-run | speed-up | DataFrame from history alone | cached / history "
        "| compare(resume=True) | cold / resumed |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for concurrency in (8, 50):
        r = bench_grid(pairs, concurrency, args.latency)
        speedup = r["cold"] / r["warm"]
        print(
            f"| {concurrency} | {r['cold']:.2f} s | {r['warm']:.3f} s | {speedup:.1f}x "
            f"{'(target >= 20x: met)' if speedup >= 20 else '(target >= 20x: NOT met)'} "
            f"| {r['history'] * 1000:.0f} ms ({2 * pairs} runs) | {r['warm'] / r['history']:.1f}x "
            f"| {r['resume']:.3f} s | {r['cold'] / r['resume']:.0f}x |"
        )
    n = 2000 if args.quick else 20000
    lk = bench_lookup(n)
    print(f"\n## 2. CPU per model call (process time, mean of {n})\n")
    print("| step | us per call |")
    print("|---|---:|")
    for name, label in (
        ("key", "request key (canonical JSON + SHA-256)"),
        ("hit", "lookup, hit in this process's memo (answers it read or wrote)"),
        ("file_hit", "lookup, hit from the file (SELECT + JSON of 42 deltas)"),
        ("miss", "lookup, miss"),
        ("store", "store (INSERT, WAL)"),
    ):
        print(f"| {label} | {lk[name]:.1f} |")
    print(f"\nA hit costs {lk['key'] + lk['hit']:.0f} us of CPU per model call (key + lookup; "
          f"{lk['key'] + lk['file_hit']:.0f} us from the file); a miss adds "
          f"{lk['key'] + lk['miss'] + lk['store']:.0f} us to a call that waits for the network.")  # fmt: skip


if __name__ == "__main__":
    main()
