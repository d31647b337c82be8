"""How long summarize() and paired() take on a comparison of 2 agents x 500 cases x 5 repeats (issue 21).

A synthetic compare() table (5,000 runs: agent, case_id, repeat, status, score, cost_usd,
elapsed_time; about 3% of the runs FAILED) is built once; each statistic is timed on it several
times and the median and best wall times are printed (target: < 1 s each). No server is needed:
the statistics read a finished table, so the runs' origin does not matter.

    .venv/bin/python benchmarks/bench_evaluate.py           # 7 timings each
    .venv/bin/python benchmarks/bench_evaluate.py --quick   # 2 timings each
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 timings per statistic instead of 7")
    args = parser.parse_args()
    times = 2 if args.quick else 7

    from openstackai_nb import paired, summarize

    df = synthetic()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# bench_evaluate: {len(df)} runs (2 agents x 500 cases x 5 repeats), {times} timings each")
    print(f"# python {platform.python_version()}, {os.cpu_count()} cores, load average {load:.1f}")
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


if __name__ == "__main__":
    main()
