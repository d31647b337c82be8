"""What recording a run in the history costs each thread, and how many SQLite statements it takes.

    .venv/bin/python benchmarks/bench_record.py [--quick] [--base /path/to/other/checkout]

For each tree (this one, and with ``--base`` or OPENSTACKAI_NB_BASE_TREE another checkout of the
repository, e.g. main at the branch point: `git archive <commit> | tar -x -C /tmp/base`), each
in fresh worker processes, alternated so a busy moment of the machine hits both alike:

- sequential: two-turn scripted runs (one tool call) through `Runner.run_async`, one after the
  other, each waiting for its commit (as `run_sync` does); history on a file;
- concurrent: waves of 300 such runs at once (`asyncio.gather`), each waiting for its commit;
- the same runs with no run observers (a tree from before them: a no-op recorder): what the run
  loop costs without any history;
- the handover: the loop's CPU per finished run given to `RunHistory.add_async` (what the run
  loop pays before the writer thread takes over);
- the commit alone: `_schema.write_rows` of prepared rows between BEGIN and COMMIT, batches of 1
  and 20 runs, alone and beside a CPU-bound thread (where each statement costs a GIL hand-off).

Per run it prints the CPU time of the run loop's thread (`time.thread_time`) and of the store's
writer thread (its `/proc/self/task/<tid>/schedstat`, nanoseconds), the loop's share that is the
history's (loop CPU with history minus without), and the SQLite statements the store executed
per run (counted in a separate pass on a stand-in for the store's connection: each statement is
one GIL release and hand-off; what SQLite's triggers run inside one statement is not counted).
Medians over the repetitions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASE_TREE_ENV = "OPENSTACKAI_NB_BASE_TREE"
PROMPT = "What is the value of X? Use the lookup tool."
STORE_THREADS = ("openstackai-nb-history", "openstackai-nb-checkpoint")


def lookup(key: str) -> str:
    """Look up the value stored under a key."""
    return f"value of {key}"


def _thread_ns() -> dict[int, int]:
    """CPU nanoseconds so far of the store's threads (writer, checkpointer), by native id."""
    out: dict[int, int] = {}
    for t in threading.enumerate():
        if t.name in STORE_THREADS and t.native_id is not None:
            try:
                with open(f"/proc/self/task/{t.native_id}/schedstat") as fh:
                    out[t.native_id] = int(fh.read().split()[0])
            except OSError:
                pass
    return out


class _Counting:
    """A stand-in for a sqlite3 connection that counts the statements run through it (and its cursors)."""

    def __init__(self, conn: Any, parent: _Counting | None = None) -> None:
        self.conn, self.count, self.parent = conn, 0, parent

    def execute(self, *args: Any) -> Any:
        (self.parent or self).count += 1
        return self.conn.execute(*args)

    def cursor(self) -> _Counting:
        return _Counting(self.conn.cursor(), self)

    @property
    def connection(self) -> _Counting:
        return self.parent or self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


@contextlib.contextmanager
def _nothing_recorded() -> Iterator[None]:
    """Runs with no history: no run observers (a tree before them: a no-op recorder)."""
    try:
        from openstackai_nb.runner.observers import set_default_observers
    except ImportError:  # a tree from before the observers: its recorder seam
        from openstackai_nb.runner import RunRecorder, set_recorder

        previous_recorder = set_recorder(RunRecorder())
        try:
            yield
        finally:
            set_recorder(previous_recorder)
        return
    previous = set_default_observers([])
    try:
        yield
    finally:
        set_default_observers(previous)


def worker(tree: str, n: int, concurrency: int) -> dict[str, Any]:
    sys.path.insert(0, tree)
    from openstackai_nb import Agent, RunHistory, Runner
    from openstackai_nb import store as store_mod

    assert Path(sys.modules["openstackai_nb"].__file__ or "").is_relative_to(tree)
    tmp = Path(tempfile.mkdtemp())
    history = RunHistory(tmp / "h.sqlite")
    store_mod.set_history(history)
    agent = Agent(name="Bench", instructions="You are a helpful assistant.", tools=[lookup], model="scripted")

    async def sequential(k: int) -> None:
        for _ in range(k):
            await Runner.run_async(agent, PROMPT)

    async def concurrent(k: int) -> None:
        for start in range(0, k, concurrency):
            await asyncio.gather(*(Runner.run_async(agent, PROMPT) for _ in range(min(concurrency, k - start))))

    def measure(scenario: Any, k: int) -> dict[str, float]:
        history.flush()
        before = _thread_ns()
        t0, c0 = time.perf_counter(), time.thread_time()
        asyncio.run(scenario(k))
        loop_cpu = time.thread_time() - c0
        history.flush()
        wall = time.perf_counter() - t0
        after = _thread_ns()
        store_cpu = sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9
        return {"loop_us": loop_cpu / k * 1e6, "store_us": store_cpu / k * 1e6, "wall_us": wall / k * 1e6}

    def statements(scenario: Any, k: int) -> dict[str, float]:
        # Every statement the store runs goes through its connection's `execute`: count them on a
        # stand-in for the connection (SQLite's trace callback would expand each trigger program's
        # statement with all its values: far too slow for batches of 256 records).
        history.flush()
        store = history._store
        real = store.conn
        counting = _Counting(real)
        store.conn = counting  # type: ignore[assignment]
        try:
            asyncio.run(scenario(k))
            history.flush()
        finally:
            store.conn = real
        return {"statements": counting.count / k}

    asyncio.run(sequential(100))  # warm up: imports, the writer thread, the statement cache
    out: dict[str, Any] = {"writer": writer_alone(tmp, n), "handover_us": handover(tmp, n)}
    for name, scenario in (("sequential", sequential), ("concurrent", concurrent)):
        # History on and a no-op recorder in alternating slices, so the machine's drift (it is
        # shared) hits both alike; sums over the slices.
        on: list[dict[str, float]] = []
        off: list[float] = []
        for _ in range(5):
            on.append(measure(scenario, n // 5))
            with _nothing_recorded():
                off.append(measure(scenario, n // 5)["loop_us"])
        out[name] = {key: statistics.fmean(m[key] for m in on) for key in on[0]}
        out[name]["loop_norec_us"] = statistics.fmean(off)
        out[name].update(statements(scenario, min(n, 600)))
    return out


def handover(tmp: Path, n: int) -> float:
    """The run loop's CPU per finished run handed to the store (`RunHistory.add_async`), median of 5 slices."""
    from openstackai_nb import Agent, RunHistory, Runner

    result = Runner.run_sync(Agent(name="Bench", tools=[lookup], model="scripted"), PROMPT)
    history = RunHistory(tmp / "handover.sqlite")
    # `add_async` (public since issue 24); a tree from before it has `_add_async`
    add_async = getattr(history, "add_async", None) or history._add_async

    async def slices() -> list[float]:
        out = []
        for k in range(5):
            c0 = time.thread_time()
            for i in range(n // 5):
                result.run_id = f"run_h{k}_{i:012x}"
                add_async(result, finished=True, wait=False)
            out.append((time.thread_time() - c0) / (n // 5) * 1e6)
            await asyncio.sleep(0.2)
        return out

    got = statistics.median(asyncio.run(slices()))
    history.flush()
    return got


def writer_alone(tmp: Path, n: int) -> dict[str, float]:
    """The commit alone: `write_rows` of prepared rows, BEGIN to COMMIT, batches of 1 and of 20 runs.

    Each on a fresh file, alone and beside a CPU-bound thread (each statement then costs a GIL
    hand-off): CPU of the writing thread and wall time, per run.
    """
    import sqlite3

    from openstackai_nb import Agent, Runner
    from openstackai_nb.store._rows import Rows
    from openstackai_nb.store._schema import setup, write_rows

    result = Runner.run_sync(Agent(name="Bench", tools=[lookup], model="scripted"), PROMPT)
    out: dict[str, float] = {}
    busy = [False]

    def spin() -> None:
        while busy[0]:
            sum(range(1000))

    for size in (1, 20):
        for beside in (False, True):
            rows = []
            for i in range(n):
                result.run_id = f"run_{size}{beside}{i:012x}"
                rows.append(Rows(result, (None, None, None), finished=True))
            conn = sqlite3.connect(tmp / f"w{size}{beside}.sqlite", isolation_level=None, check_same_thread=False)
            setup(conn, tmp / f"w{size}{beside}.sqlite")
            got: dict[str, float] = {}

            def work(
                rows: list[Any] = rows, conn: sqlite3.Connection = conn, got: dict[str, float] = got, size: int = size
            ) -> None:
                c0, t0 = time.thread_time(), time.perf_counter()
                for i in range(0, len(rows), size):
                    conn.execute("BEGIN IMMEDIATE")
                    write_rows(conn, rows[i : i + size])
                    conn.execute("COMMIT")
                got["cpu"], got["wall"] = time.thread_time() - c0, time.perf_counter() - t0

            busy[0] = beside
            spinner = threading.Thread(target=spin)
            spinner.start()
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
            busy[0] = False
            spinner.join()
            key = f"batch {size}{', beside a busy thread' if beside else ''}"
            out[f"{key}: cpu_us"] = got["cpu"] / n * 1e6
            out[f"{key}: wall_us"] = got["wall"] / n * 1e6
            conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke run)")
    parser.add_argument(
        "--base",
        action="append",
        help="another checkout to compare with, as PATH or LABEL=PATH (repeatable; default: $" + BASE_TREE_ENV + ")",
    )
    parser.add_argument("--reps", type=int, default=0, help="worker processes per tree (default 3, 1 with --quick)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = args.n or (300 if args.quick else 1500)
    if args.worker:
        print(json.dumps(worker(args.worker, n, 300)))
        return
    trees: dict[str, str] = {}
    for i, base in enumerate(args.base or ([os.environ[BASE_TREE_ENV]] if os.environ.get(BASE_TREE_ENV) else [])):
        label, _, path = base.rpartition("=")
        trees[label or ("base" if i == 0 else f"base{i + 1}")] = str(Path(path).resolve())
    trees["this tree"] = str(ROOT)
    reps = args.reps or (1 if args.quick else 3)
    import sqlite3

    print(f"Python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}; {n} runs per scenario, {reps} worker processes per tree, medians")  # fmt: skip
    for name, tree in trees.items():
        print(f"  {name}: {tree} ({_head(tree)})")
    got: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(reps):
        for name, tree in trees.items():
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", tree, "--n", str(n)],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "OPENSTACKAI_NB_HISTORY": "off"},
            )
            if proc.returncode != 0:
                raise SystemExit(f"{name}: worker failed:\n{proc.stderr}")
            got[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("the run loop handing a finished run to the store (RunHistory.add_async), CPU per run:")
    print(
        "  "
        + "   ".join(f"{name} {statistics.median(r['handover_us'] for r in runs):5.1f}us" for name, runs in got.items())
    )
    print("the commit alone (write_rows of prepared runs between BEGIN and COMMIT), per run:")
    keys = list(next(iter(got.values()))[0]["writer"])
    for key in keys[::2]:
        what = key.split(":")[0]
        line = "   ".join(
            f"{name} CPU {statistics.median(r['writer'][key] for r in runs):5.0f}us"
            f" wall {statistics.median(r['writer'][what + ': wall_us'] for r in runs):6.0f}us"
            for name, runs in got.items()
        )
        print(f"  {what:<32} {line}")
    for scenario in ("sequential", "concurrent"):
        what = "one run after another" if scenario == "sequential" else "waves of 300 concurrent runs"
        print(f"{scenario} ({what}), per run:")
        print(
            f"  {'tree':<10} {'loop CPU':>9} {'of it history':>14} {'writer+ckpt CPU':>16} {'history total':>14}"
            f" {'wall':>9} {'statements':>11}"
        )
        for name, runs in got.items():
            m = {k: statistics.median(r[scenario][k] for r in runs) for k in runs[0][scenario]}
            hist = m["loop_us"] - m["loop_norec_us"]
            print(
                f"  {name:<10} {m['loop_us']:7.0f}us {hist:12.0f}us {m['store_us']:14.0f}us"
                f" {hist + m['store_us']:12.0f}us {m['wall_us']:7.0f}us {m['statements']:11.2f}"
            )


def _head(tree: str) -> str:
    try:
        out = subprocess.run(["git", "-C", tree, "log", "-1", "--format=%h"], capture_output=True, text=True)
        return out.stdout.strip() or "not a git checkout"
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
