"""Function calls per sequential run (cProfile): a deterministic figure, unlike time on a shared machine.

    .venv/bin/python benchmarks/bench_calls.py [--runs 500] [--base PATH]

Four scenarios, each 500 `Runner.run_async` runs in a fresh process after a warm-up round:
a FunctionModel that calls one tool then answers, and the scripted model's 200-word streamed
answer, each with the session's default observers (history off: `OPENSTACKAI_NB_HISTORY=off`,
so no file is written) and with the history on a file. `--base PATH` runs the same in a
checkout of another commit (e.g. `git worktree add --detach /tmp/base <rev>`), side by side.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import asyncio, cProfile, pstats, sys
from openstackai_nb import Agent, Runner
from openstackai_nb.models.function import FunctionModel, call

def add(a: int, b: int) -> int:
    '''Add two numbers.'''
    return a + b

def fn(messages, info):
    if messages[-1].role == "tool":
        return "the sum is " + (messages[-1].content or "")
    return call("add", a=1, b=2)

words = sys.argv[2] == "words"
agent = Agent(name="w", model="scripted") if words else Agent(name="p", model=FunctionModel(fn), tools=[add])
n = int(sys.argv[1])

async def main():
    for _ in range(n):
        if words:
            r = await Runner.run_async(agent, "say 200 words")
            assert len(r.final_output.split()) == 200, r.error
        else:
            r = await Runner.run_async(agent, "add 1 and 2")
            assert r.final_output == "the sum is 3", r.error

asyncio.run(main())  # warm up: imports, validators, the history file
profile = cProfile.Profile()
profile.enable()
asyncio.run(main())
profile.disable()
print(pstats.Stats(profile).total_calls / n)
"""


def _count(tree: Path, runs: int, scenario: str, history: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENSTACKAI_NB_"))}
    env["PYTHONPATH"] = str(tree)
    with tempfile.TemporaryDirectory() as tmp:
        env["OPENSTACKAI_NB_HISTORY"] = "off" if history == "off" else str(Path(tmp) / "history.sqlite")
        out = subprocess.run(
            [sys.executable, "-c", WORKER, str(runs), scenario],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--base", default="", help="a checkout of another commit, measured beside this tree")
    args = parser.parse_args()
    trees = [("this tree", ROOT)] + ([("base", Path(args.base).resolve())] if args.base else [])
    print(f"function calls per run ({args.runs} runs after a warm-up round; cProfile)")
    print(f"{'scenario':44}" + "".join(f"{name:>12}" for name, _ in trees) + ("    ratio" if args.base else ""))
    for scenario, label in (("tool", "tool call + answer (FunctionModel)"), ("words", "200-word streamed answer")):
        for history in ("off", "file"):
            counts = [_count(tree, args.runs, scenario, history) for _, tree in trees]
            row = f"{label + ', history ' + history:44}" + "".join(f"{c:12.0f}" for c in counts)
            if args.base:
                row += f"   {counts[0] / counts[1]:.2f}x"
            print(row, flush=True)


if __name__ == "__main__":
    main()
