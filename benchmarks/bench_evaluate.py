"""How long summarize() and paired() take on a comparison of 2 agents x 500 cases x 5 repeats (issue 21).

A synthetic compare() table (5,000 runs: agent, case_id, repeat, status, score, cost_usd,
elapsed_time; about 3% of the runs FAILED) is built once; each statistic is timed on it several
times and the median and best wall times are printed (target: < 1 s each). No server is needed:
the statistics read a finished table, so the runs' origin does not matter.

`--grid` makes the table for real, the scale check of issue 21: `compare()` of 2 agents x 500
`Case`s x 5 repeats (5,000 runs, seed sent per repeat, a scorer) against the loopback server
(tests/_server.py in its own process, as the other benchmarks start it), history on (a file in a
temporary folder); it prints the grid's wall time, then times summarize and paired on that frame.

    .venv/bin/python benchmarks/bench_evaluate.py           # 7 timings each
    .venv/bin/python benchmarks/bench_evaluate.py --quick   # 2 timings each
    .venv/bin/python benchmarks/bench_evaluate.py --grid    # the 5,000-run grid first (~1-2 min)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def synthetic(agents: int = 2, cases: int = 500, repeats: int = 5, seed: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = agents * cases * repeats
    agent = np.repeat([f"agent-{i}" for i in range(agents)], cases * repeats)
    case = np.tile(np.repeat([f"case-{j:04d}" for j in range(cases)], repeats), agents)
    repeat = np.tile(np.arange(repeats), agents * cases)
    difficulty = np.tile(np.repeat(rng.uniform(0.2, 0.9, cases), repeats), agents)
    skill = np.repeat(np.linspace(0.0, 0.1, agents), cases * repeats)
    failed = rng.random(n) < 0.03
    score = (rng.random(n) < difficulty + skill).astype(float)
    score[failed] = np.nan
    return pd.DataFrame(
        {
            "agent": agent,
            "case_id": case,
            "repeat": repeat,
            "status": np.where(failed, "FAILED", "COMPLETED"),
            "score": score,
            "cost_usd": rng.uniform(1e-4, 1e-3, n),
            "elapsed_time": rng.gamma(2.0, 0.5, n),
        }
    )


def timed(fn: Callable[[], object], times: int) -> tuple[float, float]:
    fn()  # warm: imports, caches
    walls = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), min(walls)


def _right(result: Any, case: Any) -> bool:
    """A reproducible right/wrong per (agent, case, repeat): agent-1 right ~80% of the time, agent-0 ~70%.

    The loopback server gives every run the same answer, so the score is drawn from the run's
    identity instead (a CRC, no randomness), with a per-case difficulty shared by both agents.
    """
    repeat = result.metadata.get("repeat", 0)
    skill = 10 if result.agent_name == "agent-1" else 0
    difficulty = zlib.crc32(case.case_id.encode()) % 40  # 0..39: some cases are harder for both
    draw = zlib.crc32(f"{case.case_id}/{repeat}".encode()) % 100
    return draw < 55 + difficulty // 2 + skill


def grid(cases: int, repeats: int, concurrency: int) -> tuple[Any, float]:
    """compare() of 2 agents x `cases` x `repeats` against the loopback server; the frame and its wall time."""
    import tempfile

    from _common import Server

    from openstackai_nb import Agent, Case, RunHistory, compare, store
    from openstackai_nb.models import OpenAIChatModel

    folder = Path(tempfile.mkdtemp(prefix="bench-evaluate-"))
    store.set_history(RunHistory(folder / "history.sqlite"))
    with Server(mode="text", words=5) as server:
        model = OpenAIChatModel("test-model", base_url=server.url, api_key="sk-bench-0000000000000000")
        agents = [Agent(name=f"agent-{i}", instructions=f"Style {i}.", model=model) for i in range(2)]
        items = [Case(f"What is {i} + {i + 7}?", expected=str(2 * i + 7), id=f"case-{i:04d}") for i in range(cases)]
        t0 = time.perf_counter()
        df = compare(agents, items, repeats=repeats, seed=1, concurrency=concurrency, score=_right, progress=False)
        wall = time.perf_counter() - t0
    return df, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 timings per statistic instead of 7")
    parser.add_argument("--grid", action="store_true", help="run the grid with compare() against the loopback server")
    parser.add_argument("--cases", type=int, default=500, help="--grid: cases (default 500)")
    parser.add_argument("--repeats", type=int, default=5, help="--grid: repeats (default 5)")
    parser.add_argument("--concurrency", type=int, default=8, help="--grid: compare()'s concurrency (default 8)")
    args = parser.parse_args()
    times = 2 if args.quick else 7

    from openstackai_nb import paired, summarize

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if args.grid:
        df, wall = grid(args.cases, args.repeats, args.concurrency)
        shape = f"2 agents x {args.cases} cases x {args.repeats} repeats, compare() against the loopback server"
    else:
        df, wall = synthetic(), None
        shape = "2 agents x 500 cases x 5 repeats, synthetic"
    print(f"# bench_evaluate: {len(df)} runs ({shape}), {times} timings each")
    print(f"# python {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f} at the start")
    if wall is not None:
        done = int((df["status"] == "COMPLETED").sum())
        print(
            f"compare(): {wall:.1f} s for {len(df)} runs ({len(df) / wall:.0f} runs/s, concurrency "
            f"{args.concurrency}), {done} COMPLETED, mean score {df['score'].mean():.3f}"
        )
    cases: list[tuple[str, Callable[[], object]]] = [
        ("summarize (t, pass@1,5)", lambda: summarize(df, ks=(1, 5))),
        ("summarize (bootstrap, 10,000)", lambda: summarize(df, method="bootstrap", ks=(1, 5))),
        ("paired (bootstrap + 10,000 flips)", lambda: paired(df, "agent-1", "agent-0")),
        ("render summary HTML", lambda: summarize(df)._repr_html_()),
    ]
    print(f"{'statistic':<36}{'median s':>10}{'best s':>10}  target < 1 s")
    for name, fn in cases:
        median, best = timed(fn, times)
        print(f"{name:<36}{median:>10.3f}{best:>10.3f}  {'ok' if median < 1.0 else 'SLOW'}")
    if wall is not None:
        print(summarize(df, ks=(1, 5))[["n", "runs", "mean", "ci_low", "ci_high", "failures", "pass@1", "pass@5"]])
        print(
            paired(df, "agent-1", "agent-0")[
                ["n", "mean_diff", "ci_low", "ci_high", "p_value", "wins", "ties", "losses"]
            ]
        )


if __name__ == "__main__":
    main()
