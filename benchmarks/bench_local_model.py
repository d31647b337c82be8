"""compare() on a real llama.cpp server (SmolLM2-135M, 4 slots), and our overhead per run.

1. compare(): 4 agents x N inputs at concurrency 4 (the server's 4 slots) and at concurrency 1,
   every answer exactly `--tokens` tokens long (`ignore_eos`, temperature 0): wall time, runs per
   second, generated tokens per second.
2. Our overhead per run: sequential runs, each one's `elapsed_time` minus the time the server says
   it spent on that request (prompt_ms + predicted_ms: the deltas of llama-server's /metrics
   counters, read once the request has left the server's books). The floor is the same request
   made by hand with httpx2, non-streamed and streamed, minus the `timings` object llama-server
   puts in its answer: HTTP, JSON and the server's own bookkeeping. Ours minus the floor is what
   the package adds (building the request, SSE parsing, events, history recording).

Needs llama-server and the model (`bash scripts/llama_server.sh`, once per machine).

    .venv/bin/python benchmarks/bench_local_model.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.local_model._llama import LlamaServer, missing_reason  # noqa: E402

MODEL = "smollm2"
PROMPTS = [
    "Name a colour.",
    "What is 2 + 2?",
    "Say hello.",
    "Name a fruit.",
    "What day comes after Monday?",
    "Name an animal.",
    "Give me a number.",
    "Name a country.",
]
_METRIC = re.compile(r"^llamacpp:(\w+) ([0-9.e+-]+)$", re.M)


def metrics(server: LlamaServer) -> dict[str, float]:
    with urllib.request.urlopen(f"{server.root}/metrics", timeout=10) as resp:
        return {m.group(1): float(m.group(2)) for m in _METRIC.finditer(resp.read().decode())}


def settled_metrics(server: LlamaServer, predicted_at_least: float) -> dict[str, float]:
    """/metrics once the last request is in its counters (they are updated as a slot is released)."""
    deadline = time.monotonic() + 10
    while True:
        m = metrics(server)
        if m.get("tokens_predicted_total", 0) >= predicted_at_least or time.monotonic() > deadline:
            return m
        time.sleep(0.005)


def settings(tokens: int) -> dict[str, Any]:
    return {"temperature": 0, "seed": 42, "max_tokens": tokens, "ignore_eos": True}


def bench_compare(server: LlamaServer, n_inputs: int, tokens: int) -> list[str]:
    from openstackai_nb import Agent, compare

    agents = [
        Agent(
            name=f"agent{i}",
            model=f"llamacpp:{MODEL}",
            instructions=f"You are assistant number {i}.",
            model_settings=settings(tokens),
        )
        for i in range(4)
    ]
    inputs = (PROMPTS * 4)[:n_inputs]
    compare(agents=agents[:1], inputs=inputs[:2], concurrency=2, progress=False, cache=False)  # warm-up
    lines = []
    for concurrency in (4, 1):
        t0 = time.perf_counter()
        df = compare(agents=agents, inputs=inputs, concurrency=concurrency, progress=False, cache=False)
        wall = time.perf_counter() - t0
        bad = df[df["status"] != "COMPLETED"]
        if len(bad):
            raise RuntimeError(f"{len(bad)} runs did not complete: {list(bad['error'])[:3]}")
        runs = len(df)
        generated = int(df["completion_tokens"].sum())
        lines.append(
            f"  concurrency {concurrency}: {runs} runs in {wall:6.2f} s  {runs / wall:5.2f} runs/s  "
            f"{generated / wall:6.1f} generated tokens/s  (median run {df['elapsed_time'].median() * 1000:.0f} ms)"
        )
    return lines


async def _raw(url: str, body: dict[str, Any], stream: bool) -> tuple[float, float]:
    """One request by hand: (wall seconds, server seconds from its `timings`)."""
    import httpx2

    async with httpx2.AsyncClient(timeout=60) as client:
        await client.post(f"{url}/chat/completions", json={**body, "max_tokens": 1})  # connection warm
        t0 = time.perf_counter()
        if not stream:
            resp = await client.post(f"{url}/chat/completions", json=body)
            wall = time.perf_counter() - t0
            timings = resp.json()["timings"]
        else:
            timings = {}
            async with client.stream("POST", f"{url}/chat/completions", json={**body, "stream": True}) as resp:
                async for line in resp.aiter_lines():
                    if line.startswith("data: {"):
                        chunk = json.loads(line[6:])
                        timings = chunk.get("timings") or timings
            wall = time.perf_counter() - t0
    return wall, (timings["prompt_ms"] + timings["predicted_ms"]) / 1000


def bench_overhead(server: LlamaServer, n: int, tokens: int) -> list[str]:
    from openstackai_nb import Agent, Runner

    agent = Agent(
        name="bench", model=f"llamacpp:{MODEL}", instructions="You are helpful.", model_settings=settings(tokens)
    )
    body = {
        "model": MODEL,
        "messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": ""}],
        **settings(tokens),
    }
    rows: dict[str, list[float]] = {"raw (httpx2, JSON)": [], "raw (httpx2, stream)": [], "ours (run_async)": []}
    server_ms: dict[str, list[float]] = {k: [] for k in rows}

    async def ours(prompt: str) -> tuple[float, float]:
        before = metrics(server)
        result = await Runner.run_async(agent, prompt)
        if result.status.value != "COMPLETED":
            raise RuntimeError(result.error)
        after = settled_metrics(server, before.get("tokens_predicted_total", 0) + result.usage.completion_tokens)
        spent = (after["prompt_seconds_total"] - before["prompt_seconds_total"]) + (
            after["tokens_predicted_seconds_total"] - before["tokens_predicted_seconds_total"]
        )
        return result.elapsed_time, spent

    async def go() -> None:
        await Runner.run_async(agent, "warm up")
        for i in range(n):
            prompt = PROMPTS[i % len(PROMPTS)] + f" ({i})"  # no prompt-cache hit across rounds
            one = {**body, "messages": [body["messages"][0], {"role": "user", "content": prompt}]}
            for key, coro in (
                ("raw (httpx2, JSON)", _raw(server.url, one, stream=False)),
                ("raw (httpx2, stream)", _raw(server.url, one, stream=True)),
                ("ours (run_async)", ours(prompt)),
            ):
                wall, spent = await coro
                rows[key].append(wall - spent)
                server_ms[key].append(spent)

    asyncio.run(go())
    lines = []
    for key, over in rows.items():
        lines.append(
            f"  {key:22s} overhead per run {statistics.median(over) * 1000:6.1f} ms "
            f"(server compute {statistics.median(server_ms[key]) * 1000:6.1f} ms; median of {len(over)})"
        )
    floor = statistics.median(rows["raw (httpx2, stream)"])
    ours_over = statistics.median(rows["ours (run_async)"])
    lines.append(f"  ours above the streamed floor: {(ours_over - floor) * 1000:+.1f} ms per run")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke run")
    args = parser.parse_args()
    reason = missing_reason()
    if reason:
        sys.exit(reason)
    n_inputs, n_seq, tokens = (4, 5, 16) if args.quick else (8, 20, 32)
    scratch = tempfile.mkdtemp(prefix="osnb-bench-")
    os.environ["OPENSTACKAI_NB_HISTORY"] = os.path.join(scratch, "h.sqlite")
    server = LlamaServer.start(slots=4, ctx_size=2048, extra=["--metrics"])
    os.environ["LLAMACPP_BASE_URL"] = server.url
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"llama-server (SmolLM2-135M Q4_1, -np 4 -c 2048 -t 2), {now}, load average {load}")
        print(f"1. compare(): 4 agents x {n_inputs} inputs, {tokens} tokens per answer")
        print("\n".join(bench_compare(server, n_inputs, tokens)))
        print(f"2. overhead per run: {n_seq} sequential one-turn runs, {tokens} tokens each")
        print("\n".join(bench_overhead(server, n_seq, tokens)))
    finally:
        server.stop()
        from openstackai_nb.store import get_history

        get_history().flush()  # its last writes, before the scratch folder goes
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
