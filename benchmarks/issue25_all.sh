#!/usr/bin/env bash
# Every figure of issue 25, this tree beside a base tree, in one run (about 11 minutes on 2 cores).
#
#   bash benchmarks/issue25_all.sh /path/to/base-checkout [> log]
#
# The base is any checkout of this repository, e.g. `git worktree add --detach /work/wt/base f3974da`.
# Each benchmark prints its own table; benchmarks/README.md ("Issue 25: every figure before and
# after in one run") is this script's output of 7 Dec 2026 put into one table. Run it on an idle
# machine: the ratios of one run are to raw httpx2 measured in the same run.
set -euo pipefail
base=$(cd "${1:?usage: bash benchmarks/issue25_all.sh /path/to/base-checkout}" && pwd)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OPENSTACKAI_NB_BASE_TREE="$base"
PY="$PWD/.venv/bin/python"
step() { echo "=== $(date -u +%H:%M:%S) $*"; "$@"; }
step "$PY" benchmarks/bench_overhead.py --same-process
step "$PY" benchmarks/bench_overhead.py --reps 5 --only raw,ours,ours-norec,ours-base
step "$PY" benchmarks/bench_record_floor.py
step "$PY" benchmarks/bench_sqlite_floor.py
step "$PY" benchmarks/bench_stream.py --quick --only raw,ours,ours-base
step "$PY" benchmarks/bench_concurrency.py --quick --only raw,ours,ours-base
step "$PY" benchmarks/bench_concurrency.py --quick --only raw,ours,ours-base
history() {  # ours, then the base tree's own script of the same figure
  step "$PY" benchmarks/bench_history.py --only "$1"
  (cd "$base" && step "$PY" benchmarks/bench_history.py --only "$1")
}
history compare
step "$PY" benchmarks/bench_import.py
history memory
history dataframe
step "$PY" benchmarks/bench_compare_memory.py --sizes 100000 --base "$base"
step "$PY" benchmarks/bench_compare_memory.py --scheduler dask --sizes 100000 --base "$base"
echo "=== $(date -u +%H:%M:%S) done"
