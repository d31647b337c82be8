"""Concurrent two-turn runs: wall time and peak memory of 300 runs started at once.

Each run is a tool round trip: the model calls `lookup(key="x")`, the tool runs, the model
answers with text. 300 such runs are started together with `asyncio.gather` on one event loop,
in a fresh process per contender. Wall time per batch is the median over rounds (after one
warm-up batch); peak memory is the process's VmHWM after its first batch (imports included)
and after all batches.

Targets (issue 3): wall time <= 1.5x raw httpx2 and faster than every peer; peak memory
<= 1.5x a raw-httpx2 process doing the same.

    benchmarks/.peers-venv/bin/python benchmarks/bench_concurrency.py [--quick] [--stream] [--runs 300]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402


def measure(contender: str, params: dict[str, Any]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        runner = c.make(contender, params["url"])
        stream, n = params["stream"], params["runs"]
        out: dict[str, Any] = {"rss_setup_mb": c.peak_rss_mb()}

        cpu: list[float] = []

        async def batch() -> float:
            t0, p0 = time.perf_counter(), time.process_time()
            texts = await asyncio.gather(*(runner.run(stream=stream, tools=True) for _ in range(n)))
            elapsed = time.perf_counter() - t0
            cpu.append(time.process_time() - p0)
            bad = [t for t in texts if t.count("token") != params["words"]]
            if bad:
                raise RuntimeError(f"{contender}: {len(bad)} runs answered e.g. {bad[0][:60]!r}")
            return elapsed

        out["first"] = await batch()  # warm-up: opens the connections
        out["rss_first_mb"] = c.peak_rss_mb()
        rounds = [await batch() for _ in range(params["rounds"])]
        out["wall"] = statistics.median(rounds)
        out["cpu"] = statistics.median(cpu[1:])
        out["rounds"] = rounds
        await runner.close()
        return out

    return asyncio.run(go())


def main() -> None:
    args = c.parse_args(
        __doc__,
        lambda p: (
            p.add_argument("--stream", action="store_true", help="streamed (SSE) runs instead of JSON answers"),
            p.add_argument("--runs", type=int, default=300, help="concurrent runs per batch (default 300)"),
        ),
    )
    words = 5
    with c.Server("tool2", words=words) as server:
        params = {"url": server.url, "words": words, "stream": args.stream, "runs": args.runs,
                  "rounds": 2 if args.quick else 5}  # fmt: skip
        results = {name: c.run_worker(__file__, name, params) for name in args.contenders}
    mode = "streamed" if args.stream else "non-streamed"
    print(c.header(f"bench_concurrency: {args.runs} concurrent two-turn runs, {mode} "
                   f"(median of {params['rounds']} batches after a warm-up batch)"))  # fmt: skip
    raw = results.get("raw", {})
    rows = []
    for name, r in results.items():
        if "error" in r:
            rows.append([name, "error (below)"])
            continue
        rows.append([
            name, r["wall"] * 1e3, r["wall"] / raw["wall"] if "wall" in raw else float("nan"),
            r["cpu"] * 1e3, r["cpu"] / raw["cpu"] if "cpu" in raw else float("nan"),
            r["first"] * 1e3, r["rss_first_mb"],
            r["rss_first_mb"] / raw["rss_first_mb"] if "rss_first_mb" in raw else float("nan"), r["peak_rss_mb"],
        ])  # fmt: skip
    cols = [
        "contender",
        "wall ms / batch",
        "x raw",
        "client CPU ms",
        "x raw",
        "first batch ms",
        "peak RSS MB (1 batch)",
        "x raw",
        "peak RSS MB (end)",
    ]
    print(c.table("per batch", cols, rows))
    for name, r in results.items():
        if "error" in r:
            print(f"\n{name} failed: {r['error']}")
    ok = {n: r for n, r in results.items() if "error" not in r}
    if "raw" in ok:
        print()
        peers = [p for p in ("agents", "pydantic-ai") if p in ok]
        for ours in ("ours", "ours-nohist", "ours-norec"):
            if ours not in ok:
                continue
            print(c.verdict(ok[ours]["wall"] / ok["raw"]["wall"], 1.5, f"{ours} wall <= 1.5x raw"))
            if peers:
                fastest = min(ok[p]["wall"] for p in peers)
                print(c.verdict(ok[ours]["wall"] / fastest, 1.0, f"{ours} faster than every peer (x fastest)"))
            print(c.verdict(ok[ours]["rss_first_mb"] / ok["raw"]["rss_first_mb"], 1.5, f"{ours} peak RSS <= 1.5x raw"))


if __name__ == "__main__":
    if not c.worker_main(measure):
        main()
