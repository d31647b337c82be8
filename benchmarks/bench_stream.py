"""One long streamed answer: 20,000 tokens (SSE chunks) consumed as text deltas.

The server streams a 20,000-word answer, one word per SSE chunk (about 3 MB). Raw httpx2 reads
the lines and json.loads each chunk; ours consumes `Runner.run_stream` (str deltas); the peers
use their streaming APIs (openai-agents `run_streamed().stream_events()`, pydantic-ai
`run_stream().stream_text(delta=True)`). Time per answer is the median over rounds.

Target (issue 3): ours <= 2x raw.

    benchmarks/.peers-venv/bin/python benchmarks/bench_stream.py [--quick] [--tokens 20000]
    benchmarks/.peers-venv/bin/python benchmarks/bench_stream.py --profile
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
        await runner.run(stream=True, tools=False)  # warm-up: connection, imports, caches
        rounds, cpu = [], []
        for _ in range(params["rounds"]):
            t0, p0 = time.perf_counter(), time.process_time()
            text = await runner.run(stream=True, tools=False)
            rounds.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - p0)
            if text.count("token") != params["words"]:
                raise RuntimeError(f"{contender} got {text.count('token')} tokens, not {params['words']}")
        await runner.close()
        return {"wall": statistics.median(rounds), "cpu": statistics.median(cpu), "rounds": rounds}

    return asyncio.run(go())


def main() -> None:
    args = c.parse_args(
        __doc__,
        lambda p: (
            p.add_argument("--tokens", type=int, default=20000, help="words (SSE chunks) in the answer"),
            p.add_argument("--profile", action="store_true", help="cProfile ours in this process instead"),
        ),
    )
    with c.Server("text", words=args.tokens) as server:
        if args.profile:
            c.profile(c.make("ours", server.url), stream=True, tools=False, n=3 if args.quick else 10)
            return
        params = {"url": server.url, "words": args.tokens, "rounds": 3 if args.quick else 9}
        results = {name: c.run_worker(__file__, name, params) for name in args.contenders}
    print(c.header(f"bench_stream: one {args.tokens}-token streamed answer (median of {params['rounds']})"))
    raw = results.get("raw", {})
    rows = []
    for name, r in results.items():
        if "error" in r:
            rows.append([name, "error (below)"])
            continue
        rows.append([
            name, r["wall"] * 1e3, r["wall"] / raw["wall"] if "wall" in raw else float("nan"),
            r["cpu"] * 1e3, args.tokens / r["wall"] / 1e3, r["peak_rss_mb"],
        ])  # fmt: skip
    cols = ["contender", "wall ms", "x raw", "client CPU ms", "k tokens/s", "peak RSS MB"]
    print(c.table("per answer", cols, rows))
    for name, r in results.items():
        if "error" in r:
            print(f"\n{name} failed: {r['error']}")
    ok = {n: r for n, r in results.items() if "error" not in r}
    if "raw" in ok:
        print()
        for ours in ("ours", "ours-nohist", "ours-norec"):
            if ours in ok:
                print(c.verdict(ok[ours]["wall"] / ok["raw"]["wall"], 2.0, f"{ours} <= 2x raw"))


if __name__ == "__main__":
    if not c.worker_main(measure):
        main()
