"""CPU cost of the live view: one 20,000-token markdown answer in a real kernel, with and without it.

A loopback OpenAI-compatible server (`tests/_server.py`, on a thread of this process) streams a
markdown answer of 20,000 one-word tokens (headings, paragraphs, nested lists, tables, Python
code, links: `tests/notebook/_answers.py`), a different one for every request, so no run reuses
blocks rendered by another (the renderer keeps a cache of blocks). In one real kernel
(jupyter_client), the same `%%agent` run is repeated, in turn:
- `quiet`: `%%agent --quiet` (no display at all: the run, the event pump, history);
- `text`:  `%%agent` with `widgets.LIVE_MARKDOWN = False` (the live view shows the answer as
  text while it streams; the static copy at the end is rendered markdown);
- `markdown`: `%%agent` (the live view renders each finished markdown block as it streams; the
  static copy at the end reuses those blocks).
Each sample is the kernel process's CPU time (all threads: user + system) around the cell,
measured inside the kernel. The client counts the iopub messages and bytes of the live runs.

Then, in this process, the static copy of a 100 KB markdown answer (`render.run_bundle`: HTML,
markdown and text copies): cold (blocks never rendered before) and after the live view rendered
its blocks (what the end of a `%%agent` run does).

Targets (issue 15): markdown rendering adds under 10% CPU to the live view of a 20,000-token
stream; the static copy of a 100 KB answer renders in under 50 ms.

    .venv/bin/python benchmarks/bench_live_view.py [--quick] [--tokens N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as c  # noqa: E402

from tests._server import OpenAIServer, Reply, Request, text_stream  # noqa: E402
from tests.notebook._answers import markdown_answer  # noqa: E402
from tests.notebook._kernel import Kernel, kernel_env  # noqa: E402

TARGET = 0.10
STATIC_TARGET_MS = 50.0
CELL = """
import time as _t, resource as _r
import openstackai_nb.notebook.widgets as _w
_w.LIVE_MARKDOWN = {markdown}
_c0 = _r.getrusage(_r.RUSAGE_SELF); _w0 = _t.perf_counter()
get_ipython().run_cell_magic("agent", "-o _res --max-time 600 {flags}", "Go")
_c1 = _r.getrusage(_r.RUSAGE_SELF); _w1 = _t.perf_counter()
_w.LIVE_MARKDOWN = True
print("BENCH", _c1.ru_utime - _c0.ru_utime + _c1.ru_stime - _c0.ru_stime, _w1 - _w0,
      _res.status.value, len(_res.final_output.split()), len(_res.final_output.encode()))
"""
KINDS = {"quiet": ("--quiet", True), "text": ("", False), "markdown": ("", True)}


def serve(tokens: int) -> OpenAIServer:
    """A loopback server answering every request with a new markdown answer of `tokens` tokens."""
    salts = itertools.count()

    def handler(request: Request) -> Reply:
        return text_stream(markdown_answer(tokens, salt=f" r{next(salts)}"))

    return OpenAIServer(handler)


def measure(kernel: Kernel, kind: str) -> dict[str, float]:
    """One run: kernel CPU seconds, wall seconds, and the iopub traffic the client saw."""
    flags, markdown = KINDS[kind]
    ex = kernel.execute(CELL.format(flags=flags, markdown=markdown), timeout=600)
    line = next((x for x in ex.stdout.splitlines() if x.startswith("BENCH")), None)
    if line is None:
        raise RuntimeError(f"the cell failed: {ex.error or ex.stdout}")
    _, cpu, wall, status, words, size = line.split()
    if status != "COMPLETED":
        raise RuntimeError(f"run ended {status}")
    live = ex.of_type("comm_msg")
    return {
        "cpu": float(cpu),
        "wall": float(wall),
        "words": float(words),
        "size": float(size),
        "live_msgs": float(len(live)),
        "deltas": float(len(ex.deltas())),
        "live_bytes": float(ex.wire_bytes(live)),
        "bytes": float(ex.wire_bytes()),
    }


def static_copy(n: int) -> dict[str, float]:
    """Milliseconds to render the static copy of a 100 KB answer: cold, and after the live view."""
    from openstackai_nb import render
    from openstackai_nb.messages import Usage
    from openstackai_nb.results import RunResult, RunStatus

    def result(salt: str) -> RunResult:
        text = markdown_answer(16_000, salt=salt)
        while len(text.encode()) < 100_000:
            text += "\n" + markdown_answer(200, salt=salt + "+")
        return RunResult(
            run_id="bench", status=RunStatus.COMPLETED, final_output=text[:100_000], model="m",
            started_at=datetime.now(UTC), usage=Usage(prompt_tokens=1, completion_tokens=1),
        )  # fmt: skip

    cold_html, cold_bundle, warm_bundle = [], [], []
    size = 0
    for i in range(n):
        res = result(f" s{i}")
        size = len((res.final_output or "").encode())
        t = time.perf_counter()
        render.run_html(res)
        cold_html.append(time.perf_counter() - t)
        res = result(f" b{i}")
        t = time.perf_counter()
        render.run_bundle(res)
        cold_bundle.append(time.perf_counter() - t)
        res = result(f" w{i}")
        live = render.LiveMarkdown()  # what the live view does while the answer streams
        for k in range(0, len(res.final_output or ""), 400):
            live.feed((res.final_output or "")[k : k + 400])
            live.update()
        live.end()
        t = time.perf_counter()
        render.run_bundle(res)
        warm_bundle.append(time.perf_counter() - t)
    ms = 1000.0
    return {
        "size": float(size),
        "cold_html": statistics.median(cold_html) * ms,
        "cold_bundle": statistics.median(cold_bundle) * ms,
        "warm_bundle": statistics.median(warm_bundle) * ms,
    }


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of each instead of 9")
    parser.add_argument("--tokens", type=int, default=20_000)
    args = parser.parse_args()
    n = 3 if args.quick else 9
    server = serve(args.tokens)
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in KINDS}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = kernel_env(OPENAI_BASE_URL=server.url, OPENAI_API_KEY="sk-bench-not-a-real-key-000000",
                             OPENSTACKAI_NB_MODEL="test-model")  # fmt: skip
            kernel = Kernel(env, tmp)
            try:
                kernel.execute("%load_ext openstackai_nb")
                for kind in KINDS:  # warm-up: imports, the HTTP pool, anywidget, markdown-it, Pygments
                    measure(kernel, kind)
                for _ in range(n):
                    for kind in KINDS:
                        rows[kind].append(measure(kernel, kind))
            finally:
                kernel.close()
    finally:
        server.close()
    static = static_copy(n)

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[kind])

    q_cpu, t_cpu, m_cpu = med("quiet", "cpu"), med("text", "cpu"), med("markdown", "cpu")
    extra_md = m_cpu / t_cpu - 1
    extra_view = m_cpu / q_cpu - 1
    tokens = med("markdown", "words")
    print(f"live view while streaming a {int(tokens)}-token markdown answer ({c.machine()}, {n} runs each, medians)")
    labels = {
        "quiet": "without display (--quiet)",
        "text": "live view showing text",
        "markdown": "live view rendering markdown",
    }
    for kind, label in labels.items():
        print(
            f"  kernel CPU, {label + ':':30s} {med(kind, 'cpu') * 1000:7.0f} ms  wall {med(kind, 'wall') * 1000:.0f} ms"
        )
    print(f"  extra CPU of live markdown over live text: {extra_md * 100:+.1f}% (target < {TARGET * 100:.0f}%: "
          f"{'met' if extra_md < TARGET else 'MISSED'})")  # fmt: skip
    print(f"  extra CPU of the live view (markdown) over no display: {extra_view * 100:+.1f}%")
    for kind in ("text", "markdown"):
        print(f"  {kind:8s} live messages: {med(kind, 'live_msgs'):.0f} comm messages "
              f"({med(kind, 'deltas'):.0f} answer deltas), {med(kind, 'live_msgs') / med(kind, 'wall'):.1f}/s, "
              f"{med(kind, 'live_bytes') / med(kind, 'size'):.2f}x the answer's bytes")  # fmt: skip
    print(f"static copy of a {static['size'] / 1000:.0f} KB markdown answer (median of {n}):")
    print(f"  cold, HTML only (run_html):                 {static['cold_html']:6.1f} ms")
    print(f"  cold, whole bundle (html + markdown + text): {static['cold_bundle']:6.1f} ms")
    print(f"  after the live view rendered its blocks:    {static['warm_bundle']:6.1f} ms "
          f"(target < {STATIC_TARGET_MS:.0f} ms: {'met' if static['warm_bundle'] < STATIC_TARGET_MS else 'MISSED'}; "
          f"cold HTML {'met' if static['cold_html'] < STATIC_TARGET_MS else 'MISSED'})")  # fmt: skip
    print(json.dumps({"quiet_cpu": q_cpu, "text_cpu": t_cpu, "markdown_cpu": m_cpu, "extra_markdown": extra_md,
                      "extra_view": extra_view, **{f"static_{k}": v for k, v in static.items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
