"""`%load_ext openstackai_nb`: time in a fresh IPython, and what it imports.

Each sample is a fresh process that starts an IPython shell (a kernel has one already, so its start
is not counted) and then times `%load_ext openstackai_nb` alone. A second series times
`import openstackai_nb` first and on its own, which splits the figure into the package's import
(the runner's import benchmark owns that) and what the notebook layer adds. The script also
checks that loading the extension imports no pandas, ipywidgets, anywidget or httpx2; those come
later, when a run or a DataFrame needs them.

Target (issue 4): under 0.4 s.

    .venv/bin/python benchmarks/bench_load_ext.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

TARGET = 0.4
HEAVY = ["pandas", "numpy", "ipywidgets", "anywidget", "httpx2", "sqlite3"]
SAMPLE = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
t0 = time.perf_counter()
if SPLIT:
    import openstackai_nb
t1 = time.perf_counter()
ip.run_line_magic("load_ext", "openstackai_nb")
t2 = time.perf_counter()
heavy = [m for m in HEAVY if m in sys.modules and m not in before]  # IPython itself imports sqlite3
magics = "agent" in ip.magics_manager.magics["cell"]
print(json.dumps({"elapsed": t2 - t0, "package": t1 - t0, "magics": magics, "heavy": heavy}))
"""


def sample(split: bool = False) -> dict[str, object]:
    """One fresh process: the load_ext time and the heavy modules it left imported."""
    code = f"SPLIT = {split}\nHEAVY = {HEAVY!r}\n{SAMPLE}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=c.ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 samples of each instead of 15")
    args = parser.parse_args()
    n = 3 if args.quick else 15
    samples = [sample() for _ in range(n)]
    splits = [sample(split=True) for _ in range(n)]
    times = sorted(float(s["elapsed"]) for s in samples)  # type: ignore[arg-type]
    median = statistics.median(times)
    package = statistics.median(float(s["package"]) for s in splits)  # type: ignore[arg-type]
    layer = statistics.median(float(s["elapsed"]) - float(s["package"]) for s in splits)  # type: ignore[arg-type]
    heavy = sorted({m for s in samples for m in s["heavy"]})  # type: ignore[attr-defined]
    print(f"%load_ext openstackai_nb in a fresh IPython ({c.machine()}, {n} processes)")
    print(f"  median {median * 1000:.0f} ms, best {times[0] * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms")
    print(f"  target < {TARGET * 1000:.0f} ms: {'met' if median < TARGET else 'MISSED'}")
    print(f"  split: `import openstackai_nb` {package * 1000:.0f} ms + notebook layer (magics) {layer * 1000:.0f} ms")
    print(f"  magics registered: {all(s['magics'] for s in samples)}")
    print(f"  heavy modules imported by load_ext: {', '.join(heavy) or 'none'} (checked: {', '.join(HEAVY)})")


if __name__ == "__main__":
    main()
