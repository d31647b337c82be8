"""CPU cost of the live view: one 20,000-token streamed answer in a real kernel, with and without it.

The loopback server (`tests/_server.py`, its own process) streams 20,000 one-word tokens. In one
real kernel (jupyter_client), the same `%%agent` run is repeated, alternating:
- `quiet`: `%%agent --quiet` (no display at all: the run, the event pump, history);
- `live`:  `%%agent` (the anywidget live view: coalesced deltas, status/tool traits, and the end
  of run static bundle).
Each sample is the kernel process's CPU time (all threads: user + system) around the cell,
measured inside the kernel. The client also counts the iopub messages and bytes of the live runs,
to report messages per second and bytes per token.

Target (issue 4): the live view costs under 10% more CPU than the same run without display.

    .venv/bin/python benchmarks/bench_live_view.py [--quick] [--tokens N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as c  # noqa: E402

from tests.notebook._kernel import Kernel, kernel_env  # noqa: E402

TARGET = 0.10
CELL = """
import time as _t, resource as _r
_c0 = _r.getrusage(_r.RUSAGE_SELF); _w0 = _t.perf_counter()
get_ipython().run_cell_magic("agent", "-o _res --max-time 600 {flags}", "Go")
_c1 = _r.getrusage(_r.RUSAGE_SELF); _w1 = _t.perf_counter()
print("BENCH", _c1.ru_utime - _c0.ru_utime + _c1.ru_stime - _c0.ru_stime, _w1 - _w0,
      _res.status.value, len(_res.final_output.split()), len(_res.final_output.encode()))
"""


def measure(kernel: Kernel, flags: str) -> dict[str, float]:
    """One run: kernel CPU seconds, wall seconds, and the iopub traffic the client saw."""
    ex = kernel.execute(CELL.format(flags=flags), timeout=600)
    line = next(x for x in ex.stdout.splitlines() if x.startswith("BENCH"))
    _, cpu, wall, status, words, size = line.split()
    if status != "COMPLETED":
        raise RuntimeError(f"run ended {status}")
    live = ex.of_type("comm_msg")
    return {
        "cpu": float(cpu),
        "wall": float(wall),
        "words": float(words),
        "size": float(size),
        "msgs": float(len(ex.msgs)),
        "live_msgs": float(len(live)),
        "deltas": float(len(ex.deltas())),
        "live_bytes": float(ex.wire_bytes(live)),
        "bytes": float(ex.wire_bytes()),
    }


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of each instead of 9")
    parser.add_argument("--tokens", type=int, default=20_000)
    args = parser.parse_args()
    n = 3 if args.quick else 9
    with c.Server(mode="text", words=args.tokens) as server, tempfile.TemporaryDirectory() as tmp:
        env = kernel_env(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-bench-not-a-real-key-000000",
                         OPENSTACKAI_NB_MODEL="test-model")  # fmt: skip
        kernel = Kernel(env, tmp)
        try:
            kernel.execute("%load_ext openstackai_nb")
            for flags in ("--quiet", ""):  # warm-up: imports, the HTTP pool, anywidget
                measure(kernel, flags)
            quiet: list[dict[str, float]] = []
            live: list[dict[str, float]] = []
            for _ in range(n):
                quiet.append(measure(kernel, "--quiet"))
                live.append(measure(kernel, ""))
        finally:
            kernel.close()

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    q_cpu, l_cpu = med(quiet, "cpu"), med(live, "cpu")
    extra = l_cpu / q_cpu - 1
    tokens = med(live, "words")
    wall = med(live, "wall")
    print(f"live view while streaming {int(tokens)} tokens ({c.machine()}, {n} runs each, medians)")
    print(f"  kernel CPU without display (--quiet): {q_cpu * 1000:7.0f} ms   wall {med(quiet, 'wall') * 1000:.0f} ms")
    print(f"  kernel CPU with the live view:        {l_cpu * 1000:7.0f} ms   wall {wall * 1000:.0f} ms")
    print(f"  extra CPU of the live view: {extra * 100:+.1f}% (target < {TARGET * 100:.0f}%: "
          f"{'met' if extra < TARGET else 'MISSED'})")  # fmt: skip
    print(f"  live messages: {med(live, 'live_msgs'):.0f} comm messages ({med(live, 'deltas'):.0f} text deltas), "
          f"{med(live, 'live_msgs') / wall:.1f} messages/s")  # fmt: skip
    print(f"  bytes: {med(live, 'live_bytes') / tokens:.2f} live bytes/token, "
          f"{med(live, 'bytes') / tokens:.2f} bytes/token with the saved bundle "
          f"(the text itself: {med(live, 'size') / tokens:.1f} bytes/token)")  # fmt: skip
    print(json.dumps({"quiet_cpu": q_cpu, "live_cpu": l_cpu, "extra": extra}))


if __name__ == "__main__":
    main()
