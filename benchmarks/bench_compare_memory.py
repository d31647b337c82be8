"""compare() memory: peak and retained RSS of the client for grids of 10,000 to 100,000 runs.

    .venv/bin/python benchmarks/bench_compare_memory.py [--quick] [--sizes 10000,40000]
        [--scheduler local|dask] [--base PATH] [--concurrency 64] [--repeat N]

Each grid runs in a fresh process (its own working folder, so the history file starts empty, as
a user's kernel would have it): the agent is the offline scripted model with one tool (two turns
and a tool call per run, the shape of a real run), `compare(agent, cases, progress=False)` with
the history on. The worker prints:

- rss0: resident memory after the imports and a warm-up compare of 200 runs (the baseline);
- peak: the process's peak resident memory (VmHWM) over the whole compare;
- frame: the DataFrame's own size (`memory_usage(deep=True)`);
- retained: resident memory after `del df; gc.collect()`, less rss0 (what the grid leaves behind);
- wall: seconds of the compare() call; CPU: the process's CPU seconds meanwhile (all threads:
  on a loaded machine a steadier measure of the work than wall time).

With `--base PATH` (a checkout of another commit, e.g. `git worktree add --detach /tmp/base main`)
every size is measured twice in one invocation, for that tree and this one: before/after figures.
Targets (issue 25): a 100,000-run grid with peak RSS under 300 MB and under 50 MB retained.
`--scheduler dask` runs the grid on a LocalCluster (2 worker processes) whose scheduler lives in
the client's process, as `DaskScheduler()` starts it; the client's memory is measured as above,
and "workers peak" is the larger of the two worker processes' peak resident memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _status(field: str) -> float:
    """A /proc/self/status figure in MB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    """On a Dask worker: its process's peak resident memory in MB."""
    return _status("VmHWM")


def lookup(key: str) -> str:
    """Look up the value stored under a key."""
    return f"value of {key}"


def worker(size: int, scheduler: str, concurrency: int) -> dict[str, Any]:
    import pandas  # noqa: F401 - imported before the baseline, as in a notebook that uses it

    from openstackai_nb import Agent, compare

    agent = Agent(name="Bench", instructions="You are a helpful assistant.", tools=[lookup], model="scripted")
    cases = [f"What is the value of key{i}? Use the lookup tool." for i in range(size)]
    sched: Any = None
    cluster: Any = None
    if scheduler == "dask":
        import distributed

        from openstackai_nb.comparison import DaskScheduler

        cluster = distributed.LocalCluster(
            host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        sched = DaskScheduler(distributed.Client(cluster))
    warm = compare(agent, cases[:200], progress=False, concurrency=concurrency, scheduler=sched)
    assert (warm["status"] == "COMPLETED").all(), warm["error"].dropna().head()
    del warm
    gc.collect()
    rss0 = _status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    df = compare(agent, cases, progress=False, concurrency=concurrency, scheduler=sched)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status("VmHWM")
    after_compare = _status("VmRSS")
    assert len(df) == size and (df["status"] == "COMPLETED").all(), df["error"].dropna().head()
    frame = float(df.memory_usage(deep=True).sum()) / 2**20
    del df
    gc.collect()
    retained = _status("VmRSS") - rss0
    workers_peak = None
    if cluster is not None:
        workers_peak = round(max(sched.client.run(_peak_mb).values()), 1)
        sched.client.close()
        cluster.close()
    return {
        "workers_peak": workers_peak,
        "runs": size,
        "rss0": round(rss0, 1),
        "peak": round(peak, 1),
        "after": round(after_compare, 1),
        "frame": round(frame, 1),
        "retained": round(retained, 1),
        "wall": round(wall, 1),
        "cpu": round(cpu, 1),
        "runs_per_s": round(size / wall),
    }


def run_one(tree: Path, size: int, scheduler: str, concurrency: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("OPENSTACKAI_NB_HISTORY", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    params = json.dumps({"size": size, "scheduler": scheduler, "concurrency": concurrency})
    with tempfile.TemporaryDirectory(prefix="openstackai_nb_cmpmem_") as cwd:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", params]
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-4:]
        return {"runs": size, "error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="grids of 2,000 and 5,000 runs: a smoke test")
    parser.add_argument("--sizes", default="", help="comma-separated grid sizes (default 10000,40000,100000)")
    parser.add_argument("--scheduler", choices=["local", "dask"], default="local")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--base", default="", help="a checkout of another commit to measure beside this tree")
    parser.add_argument("--repeat", type=int, default=1, help="measure each size (and tree) this many times")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        params = json.loads(args.worker)
        print(json.dumps(worker(params["size"], params["scheduler"], params["concurrency"])), flush=True)
        return
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    else:
        sizes = [2_000, 5_000] if args.quick else [10_000, 40_000, 100_000]
    trees = [("this tree", ROOT)]
    if args.base:
        trees.insert(0, ("base", Path(args.base).resolve()))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"compare() memory, {args.scheduler} scheduler, concurrency {args.concurrency}")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average {load}")
    print("MB: rss0 after warm-up, peak (VmHWM), frame (the DataFrame), retained after del df + gc.collect()\n")
    dask = args.scheduler == "dask"
    print(
        "| tree | runs | rss0 MB | peak MB | frame MB | retained MB | wall s | CPU s | runs/s |"
        + (" workers peak MB |" * dask)
    )
    print(
        "|------|-----:|--------:|--------:|---------:|------------:|-------:|------:|-------:|"
        + ("----------------:|" * dask)
    )
    for size in sizes:
        for _ in range(args.repeat):
            for name, tree in trees:
                r = run_one(tree, size, args.scheduler, args.concurrency)
                if "error" in r:
                    print(f"| {name} | {size:,} | error: {r['error']} |", flush=True)
                    continue
                print(
                    f"| {name} | {size:,} | {r['rss0']} | {r['peak']} | {r['frame']} | {r['retained']} | "
                    f"{r['wall']} | {r.get('cpu')} | {r['runs_per_s']} |" + (f" {r.get('workers_peak')} |" * dask),
                    flush=True,
                )
    print("\nTargets (issue 25): 100,000 runs with peak under 300 MB and under 50 MB retained.")


if __name__ == "__main__":
    main()
