"""How low can a sequential run with a history go? The record's parts, swapped one at a time.

    .venv/bin/python benchmarks/bench_record_floor.py [--quick] [--only rows-only,not-durable]

Issue 25 asks for a sequential one-turn run within 1.5x of raw httpx2 with the history on. This
script measures what each part of the record costs inside a real run, by replacing the one step a
run that ends alone takes (`StoreWriter.commit_now`: build the rows, commit them on the run's
thread) with a variant, and timing the same runs as `bench_overhead.py --same-process` does: one
process, one event loop, alternated slices of 200 runs (the order rotated each round), the median
of the per-round ratios to raw httpx2 measured in the same rounds. Variants:

- ``history``: the history as it ships (rows built and committed before the run returns);
- ``no-observers``: no run observers: the runner alone, nothing recorded;
- ``rows-only``: the rows are built (JSON, the scrubber, the row tuples) and nothing is written:
  what serialising a run costs, the floor of any record that keeps today's tables;
- ``json-only``: only the run's JSON is made (`model_dump_json`, the scrubber): the floor of any
  record at all;
- ``not-durable``: the rows go to the writer thread and the run does not wait for the commit (the
  "option that trades the promise for speed" of the issue, measured: the writer's work still
  costs the process its CPU and GIL);
- ``append-only``: the run's JSON is appended to a plain file (one ``os.write``; as durable as a
  WAL commit with ``synchronous=NORMAL``) and never reaches SQLite: a journal with no compaction;
- ``append+writer``: the same, and the writer thread commits the rows in the background (a
  journal's steady state).

Each slice ends with `openstackai_nb.store.flush()`, so work left to the writer is counted in the
slice that made it. The variants are experiments on the store's internals, not options of the
package: only ``history`` keeps the promise that a run `run_sync` returned is in the file.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

VARIANTS = ("history", "no-observers", "rows-only", "json-only", "not-durable", "append-only", "append+writer")


def _variants(journal: Path) -> dict[str, Callable[[Any, Any], bool] | None]:
    """Each variant's stand-in for `Store.commit_now(self, rows)` (None: no observers)."""
    from openstackai_nb._secrets import may_hold_secret, scrub
    from openstackai_nb.store._sqlite import Store

    fd: list[int] = []

    def json_of(rows: Any) -> str:
        text = rows._source.model_dump_json()  # what `Rows.build` makes first
        return scrub(text) if may_hold_secret(text) else text

    def rows_only(store: Any, rows: Any) -> bool:
        rows.build()
        return True

    def json_only(store: Any, rows: Any) -> bool:
        json_of(rows)
        return True

    def not_durable(store: Any, rows: Any) -> bool:
        store.submit_async(rows.detached(), wait=False)
        return True

    def append_only(store: Any, rows: Any) -> bool:
        if not fd:
            fd.append(os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        os.write(fd[0], json_of(rows).encode() + b"\n")
        return True

    def append_writer(store: Any, rows: Any) -> bool:
        append_only(store, rows)
        store.submit_async(rows.detached(), wait=False)
        return True

    return {
        "history": Store.commit_now,
        "no-observers": None,
        "rows-only": rows_only,
        "json-only": json_only,
        "not-durable": not_durable,
        "append-only": append_only,
        "append+writer": append_writer,
    }


async def _measure(url: str, names: list[str], rounds: int, n: int, warmup: int) -> dict[str, dict[str, list[float]]]:
    from openstackai_nb.runner.observers import default_observers, set_default_observers
    from openstackai_nb.store._sqlite import Store
    from openstackai_nb.store.session import flush

    raw, ours = c.make("raw", url), c.make("ours", url)
    observers = default_observers()
    variants = _variants(Path("journal.jsonl").resolve())
    shipped = Store.commit_now
    out: dict[str, dict[str, list[float]]] = {name: {"json": [], "stream": []} for name in ["raw", *names]}

    async def slice_of(name: str, stream: bool, runs: int) -> None:
        if name == "raw":
            for _ in range(runs):
                await raw.run(stream=stream, tools=False)
            return
        variant = variants[name]
        set_default_observers(() if variant is None else observers)
        Store.commit_now = variant or shipped  # type: ignore[method-assign]
        for _ in range(runs):
            await ours.run(stream=stream, tools=False)
        flush()

    try:
        for stream in (False, True):
            key = "stream" if stream else "json"
            for name in out:
                await slice_of(name, stream, warmup)
            for r in range(rounds):
                order = list(out)
                for name in order[r % len(order) :] + order[: r % len(order)]:
                    t0 = time.perf_counter()
                    await slice_of(name, stream, n)
                    out[name][key].append((time.perf_counter() - t0) / n)
    finally:
        Store.commit_now = shipped  # type: ignore[method-assign]
        set_default_observers(None)
        await raw.close()
        await ours.close()
    return out


def main() -> None:
    args = c.parse_args(
        __doc__,
        lambda p: p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants"),
    )
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    rounds, n = (5, 100) if args.quick else (15, 200)
    print(c.header(f"bench_record_floor: {rounds} rounds of alternated slices of {n} runs, one process"))
    with c.Server("text", words=5) as server, tempfile.TemporaryDirectory(prefix="openstackai_nb_bench_") as cwd:
        os.chdir(cwd)  # the history (`.openstackai_nb/` here) and the journal start empty, outside the repo
        out = asyncio.run(_measure(server.url, names, rounds, n, warmup=50))
    rows, ratios = [], {}
    for name, figures in out.items():
        row: list[Any] = [name]
        for key in ("json", "stream"):
            ratios[name, key] = statistics.median([a / b for a, b in zip(figures[key], out["raw"][key], strict=True)])
            row += [statistics.median(figures[key]) * 1e3, ratios[name, key]]
        rows.append(row)
    cols = ["variant", "non-streamed ms", "x raw", "streamed ms", "x raw"]
    print(c.table("per run (wall), medians of the slices; x raw: median of the per-round ratios", cols, rows))
    if "history" in names:
        for key, what in (("json", "non-streamed"), ("stream", "streamed")):
            print(c.verdict(ratios["history", key], 1.5, f"history {what} <= 1.5x raw (issue 25)"))


if __name__ == "__main__":
    main()
