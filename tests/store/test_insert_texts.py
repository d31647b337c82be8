"""The writer's multi-row inserts use a handful of statement texts, whatever the batch sizes.

sqlite3 caches a compiled statement per distinct SQL text: one text per batch size kept a few
hundred late allocations alive after a large compare(), which pinned allocator arenas (about
10 MB per 20,000 runs, not given back after the DataFrame was deleted; benchmarks/README.md).
"""

from __future__ import annotations

import sqlite3

from openstackai_nb.store._schema import _insert


def test_batches_of_every_size_use_power_of_two_texts_one_statement_each_and_write_every_row() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    texts: list[str] = []
    conn.set_trace_callback(texts.append)
    k = 0
    for size in range(1, 301):
        rows = [(k + i, f"v{k + i}") for i in range(size)]
        k += size
        before = len(texts)
        _insert(conn, "INSERT OR REPLACE INTO t (k, v)", rows)
        assert len([t for t in texts[before:] if t.startswith("INSERT")]) == (size + 255) // 256
    conn.set_trace_callback(None)
    assert conn.execute("SELECT count(*), sum(k) FROM t").fetchone() == (k, k * (k - 1) // 2)
    sizes = {t.count("(") - 1 for t in texts if t.startswith("INSERT")}  # "(k, v)", then one "(...)" a row
    assert sizes <= {1, 2, 4, 8, 16, 32, 64, 128, 256}, sorted(sizes)
