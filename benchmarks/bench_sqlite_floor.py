"""SQLite's own floor for one run's commit, against what the history's statements cost.

    .venv/bin/python benchmarks/bench_sqlite_floor.py [--quick]

Issue 25's sequential target leaves a run's whole record about 0.1 ms (benchmarks/README.md).
This script measures what the commit alone costs at its floor, on this machine: a real run's
rows (a one-turn run of the offline model, built by the history's own `Rows`), committed one run
per transaction to a fresh file with the history's settings (WAL, ``synchronous=NORMAL``, no
automatic checkpoint, as `commit_now` commits), by the sqlite3 module on one thread. Variants,
from today's statements down to no statement at all:

- ``history statements``: the history's own two statements (`write_rows`: the runs row as an
  upsert, with its tool calls and turns as compact JSON; the run's JSON in ``results``);
- ``plain inserts``: the same two rows as plain ``INSERT`` (no upsert clause);
- ``runs row only``: only the runs row (no ``results`` table: its JSON would have to live there);
- ``JSON only``: only the run's JSON, in a table with no index (an append-only journal's floor);
- ``empty transaction``: ``BEGIN IMMEDIATE`` and ``COMMIT`` with nothing in between.

Rounds alternate the variants (each round a fresh file per variant); the figure is the median
over rounds of the microseconds per commit. The history's own glue around these statements (the
store's lock, its settings check, the file check) is not in them: `bench_record.py` times that.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

from openstackai_nb import Agent, Runner  # noqa: E402
from openstackai_nb.store import _schema, set_history  # noqa: E402
from openstackai_nb.store._rows import Rows, owner  # noqa: E402
from openstackai_nb.store.run_history import RunHistory  # noqa: E402


def _rows() -> Rows:
    set_history(RunHistory(":memory:"))
    result = Runner.run_sync(Agent(name="Assistant", model="scripted"), "What is the capital of France?")
    return Rows(result, owner(), finished=True)


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    _schema.setup(conn, Path(path))  # the history's own pragmas and tables
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE journal (run_id TEXT NOT NULL, result TEXT NOT NULL)")
    return conn


def _variants(rows: Rows) -> dict[str, Callable[[sqlite3.Cursor], None]]:
    run, details, text = tuple(rows.run), tuple(rows.details), rows.text
    width = len(run) + len(details)
    plain_runs = _schema._statement(_schema._INSERT_RUNS, "", width, 1)
    plain_results = _schema._statement(_schema._INSERT_RESULTS.replace("OR REPLACE ", ""), "", 2, 1)
    column = _schema._WRITTEN.index("run_id")

    def fresh() -> tuple[str, tuple[object, ...]]:
        run_id = uuid.uuid4().hex
        return run_id, (*run[:column], run_id, *run[column + 1 :], *details)

    def history(cur: sqlite3.Cursor) -> None:
        run_id, values = fresh()
        cur.execute("BEGIN IMMEDIATE")
        _schema._insert(cur, _schema._INSERT_RUNS, [values], _schema._UPSERT_TAIL)
        _schema._insert(cur, _schema._INSERT_RESULTS, [(run_id, text)])
        cur.execute("COMMIT")

    def plain(cur: sqlite3.Cursor) -> None:
        run_id, values = fresh()
        cur.execute("BEGIN IMMEDIATE")
        cur.execute(plain_runs, values)
        cur.execute(plain_results, (run_id, text))
        cur.execute("COMMIT")

    def runs_only(cur: sqlite3.Cursor) -> None:
        _, values = fresh()
        cur.execute("BEGIN IMMEDIATE")
        cur.execute(plain_runs, values)
        cur.execute("COMMIT")

    def json_only(cur: sqlite3.Cursor) -> None:
        run_id, _ = fresh()
        cur.execute("BEGIN IMMEDIATE")
        cur.execute("INSERT INTO journal VALUES (?, ?)", (run_id, text))
        cur.execute("COMMIT")

    def empty(cur: sqlite3.Cursor) -> None:
        cur.execute("BEGIN IMMEDIATE")
        cur.execute("COMMIT")

    return {
        "history statements": history,
        "plain inserts": plain,
        "runs row only": runs_only,
        "JSON only": json_only,
        "empty transaction": empty,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer commits and rounds, for a smoke run")
    args = parser.parse_args()
    rounds, n = (3, 500) if args.quick else (7, 3000)
    rows = _rows()
    variants = _variants(rows)
    per: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="osnb-sqlite-floor-") as scratch:
        for r in range(rounds):
            names = list(variants)
            names = names[r % len(names) :] + names[: r % len(names)]  # the order rotated each round
            for name in names:
                path = os.path.join(scratch, f"{r}-{names.index(name)}.sqlite")
                conn = _connect(path)
                cur = conn.cursor()
                fn = variants[name]
                for _ in range(50):  # warm: statements compiled, the file's first pages made
                    fn(cur)
                t0 = time.perf_counter()
                for _ in range(n):
                    fn(cur)
                per[name].append((time.perf_counter() - t0) / n * 1e6)
                conn.close()
    print(c.header(f"bench_sqlite_floor: {rounds} rounds x {n} commits, one run per transaction"))
    print(
        f"SQLite {sqlite3.sqlite_version}; a run's JSON {len(rows.text):,} characters, runs row {len(rows.run)} values"
    )
    print()
    print("| commit of one run | us per commit (median of rounds) | min-max |")
    print("|---|---|---|")
    for name, values in per.items():
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f}-{max(values):.1f} |")


if __name__ == "__main__":
    main()
