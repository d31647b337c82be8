"""Shared pieces of the benchmarks: the loopback server process, the contenders, timing and memory.

Every benchmark script runs the same way:
- the parent (`python benchmarks/bench_x.py`) starts the loopback server (`tests/_server.py`) in its
  own process, then runs each contender in a fresh worker subprocess of the same script
  (`--worker NAME`), so contenders share neither a GIL nor imports, and each worker's peak RSS is
  its own;
- a worker prints one JSON line with its figures; the parent prints the table.

Contenders (all against the same server, the same request shape, the same tool):
- raw:         httpx2 by hand, one pooled AsyncClient; the floor;
- ours:        openstackai_nb, history on (the default: every run recorded);
- ours-nohist: openstackai_nb with OPENSTACKAI_NB_HISTORY=off (history kept in memory only);
- ours-norec:  openstackai_nb with no run observers (`set_default_observers([])`; an older tree:
               `set_recorder(RunRecorder())`): the runner alone, nothing recorded;
- agents:      openai-agents (Runner.run / run_streamed, OpenAIChatCompletionsModel, tracing off);
- pydantic-ai: pydantic-ai (Agent.run / run_stream, OpenAIChatModel + OpenAIProvider);
- ours-base:   openstackai_nb as the tree at OPENSTACKAI_NB_BASE_TREE has it (e.g. a `git worktree`
               of an earlier commit), history on: before/after figures of a change in one run.
On request only (`--only`; they need opentelemetry-api/-sdk, the `[otel]` extra and the SDK):
- ours-otel-idle: ours with `opentelemetry.trace` imported but no tracer provider set (the API's
               default proxy): what an app that uses OpenTelemetry elsewhere pays when it does not
               trace; the GenAI spans must cost nothing here;
- ours-otel:   ours emitting GenAI spans to an SDK TracerProvider with no exporter (spans built,
               ended and dropped): the cost of the spans themselves.

Run with the peers venv (`bash benchmarks/setup_peers.sh`), e.g.
`benchmarks/.peers-venv/bin/python benchmarks/bench_overhead.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODEL = "test-model"
INSTRUCTIONS = "You are a helpful assistant."
PROMPT = "What is the value of x? Use the lookup tool."

ALL = ("raw", "ours", "ours-nohist", "ours-norec", "agents", "pydantic-ai", "ours-base")
EXTRA = ("ours-otel-idle", "ours-otel")
"""Contenders run only when named in --only."""
BASE_TREE_ENV = "OPENSTACKAI_NB_BASE_TREE"
"""A checkout of another commit of this repository: the `ours-base` contender imports the package from it."""


def lookup(key: str) -> str:
    """Look up the value stored under a key."""
    return f"value of {key}"


# -- the server ---------------------------------------------------------------------------------
class Server:
    """tests/_server.py in its own process; `url` is its base URL (…/v1)."""

    def __init__(self, mode: str = "text", words: int = 5, latency: float = 0.0) -> None:
        cmd = [sys.executable, "-m", "tests._server", "--mode", mode, "--words", str(words)]
        if latency:
            cmd += ["--latency", str(latency)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.close()
            raise RuntimeError(f"the loopback server did not start (printed {self.url!r})")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- measuring ----------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """One line saying where the figures come from."""
    cpus = os.cpu_count()
    return f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, {cpus} cores"


def run_worker(script: str, contender: str, params: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
    """Run `script --worker contender` in a fresh process; return its JSON line (or an error)."""
    env = dict(os.environ)
    env.pop("OPENSTACKAI_NB_HISTORY", None)
    if contender == "ours-nohist":
        env["OPENSTACKAI_NB_HISTORY"] = "off"
    if contender == "ours-base":
        base = os.environ.get(BASE_TREE_ENV)
        if not base or not (Path(base) / "openstackai_nb").is_dir():
            return {"error": f"ours-base needs {BASE_TREE_ENV}=<a checkout of another commit> (e.g. git worktree add)"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(base).resolve()), env.get("PYTHONPATH")]))
    # A fresh working folder per worker: the history store (default `.openstackai_nb/` in the
    # working directory) starts empty and never lands in the repo.
    with tempfile.TemporaryDirectory(prefix="openstackai_nb_bench_") as cwd:
        cmd = [sys.executable, str(Path(script).resolve()), "--worker", contender, "--params", json.dumps(params)]
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1])


def worker_main(measure: Callable[[str, dict[str, Any]], dict[str, Any]]) -> bool:
    """If this process is a worker, run `measure(contender, params)`, print JSON, return True."""
    if "--worker" not in sys.argv:
        return False
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--params", required=True)
    args, _ = parser.parse_known_args()
    out = measure(args.worker, json.loads(args.params))
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(out), flush=True)
    return True


def median_of(rounds: Sequence[float]) -> float:
    return statistics.median(rounds)


# -- the contenders -----------------------------------------------------------------------------
class Contender:
    """One way to run the agent: `run(stream=..., tools=...)` returns the final text."""

    name = "?"

    async def run(self, *, stream: bool, tools: bool) -> str:
        raise NotImplementedError

    async def close(self) -> None:
        """Release clients."""


class Raw(Contender):
    """httpx2 by hand: the same request body, JSON or SSE parsed, the tool round trip done inline."""

    name = "raw"

    def __init__(self, base_url: str) -> None:
        import httpx2

        self.httpx2 = httpx2
        self.url = base_url + "/chat/completions"
        self.client = httpx2.AsyncClient(
            timeout=httpx2.Timeout(None, connect=15.0),
            limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=500),
            trust_env=False,
        )
        self.headers = {"authorization": "Bearer x", "content-type": "application/json"}
        self.tools = [{"type": "function", "function": {
            "name": "lookup", "description": "Look up the value stored under a key.",
            "parameters": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
        }}]  # fmt: skip

    async def _post(self, messages: list[dict[str, Any]], tools: bool, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": MODEL, "messages": messages}
        if tools:
            body["tools"] = self.tools
        if not stream:
            r = await self.client.post(self.url, content=json.dumps(body).encode(), headers=self.headers)
            r.raise_for_status()
            return r.json()["choices"][0]["message"]
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        async with self.client.stream("POST", self.url, content=json.dumps(body).encode(), headers=self.headers) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                for choice in chunk.get("choices") or ():
                    delta = choice["delta"]
                    if delta.get("content"):
                        text.append(delta["content"])
                    for tc in delta.get("tool_calls") or ():
                        slot = calls.setdefault(tc["index"], {"id": "", "name": "", "arguments": ""})
                        if tc.get("id"):
                            slot["id"] = tc["id"]
                        fn = tc.get("function") or {}
                        slot["name"] += fn.get("name") or ""
                        slot["arguments"] += fn.get("arguments") or ""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
        if calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for _, c in sorted(calls.items())
            ]
        return message

    async def run(self, *, stream: bool, tools: bool) -> str:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": PROMPT},
        ]
        while True:
            message = await self._post(messages, tools, stream)
            if not message.get("tool_calls"):
                return message.get("content") or ""
            messages.append(message)
            for call in message["tool_calls"]:
                args = json.loads(call["function"]["arguments"])
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": lookup(**args)})

    async def close(self) -> None:
        await self.client.aclose()


class Ours(Contender):
    """openstackai_nb: Runner.run_async (non-streamed) / Runner.run_stream (streamed)."""

    name = "ours"

    def __init__(self, base_url: str, *, record: bool = True, otel: str = "") -> None:
        from openstackai_nb import Agent, Runner
        from openstackai_nb.models.openai import OpenAIChatModel

        if otel:
            import opentelemetry.trace  # noqa: F401 - "idle": imported, no provider set

        if otel == "spans":
            from opentelemetry.sdk.trace import TracerProvider

            from openstackai_nb import tracing

            tracing.instrument(TracerProvider())
        if not record:
            try:  # the observer interface (issue 24): a run with no observers records nothing
                from openstackai_nb.runner.observers import set_default_observers

                set_default_observers([])
            except ImportError:  # an older tree as ours-base: its recorder seam
                from openstackai_nb.runner import RunRecorder, set_recorder

                set_recorder(RunRecorder())

        self.Runner = Runner
        self.agents: dict[tuple[bool, bool], Any] = {}
        for stream in (False, True):
            model = OpenAIChatModel(MODEL, base_url=base_url, api_key="x", stream=stream)
            for tools in (False, True):
                self.agents[stream, tools] = Agent(
                    name="bench", instructions=INSTRUCTIONS, tools=[lookup] if tools else [], model=model
                )

    async def run(self, *, stream: bool, tools: bool) -> str:
        agent = self.agents[stream, tools]
        if not stream:
            result = await self.Runner.run_async(agent, PROMPT)
            if result.status != "COMPLETED":
                raise RuntimeError(f"run ended {result.status}: {result.error}")
            return result.final_output or ""
        parts = [s async for s in self.Runner.run_stream(agent, PROMPT)]
        return "".join(parts)

    async def close(self) -> None:
        from openstackai_nb.models import _http

        await _http.aclose_all()


class OpenAIAgents(Contender):
    """openai-agents: Runner.run / Runner.run_streamed with OpenAIChatCompletionsModel, tracing off."""

    name = "agents"

    def __init__(self, base_url: str) -> None:
        from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
        from openai import AsyncOpenAI

        set_tracing_disabled(True)
        self.Runner = Runner
        self.client = AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
        model = OpenAIChatCompletionsModel(model=MODEL, openai_client=self.client)
        tool = function_tool(lookup)
        self.agents = {
            tools: Agent(name="bench", instructions=INSTRUCTIONS, tools=[tool] if tools else [], model=model)
            for tools in (False, True)
        }

    async def run(self, *, stream: bool, tools: bool) -> str:
        agent = self.agents[tools]
        if not stream:
            result = await self.Runner.run(agent, PROMPT)
            return str(result.final_output)
        from openai.types.responses import ResponseTextDeltaEvent

        result = self.Runner.run_streamed(agent, PROMPT)
        parts: list[str] = []
        async for event in result.stream_events():
            if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent):
                parts.append(event.data.delta)
        return "".join(parts)

    async def close(self) -> None:
        await self.client.close()


class PydanticAI(Contender):
    """pydantic-ai: Agent.run / Agent.run_stream with OpenAIChatModel + OpenAIProvider."""

    name = "pydantic-ai"

    def __init__(self, base_url: str) -> None:
        from pydantic_ai import Agent
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        model = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=base_url, api_key="x"))
        self.agents = {
            tools: Agent(model, instructions=INSTRUCTIONS, tools=[lookup] if tools else []) for tools in (False, True)
        }

    async def run(self, *, stream: bool, tools: bool) -> str:
        agent = self.agents[tools]
        if not stream:
            result = await agent.run(PROMPT)
            return str(result.output)
        parts: list[str] = []
        async with agent.run_stream(PROMPT) as result:
            async for delta in result.stream_text(delta=True):
                parts.append(delta)
        return "".join(parts)


def make(contender: str, base_url: str) -> Contender:
    """The contender of that name, pointed at the server."""
    if contender in ("ours", "ours-nohist", "ours-norec", "ours-base"):
        return Ours(base_url, record=contender != "ours-norec")
    if contender in EXTRA:
        return Ours(base_url, otel="spans" if contender == "ours-otel" else "idle")
    return {"raw": Raw, "agents": OpenAIAgents, "pydantic-ai": PydanticAI}[contender](base_url)


# -- the parent's side ----------------------------------------------------------------------------
def parse_args(doc: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs: a smoke test in seconds")
    default = [c for c in ALL if c != "ours-base" or os.environ.get(BASE_TREE_ENV)]
    parser.add_argument(
        "--only", default=",".join(default), help=f"comma-separated contenders (default: {','.join(default)})"
    )
    if extra:
        extra(parser)
    args = parser.parse_args()
    args.contenders = [c for c in args.only.split(",") if c]
    unknown = set(args.contenders) - set(ALL) - set(EXTRA)
    if unknown:
        parser.error(f"unknown contender(s) {sorted(unknown)}; choose from {ALL + EXTRA}")
    return args


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table (also valid markdown)."""
    padded = [list(row) + [""] * (len(columns) - len(row)) for row in rows]
    cells = [[str(c) for c in columns]] + [[_fmt(v) for v in row] for row in padded]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [f"\n{title}", ""]
    lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        padded_cells = (c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        lines.append("| " + " | ".join(padded_cells) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def verdict(value: float, limit: float, what: str) -> str:
    """'met' or 'missed by N%' for value <= limit."""
    if value <= limit:
        return f"{what}: met ({value:.2f} <= {limit:g})"
    return f"{what}: MISSED by {100 * (value / limit - 1):.0f}% ({value:.2f} > {limit:g})"


def header(what: str) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{what}\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}, load average {load}"


def timed_loop(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call of a coroutine function, over n sequential calls on one loop."""

    async def go() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await fn()
        return (time.perf_counter() - t0) / n

    return asyncio.run(go())


def profile(contender: Contender, *, stream: bool, tools: bool, n: int, top: int = 30) -> None:
    """cProfile `n` sequential runs of one contender; print the top functions by own time."""
    import cProfile
    import pstats

    async def go() -> None:
        for _ in range(max(3, n // 10)):
            await contender.run(stream=stream, tools=tools)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            await contender.run(stream=stream, tools=tools)
        prof.disable()
        await contender.close()
        stats = pstats.Stats(prof)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)

    asyncio.run(go())
