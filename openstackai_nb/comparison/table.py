"""compare(): every agent on every input, concurrently, into one tidy DataFrame.

`compare(agents, inputs)` runs each (agent, input) pair through the one run loop
(`Runner.run_async`) on the private loop thread, so it works the same in a script and inside
Jupyter; every run is recorded in history like any other (its metadata carries a
``compare_id``). The result is a pandas DataFrame with one row per pair; `side_by_side()` puts
agents next to each other; `set_prices()` adds cost columns; `score=` adds score columns.

Scheduling sits behind one small seam, `Scheduler` (`submit(jobs, ...) -> Handle`), whose
local implementation bounds concurrency with an asyncio semaphore. A distributed scheduler
(Dask, DESIGN.md §5b) implements the same two methods and streams results back the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import queue
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.agent import Agent
    from openstackai_nb.runner.config import RunConfig
    from openstackai_nb.runner.result import RunResult

__all__ = [
    "COMPARE_COLUMNS",
    "Handle",
    "Job",
    "LocalScheduler",
    "Scheduler",
    "ScoreWarning",
    "compare",
    "get_prices",
    "set_prices",
    "side_by_side",
]

COMPARE_COLUMNS = (
    "agent",
    "model",
    "input",
    "run_id",
    "status",
    "final_output",
    "elapsed_time",
    "turn_count",
    "prompt_tokens",
    "completion_tokens",
    "n_tool_calls",
    "error",
)

Scorer = Callable[["RunResult", str], Any]


class ScoreWarning(UserWarning):
    """A scorer raised; its column holds NaN for that run."""


# -- prices ---------------------------------------------------------------------------------------

_prices: dict[str, tuple[float, float]] = {}
_prices_lock = threading.Lock()


def set_prices(
    prices: Mapping[str, Mapping[str, float]] | None, *, replace: bool = False
) -> dict[str, dict[str, float]]:
    """Give prices per model, in USD per million tokens, so `compare` adds cost columns.

    Only models named here get a cost; every other model's cost is NaN (never guessed).
    Names must match `RunResult.model` exactly (e.g. "gpt-4o-mini", "ollama:llama3.2").

    Args:
        prices: ``{"model": {"prompt": usd_per_million, "completion": usd_per_million}}``;
            None with ``replace=True`` forgets every price.
        replace: forget the prices given before (default: merge).

    Returns:
        The prices in force before the call.

    Raises:
        ConfigError: a price is missing, negative or not a number.

    Example:
        >>> set_prices({"gpt-4o-mini": {"prompt": 0.15, "completion": 0.60}})  # doctest: +SKIP
    """
    parsed: dict[str, tuple[float, float]] = {}
    for model, entry in (prices or {}).items():
        if not isinstance(model, str) or not model:
            raise ConfigError(f"set_prices: model names must be non-empty strings, got {model!r}")
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"set_prices: {model!r} must map to {{'prompt': usd_per_million, 'completion': usd_per_million}}, "
                f"got {entry!r}"
            )
        unknown = set(entry) - {"prompt", "completion"}
        if unknown:
            raise ConfigError(
                f"set_prices: {model!r} has unknown keys {sorted(unknown)}; use 'prompt' and 'completion'"
            )
        pair = []
        for kind in ("prompt", "completion"):
            value = entry.get(kind)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(
                    f"set_prices: {model!r} needs a {kind!r} price in USD per million tokens (a number >= 0), "
                    f"got {value!r}"
                )
            pair.append(float(value))
        parsed[model] = (pair[0], pair[1])
    with _prices_lock:
        previous = get_prices()
        if replace:
            _prices.clear()
        _prices.update(parsed)
    return previous


def get_prices() -> dict[str, dict[str, float]]:
    """The prices given with `set_prices` (USD per million tokens)."""
    return {m: {"prompt": p, "completion": c} for m, (p, c) in _prices.items()}


# -- the scheduling seam ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One (agent, input) run of a comparison."""

    index: int
    """Position in the result table."""
    label: str
    """The agent's label (its name, or the key given in a dict of agents)."""
    agent: Agent
    """The agent to run."""
    input: str
    """The prompt."""
    config: RunConfig
    """The run's config (its own run_id; metadata carries compare_id)."""


Report = Callable[[str, Job, "RunResult | None"], None]
"""`report(kind, job, result)`: kind "start" (result None) or "done"; called from any thread."""


class Handle(Protocol):
    """A submitted comparison: wait for it, or cancel it."""

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True once every job has ended."""
        ...

    def cancel(self) -> None:
        """Stop the jobs (running runs end CANCELLED) and wait until they have stopped."""
        ...

    def results(self) -> list[RunResult]:
        """The results in job order (after `wait` returned True); raises what the jobs raised."""
        ...


class Scheduler(Protocol):
    """Where the runs of a comparison execute (local asyncio by default; Dask later)."""

    def submit(self, jobs: Sequence[Job], *, concurrency: int, report: Report) -> Handle:
        """Start the jobs, at most `concurrency` at a time; call `report` as each starts and ends."""
        ...


class _LocalHandle:
    def __init__(self, jobs: Sequence[Job], concurrency: int, report: Report) -> None:
        from openstackai_nb.runner import _sync

        _sync.check_not_on_loop()
        self._loop, self._holder, self._done = _sync.submit(_run_all(jobs, concurrency, report))

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def cancel(self) -> None:
        from openstackai_nb.runner import _sync

        _sync.cancel_and_wait(self._loop, self._holder, self._done)

    def results(self) -> list[RunResult]:
        return self._holder[0].result()


class LocalScheduler:
    """Runs jobs on this process's private run loop, bounded by an asyncio semaphore."""

    def submit(self, jobs: Sequence[Job], *, concurrency: int, report: Report) -> Handle:
        """Start the jobs on the private loop thread and return at once."""
        return _LocalHandle(jobs, concurrency, report)


async def _run_all(jobs: Sequence[Job], concurrency: int, report: Report) -> list[RunResult]:
    from openstackai_nb.runner.executor import commits_deferred

    sem = asyncio.Semaphore(concurrency)

    async def one(job: Job) -> RunResult:
        async with sem:
            report("start", job, None)
            result = await run_job(job)
            report("done", job, result)
            return result

    # A run's history commit does not hold its slot; every run is committed before this returns.
    async with commits_deferred():
        tasks = [asyncio.ensure_future(one(job)) for job in jobs]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


async def run_job(job: Job) -> RunResult:
    """Run one job to a RunResult: timeouts and errors become FAILED results, never exceptions."""
    from openstackai_nb.errors import TimeoutError as RunTimeoutError
    from openstackai_nb.runner.executor import Runner

    try:
        return await Runner.run_async(job.agent, job.input, config=job.config)
    except RunTimeoutError as exc:
        if exc.result is not None:
            return exc.result
        return _failed(job, exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. ConfigError before the run started: a FAILED row
        return _failed(job, exc)


def _failed(job: Job, exc: BaseException) -> RunResult:
    """A FAILED result for a run that could not start (recorded in history like any run)."""
    from openstackai_nb import store
    from openstackai_nb._secrets import scrub
    from openstackai_nb.runner.config import RunStatus
    from openstackai_nb.runner.result import RunResult

    result = RunResult(
        run_id=job.config.run_id,
        status=RunStatus.FAILED,
        agent_name=job.agent.name,
        model=_model_name(job.agent),
        input=job.input,
        started_at=datetime.now(UTC),
        metadata=dict(job.config.metadata),
        error=scrub(f"{type(exc).__name__}: {exc}"),
    )
    store.record(result, finished=True, wait=False)  # committed by compare()'s closing barrier
    return result


def _model_name(agent: Agent) -> str:
    try:
        return agent.model_name
    except Exception:  # noqa: BLE001 - a broken model setting must not hide the row
        return ""


# -- compare ----------------------------------------------------------------------------------------


def _labelled(agents: Agent | Sequence[Agent] | Mapping[str, Agent]) -> list[tuple[str, Agent]]:
    from openstackai_nb.agent import Agent

    if isinstance(agents, Agent):
        pairs = [(agents.name, agents)]
    elif isinstance(agents, Mapping):
        pairs = [(str(k), v) for k, v in agents.items()]
    elif isinstance(agents, Iterable) and not isinstance(agents, str | bytes):
        pairs = [(getattr(a, "name", ""), a) for a in agents]
    else:
        raise ConfigError(
            f"compare: agents must be a list of Agents or a dict name -> Agent, got {type(agents).__name__}"
        )
    if not pairs:
        raise ConfigError("compare: no agents given")
    seen: set[str] = set()
    for label, agent in pairs:
        if not isinstance(agent, Agent):
            raise ConfigError(f"compare: {label or agent!r} is not an Agent ({type(agent).__name__})")
        if label in seen:
            raise ConfigError(
                f"compare: two agents are labelled {label!r}; pass a dict {{'label': agent}} or use "
                f"agent.clone(name=...) so each column has its own name"
            )
        seen.add(label)
    return pairs


def _inputs(inputs: str | Iterable[str]) -> list[str]:
    if isinstance(inputs, str):
        items = [inputs]
    else:
        try:
            items = list(inputs)
        except TypeError:
            raise ConfigError(f"compare: inputs must be a list of strings, got {type(inputs).__name__}") from None
    if not items:
        raise ConfigError("compare: no inputs given")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ConfigError(f"compare: inputs[{i}] must be a string, got {type(item).__name__}: {item!r:.60}")
    return items


def _scorers(score: Scorer | Mapping[str, Scorer] | None) -> dict[str, Scorer]:
    if score is None:
        return {}
    scorers = dict(score) if isinstance(score, Mapping) else {"score": score}
    for name, fn in scorers.items():
        if not callable(fn):
            raise ConfigError(f"compare: scorer {name!r} must be a function fn(result, input), got {type(fn).__name__}")
        if name in COMPARE_COLUMNS:
            raise ConfigError(f"compare: scorer name {name!r} clashes with a column; choose another name")
    return scorers


def compare(
    agents: Agent | Sequence[Agent] | Mapping[str, Agent],
    inputs: str | Iterable[str],
    *,
    concurrency: int = 8,
    config: RunConfig | None = None,
    score: Scorer | Mapping[str, Scorer] | None = None,
    progress: bool = True,
    scheduler: Scheduler | None = None,
) -> pd.DataFrame:
    """Run every agent on every input, concurrently, and return one row per (agent, input).

    Columns: agent, model, input, run_id, status, final_output, elapsed_time, turn_count,
    prompt_tokens, completion_tokens, n_tool_calls, error; then one column per scorer; then
    prompt_cost, completion_cost and cost (USD) when prices were given with `set_prices`
    (NaN for models without a price). Rows are in agent order, then input order.

    A run that fails, times out or cannot start is a FAILED row with `error`; the others go on.
    Every run is recorded in history, with ``compare_id`` in its metadata.

    Args:
        agents: Agents (labelled by name) or a dict label -> Agent.
        inputs: the prompts (a list, a pandas Series...).
        concurrency: runs in flight at once (>= 1).
        config: a RunConfig for every run (each run gets its own run_id).
        score: ``fn(result, input) -> number`` (column "score"), or a dict name -> fn. Called
            for COMPLETED runs (others get NaN); a scorer that raises gives NaN and a warning.
        progress: show a live progress table in a notebook, a progress line on stderr in a
            terminal; False shows nothing.
        scheduler: where runs execute (default: `LocalScheduler`, the private run loop).

    Returns:
        A pandas DataFrame.

    Raises:
        ConfigError: bad agents, inputs, concurrency or scorer, before anything runs.
        KeyboardInterrupt: interrupted; running runs end CANCELLED; finished ones are in history.

    Example:
        >>> df = compare([fast, careful], ["What is 2+2?", "Name a prime"], score=is_correct)  # doctest: +SKIP
        >>> side_by_side(df)                                                                    # doctest: +SKIP
    """
    from openstackai_nb.runner.config import RunConfig, new_run_id

    pairs = _labelled(agents)
    prompts = _inputs(inputs)
    scorers = _scorers(score)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"compare: concurrency must be a whole number >= 1, got {concurrency!r}")
    if config is None:
        config = RunConfig()
    elif not isinstance(config, RunConfig):
        raise ConfigError(f"compare: config must be a RunConfig, got {type(config).__name__}")
    _pandas()  # fail before running anything when pandas is missing

    compare_id = f"cmp_{uuid.uuid4().hex[:12]}"
    metadata = {**config.metadata, "compare_id": compare_id}
    jobs = [
        Job(
            index=i,
            label=label,
            agent=agent,
            input=prompt,
            config=config.model_copy(update={"run_id": new_run_id(), "metadata": dict(metadata)}),
        )
        for i, ((label, agent), prompt) in enumerate(itertools.product(pairs, prompts))
    ]
    from openstackai_nb.notebook.progress import make_progress

    view = make_progress([label for label, _ in pairs], len(prompts), enabled=progress)
    events: queue.SimpleQueue[tuple[str, Job, RunResult | None]] = queue.SimpleQueue()

    def report(kind: str, job: Job, result: RunResult | None) -> None:
        events.put((kind, job, result))

    def drain() -> None:
        while True:
            try:
                kind, job, result = events.get_nowait()
            except queue.Empty:
                return
            if kind == "start":
                view.started(job.label)
            elif result is not None:
                view.finished(job.label, result)

    handle = (scheduler or LocalScheduler()).submit(jobs, concurrency=concurrency, report=report)
    try:
        while not handle.wait(0.1):
            drain()
            view.refresh()
    except BaseException as exc:
        handle.cancel()
        drain()
        view.close(interrupted=True)
        if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
            exc.add_note(
                f"compare {compare_id} was interrupted; its finished runs are in history: "
                f"history.filter(metadata={{'compare_id': '{compare_id}'}})"
            )
        raise
    drain()
    view.close()
    results = handle.results()
    return _frame(jobs, results, scorers)


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a declared extra
        raise ImportError(
            'compare() returns a DataFrame and needs pandas: pip install "openstackai-nb[pandas]"'
        ) from None
    return pd


def _frame(jobs: Sequence[Job], results: Sequence[RunResult], scorers: Mapping[str, Scorer]) -> pd.DataFrame:
    import numpy as np

    pd = _pandas()
    data: dict[str, Any] = {
        "agent": [j.label for j in jobs],
        "model": [r.model for r in results],
        "input": [j.input for j in jobs],
        "run_id": [r.run_id for r in results],
        "status": [r.status.value for r in results],
        "final_output": [r.final_output for r in results],
        "elapsed_time": np.array([r.elapsed_time for r in results], dtype=np.float64),
        "turn_count": np.array([r.turn_count for r in results], dtype=np.int64),
        "prompt_tokens": np.array([r.usage.prompt_tokens for r in results], dtype=np.int64),
        "completion_tokens": np.array([r.usage.completion_tokens for r in results], dtype=np.int64),
        "n_tool_calls": np.array([len(r.tool_calls) for r in results], dtype=np.int64),
        "error": np.array([r.error for r in results], dtype=object),
    }
    for name, fn in scorers.items():
        data[name] = _score_column(name, fn, jobs, results)
    prices = dict(_prices)
    if prices:
        prompt_cost = np.full(len(results), np.nan)
        completion_cost = np.full(len(results), np.nan)
        for i, r in enumerate(results):
            price = prices.get(r.model)
            if price is not None:
                prompt_cost[i] = r.usage.prompt_tokens * price[0] / 1e6
                completion_cost[i] = r.usage.completion_tokens * price[1] / 1e6
        data["prompt_cost"] = prompt_cost
        data["completion_cost"] = completion_cost
        data["cost"] = prompt_cost + completion_cost
    return pd.DataFrame(data)


def _score_column(name: str, fn: Scorer, jobs: Sequence[Job], results: Sequence[RunResult]) -> Any:
    import numpy as np

    values: list[Any] = []
    failures = 0
    first = ""
    for job, result in zip(jobs, results, strict=True):
        if not result.succeeded:
            values.append(np.nan)
            continue
        try:
            value = fn(result, job.input)
        except Exception as exc:  # noqa: BLE001 - a scorer's bug costs a NaN, not the comparison
            failures += 1
            first = first or f"{type(exc).__name__}: {exc}"
            value = np.nan
        if isinstance(value, bool | np.bool_):
            value = float(value)
        values.append(np.nan if value is None else value)
    if failures:
        warnings.warn(
            f"compare: scorer {name!r} raised on {failures} of {len(results)} runs (first: {first}); "
            "those scores are NaN",
            ScoreWarning,
            stacklevel=4,
        )
    if all(isinstance(v, int | float | np.integer | np.floating) for v in values):
        return np.array(values, dtype=np.float64)
    return np.array(values, dtype=object)


# -- pivot ----------------------------------------------------------------------------------------


def side_by_side(
    df: pd.DataFrame,
    values: str | Sequence[str] = "final_output",
    *,
    index: str = "input",
    columns: str = "agent",
) -> pd.DataFrame:
    """Pivot a `compare` table: inputs as rows, agents as columns (in their original order).

    When an (input, agent) pair appears more than once (repeated inputs), numbers are averaged
    and other values keep the first run's.

    Args:
        df: the DataFrame `compare` returned (or any with these columns).
        values: the column to show (default the answers), or a list of columns.
        index: the row key (default "input").
        columns: the column key (default "agent").

    Example:
        >>> side_by_side(df, "score")  # doctest: +SKIP
    """
    pd = _pandas()
    names = [values] if isinstance(values, str) else list(values)
    missing = [c for c in [index, columns, *names] if c not in df.columns]
    if missing:
        raise ConfigError(f"side_by_side: no column {missing[0]!r}; the table has {list(df.columns)}")
    rows = pd.unique(df[index])
    cols = pd.unique(df[columns])
    grouped = df.groupby([index, columns], sort=False)
    parts = {}
    for name in names:
        numeric = pd.api.types.is_numeric_dtype(df[name]) and not pd.api.types.is_bool_dtype(df[name])
        series: Any = grouped[name].mean() if numeric else grouped[name].first()
        table = series.unstack(columns).reindex(index=rows, columns=cols)
        table.columns.name = columns
        parts[name] = table
    if isinstance(values, str):
        return parts[values]
    return pd.concat(parts, axis=1)
