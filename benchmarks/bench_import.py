"""Import time: `python -c "import X"` wall time and `python -X importtime` totals.

For each package: the median wall time of 20 cold `python -c "import X"` (a new interpreter
each time; and of `python -c "pass"`, the interpreter's own start), the total self time that
`-X importtime` reports, and for ours the top modules by cumulative import time and a check that
the heavy optional modules are not imported. The runs of all packages are interleaved (run 1 of
each, then run 2 of each...), so a change in the machine's load falls on every row alike.

Bytecode: each package's `__pycache__` is written by a warm-up run first (as `pip install`
does), even when the environment sets PYTHONDONTWRITEBYTECODE (compiling our ~30 modules from
source on every run would add ~40 ms that no installed copy pays).

With OPENSTACKAI_NB_BASE_TREE=<a checkout of another commit> (e.g. `git worktree add`), the rows
"ours-base" and "ours-base (Agent, Runner)" import that tree's package (run from its folder).

Target (issue 25): the median of 20 cold `import openstackai_nb` <= 0.17 s; no pandas,
ipywidgets, IPython or httpx2 at import.

    benchmarks/.peers-venv/bin/python benchmarks/bench_import.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

PACKAGES = {"(python)": "pass", "httpx2": "import httpx2",
            # The floor of any package with pydantic models at import: pydantic and one model class.
            "(pydantic + 1 model)": "from pydantic import BaseModel\nclass A(BaseModel):\n    x: int = 0",
            "ours": "import openstackai_nb", "ours (Agent, Runner)": "from openstackai_nb import Agent, Runner",
            "agents": "import agents", "pydantic-ai": "import pydantic_ai"}  # fmt: skip
HEAVY = [
    "pandas",
    "ipywidgets",
    "anywidget",
    "IPython",
    "httpx2",
    "httpcore2",
    "sqlite3",
    "numpy",
    "pydantic",
    "asyncio",
]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The environment of every run: bytecode written and read, as an installed package has it."""


def run(code: str, cwd: str | None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *kwargs.pop("flags", []), "-c", code], cwd=cwd, env=ENV, text=True, **kwargs)


def walls(contenders: dict[str, tuple[str, str | None]], n: int) -> dict[str, tuple[float, float, float]]:
    """Per contender: median wall time, best wall time and median CPU time (user + system) of `n` runs.

    The runs are interleaved: one of each contender in turn, `n` times.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(n):
        for name, (code, cwd) in contenders.items():
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            run(code, cwd, check=True)
            times[name].append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return {
        name: (statistics.median(times[name]), min(times[name]), statistics.median(cpus[name])) for name in contenders
    }


def importtime(code: str, cwd: str | None = None) -> list[tuple[str, int, int]]:
    """(module, self us, cumulative us) for every import `code` makes."""
    proc = run(code, cwd, flags=["-X", "importtime"], capture_output=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|")
        rows.append((name.rstrip(), int(self_us), int(cum_us)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=20, help="cold imports per package (default 20)")
    args = parser.parse_args()
    n = 3 if args.quick else args.runs
    candidates: dict[str, tuple[str, str | None]] = {name: (code, None) for name, code in PACKAGES.items()}
    base_tree = os.environ.get(c.BASE_TREE_ENV)
    if base_tree:
        candidates["ours-base"] = ("import openstackai_nb", base_tree)
        candidates["ours-base (Agent, Runner)"] = ("from openstackai_nb import Agent, Runner", base_tree)
    contenders = {}
    for name, (code, cwd) in candidates.items():  # warm the file cache, write __pycache__; skip what is not installed
        if run(code, cwd, capture_output=True).returncode == 0:
            contenders[name] = (code, cwd)
        else:
            print(f"({name}: not installed here, left out; benchmarks/setup_peers.sh makes a venv with the peers)")
    measured = walls(contenders, n)
    rows = []
    figures = {}
    for name, (code, cwd) in contenders.items():
        w, best, cpu = measured[name]
        total = sum(s for _, s, _ in importtime(code, cwd)) / 1e6
        figures[name] = w
        figures[name + " best"] = best
        figures[name + " cpu"] = cpu
        rows.append([name, w * 1e3, best * 1e3, cpu * 1e3, total * 1e3])
    base = figures["(python)"]
    rows = [r + [(r[1] / 1e3 - base) * 1e3] for r in rows]
    print(
        c.header(
            f"bench_import: median wall and CPU (user+sys) of {n} cold runs of `python -c CODE` (interleaved); "
            "-X importtime self-time total"
        )
    )
    print(
        c.table(
            "import",
            ["package", "wall ms", "best wall ms", "CPU ms", "importtime total ms", "wall - bare python ms"],
            rows,
        )
    )

    ours = importtime("import openstackai_nb")
    # Top-level entries: cumulative times of the modules ours imports (nested ones included).
    top = sorted(ours, key=lambda r: r[2], reverse=True)[:10]
    top_rows = [[m.strip(), s / 1e3, cum / 1e3] for m, s, cum in top]
    print(c.table("ours: top 10 modules by cumulative import time", ["module", "self ms", "cumulative ms"], top_rows))
    check = f"import json, sys, openstackai_nb; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    loaded = json.loads(run(check, None, capture_output=True, check=True).stdout)
    print(f"\nloaded at `import openstackai_nb` (of {', '.join(HEAVY)}): {', '.join(loaded) or 'none'}")
    print()
    print(c.verdict(figures["ours"], 0.17, f"ours `python -c 'import openstackai_nb'` <= 0.17 s (median of {n} cold)"))
    print(
        c.verdict(
            figures["ours (Agent, Runner)"], 0.17, "ours `from openstackai_nb import Agent, Runner` <= 0.17 s (median)"
        )
    )
    ratio = figures["ours cpu"] / figures["httpx2 cpu"]
    print(f"ours / httpx2 CPU: {ratio:.2f}x; at the issue's httpx2 figure (0.1 s) that is about {0.1 * ratio:.2f} s")
    bad = [m for m in loaded if m in ("pandas", "ipywidgets", "anywidget", "IPython", "httpx2")]
    print(
        f"no pandas/ipywidgets/anywidget/IPython/httpx2 at import: {'met' if not bad else 'MISSED: ' + ', '.join(bad)}"
    )


if __name__ == "__main__":
    main()
