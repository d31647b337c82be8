"""Per-run framework overhead: sequential one-turn runs, non-streamed and streamed.

Every contender runs the same one-turn conversation (system + user message, a 5-word answer)
against the same loopback server, one run after another on one event loop. The figure is the
time per run (median over rounds); the ratio is to raw httpx2, the floor.

Targets (issue 3): ours <= 2x raw, and faster than every peer.

    benchmarks/.peers-venv/bin/python benchmarks/bench_overhead.py [--quick] [--only raw,ours]
    benchmarks/.peers-venv/bin/python benchmarks/bench_overhead.py --profile [--stream]
    python benchmarks/bench_overhead.py --only raw,ours,ours-otel-idle,ours-otel   # OpenTelemetry's cost
    python benchmarks/bench_overhead.py --reps 5 --only raw,ours,ours-base   # a busy machine: alternated
    python benchmarks/bench_overhead.py --same-process   # raw, ours, ours-norec in one process, alternated slices

`--reps N` runs every contender N times, alternated (raw, ours, ..., raw, ours, ...), each time in
a fresh process, and reports for each figure the median over the repetitions, and each ratio to
raw as the median of the ratios within a repetition (contenders measured a few seconds apart):
on a shared machine whose load moves, one pass per contender can put the load on one of them.

`--same-process` runs raw, ours and ours-norec in one process on one event loop, in alternated
slices of runs (the order rotated each round), and reports the median per run and the median of
the per-round ratios to raw: fresh processes of the same code differ by tens of percent on a
shared VM (memory layout, the core they land on), which `--reps` only averages out. No peers and
no `ours-base` (another tree cannot be imported beside this one): run it again with
``PYTHONPATH=<the other tree>`` for the same figures of that tree.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402


def measure(contender: str, params: dict[str, Any]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        runner = c.make(contender, params["url"])
        out: dict[str, Any] = {}
        for stream in (False, True):
            key = "stream" if stream else "json"
            for _ in range(params["warmup"]):
                await runner.run(stream=stream, tools=False)
            rounds, cpu = [], []
            for _ in range(params["rounds"]):
                t0, p0 = time.perf_counter(), time.process_time()
                for _ in range(params["n"]):
                    text = await runner.run(stream=stream, tools=False)
                rounds.append((time.perf_counter() - t0) / params["n"])
                cpu.append((time.process_time() - p0) / params["n"])
            if text.count("token") != params["words"]:
                raise RuntimeError(f"{contender} answered {text[:60]!r}")
            out[key] = statistics.median(rounds)
            out[key + "_cpu"] = statistics.median(cpu)
            out[key + "_rounds"] = rounds
        await runner.close()
        return out

    return asyncio.run(go())


def main() -> None:
    args = c.parse_args(
        __doc__,
        lambda p: (
            p.add_argument("--profile", action="store_true", help="cProfile ours in this process instead"),
            p.add_argument("--stream", action="store_true", help="with --profile: the streamed run"),
            p.add_argument("--reps", type=int, default=1, help="alternated repetitions per contender (medians)"),
            p.add_argument("--same-process", action="store_true", help="raw, ours, ours-norec in one process"),
        ),
    )
    words = 5
    with c.Server("text", words=words) as server:
        if args.profile:
            c.profile(c.make("ours", server.url), stream=args.stream, tools=False, n=300 if args.quick else 2000)
            return
        params = {"url": server.url, "words": words, "warmup": 20 if args.quick else 100,
                  "n": 50 if args.quick else 300, "rounds": 3 if args.quick else 7}  # fmt: skip
        if args.same_process:
            rounds = 5 if args.quick else 15
            print(c.header(f"bench_overhead --same-process: {rounds} rounds of alternated slices of 200 runs"))
            # As each worker does (`_common.run_worker`): a fresh working folder, so the history
            # store (`.openstackai_nb/` in the working directory) starts empty, outside the repo.
            with tempfile.TemporaryDirectory(prefix="openstackai_nb_bench_") as cwd:
                os.chdir(cwd)
                out = asyncio.run(_same_process(server.url, rounds, 200, params["warmup"]))
            print(_same_process_table(out))
            return
        passes = [{name: c.run_worker(__file__, name, params) for name in args.contenders} for _ in range(args.reps)]
    results = _medians(passes)
    reps = f", {args.reps} alternated repetitions, medians" if args.reps > 1 else ""
    print(
        c.header(
            f"bench_overhead: sequential one-turn runs ({params['rounds']} rounds x {params['n']} runs, median{reps})"
        )
    )
    rows = []
    for name, r in results.items():
        if "error" in r:
            rows.append([name, "error (below)"] + [""] * 7)
            continue
        ratio = {k: _ratio(passes, name, k) for k in ("json", "stream", "json_cpu", "stream_cpu")}
        rows.append([
            name, r["json"] * 1e3, ratio["json"], r["json_cpu"] * 1e3, ratio["json_cpu"],
            r["stream"] * 1e3, ratio["stream"], r["stream_cpu"] * 1e3, ratio["stream_cpu"], r["peak_rss_mb"],
        ])  # fmt: skip
    cols = ["contender", "non-streamed ms", "x raw", "CPU ms", "x raw", "streamed ms", "x raw", "CPU ms", "x raw",
            "peak RSS MB"]  # fmt: skip
    print(c.table("per run (wall time; client process CPU time)", cols, rows))
    for name, r in results.items():
        if "error" in r:
            print(f"\n{name} failed: {r['error']}")
    ok = {n: r for n, r in results.items() if "error" not in r}
    for name in ("ours-base", *c.EXTRA):  # before/after a change; OpenTelemetry idle and emitting
        if name in ok and "ours" in ok:
            figures = ", ".join(
                f"{k} {_ratio(passes, name, k, 'ours'):.2f}x (CPU {_ratio(passes, name, k + '_cpu', 'ours'):.2f}x)"
                for k in ("json", "stream")
            )
            print(f"{name} per run vs ours: {figures}")
    if "raw" in ok:
        print()
        for ours in ("ours", "ours-nohist", "ours-norec"):
            if ours not in ok:
                continue
            for key in ("json", "stream"):
                print(c.verdict(_ratio(passes, ours, key), 2.0, f"{ours} {key} <= 2x raw"))
                peers = [p for p in ("agents", "pydantic-ai") if p in ok]
                if peers:
                    fastest = min(ok[p][key] for p in peers)
                    print(c.verdict(ok[ours][key] / fastest, 1.0, f"{ours} {key} faster than every peer (x fastest)"))


async def _same_process(url: str, rounds: int, n: int, warmup: int) -> dict[str, dict[str, list[float]]]:
    """Per contender and figure, the per-run time of each slice (wall; process CPU, the history's threads too)."""
    from openstackai_nb.runner.observers import default_observers, set_default_observers

    raw, ours = c.make("raw", url), c.make("ours", url)
    observers = default_observers()
    contenders: dict[str, tuple[c.Contender, tuple[Any, ...] | None]] = {
        "raw": (raw, None), "ours": (ours, observers), "ours-norec": (ours, ())
    }  # fmt: skip
    out: dict[str, dict[str, list[float]]] = {name: {} for name in contenders}
    try:
        for stream in (False, True):
            key = "stream" if stream else "json"
            for name, (contender, obs) in contenders.items():
                if obs is not None:
                    set_default_observers(obs)
                for _ in range(warmup):
                    await contender.run(stream=stream, tools=False)
                out[name][key], out[name][key + "_cpu"] = [], []
            for r in range(rounds):
                names = list(contenders)
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    contender, obs = contenders[name]
                    if obs is not None:
                        set_default_observers(obs)
                    t0, p0 = time.perf_counter(), time.process_time()
                    for _ in range(n):
                        await contender.run(stream=stream, tools=False)
                    out[name][key].append((time.perf_counter() - t0) / n)
                    out[name][key + "_cpu"].append((time.process_time() - p0) / n)
    finally:
        set_default_observers(None)
        await raw.close()
        await ours.close()
    return out


def _same_process_table(out: dict[str, dict[str, list[float]]]) -> str:
    keys = ("json", "json_cpu", "stream", "stream_cpu")
    rows = []
    for name, figures in out.items():
        row: list[Any] = [name]
        for key in keys:
            per_round = [a / b for a, b in zip(figures[key], out["raw"][key], strict=True)]
            row += [statistics.median(figures[key]) * 1e3, statistics.median(per_round)]
        rows.append(row)
    cols = ["contender", "non-streamed ms", "x raw", "CPU ms", "x raw", "streamed ms", "x raw", "CPU ms", "x raw"]
    title = "per run (wall; process CPU), medians of the slices; x raw: median of the per-round ratios"
    return c.table(title, cols, rows)


_FIGURES = ("json", "stream", "json_cpu", "stream_cpu", "peak_rss_mb")


def _medians(passes: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each contender's figures, the median over the passes (an error in any pass: that error)."""
    out: dict[str, dict[str, Any]] = {}
    for name in passes[0]:
        runs = [p[name] for p in passes]
        failed = next((r for r in runs if "error" in r), None)
        out[name] = failed or {k: statistics.median(r[k] for r in runs) for k in _FIGURES}
    return out


def _ratio(passes: list[dict[str, dict[str, Any]]], name: str, key: str, to: str = "raw") -> float:
    """`name`'s figure over `to`'s, the median of the ratios within each pass (nan without `to`)."""
    ratios = [
        p[name][key] / p[to][key] for p in passes if "error" not in p[name] and "error" not in p.get(to, {"error": 1})
    ]
    return statistics.median(ratios) if ratios else float("nan")


if __name__ == "__main__":
    if not c.worker_main(measure):
        main()
