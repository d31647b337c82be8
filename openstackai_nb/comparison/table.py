"""compare(): every agent on every input, concurrently, into one tidy DataFrame.

`compare(agents, inputs)` runs each (agent, input) pair through the one run loop
(`Runner.run_async`) on the private loop thread, so it works the same in a script and inside
Jupyter; every run is recorded in history like any other (its metadata carries a
``compare_id``). The result is a pandas DataFrame with one row per pair; `side_by_side()` puts
agents next to each other; `score=` adds score columns; the cost columns come from prices.py
(`set_prices()`, then genai-prices). Where the runs execute is the scheduler's business (scheduler.py).
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from openstackai_nb._extras import require
from openstackai_nb._secrets import scrub
from openstackai_nb._warnings import warn
from openstackai_nb.comparison.prices import COST_COLUMNS, cost_columns, run_facts
from openstackai_nb.comparison.scheduler import Handle, Job, LocalScheduler, Scheduler
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.agent import Agent
    from openstackai_nb.notebook.progress import CompareProgress
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.config import RunConfig

__all__ = ["COMPARE_COLUMNS", "ScoreWarning", "compare", "side_by_side"]

COMPARE_COLUMNS = (
    "agent",
    "model",
    "input",
    "run_id",
    "status",
    "final_output",
    "finish_reason",
    "elapsed_time",
    "turn_count",
    "prompt_tokens",
    "completion_tokens",
    "n_tool_calls",
    "cached_calls",
    "error",
)
"""The columns of every `compare()` table, in order (scores and costs follow)."""

Scorer = Callable[["RunResult", str], Any]


class ScoreWarning(UserWarning):
    """A scorer raised; its column holds NaN for that run."""


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
        if name in COMPARE_COLUMNS or name in COST_COLUMNS:
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
    cache: bool | str | None = None,
) -> pd.DataFrame:
    """Run every agent on every input, concurrently, and return one row per (agent, input).

    Columns: agent, model, input, run_id, status, final_output, finish_reason, elapsed_time, turn_count,
    prompt_tokens, completion_tokens, n_tool_calls, cached_calls, error; for agents with an `output_type`, one
    column per field of the typed answer, ``output.<field>`` (nested fields dotted, lists kept as
    lists, dtypes from the schema; final_output holds the answer's JSON text); then one column per
    scorer; then prompt_cost, completion_cost, cost_usd (USD) and cost_source: your `set_prices`
    first, then genai-prices for the models it knows (provider from the run's preset or base URL);
    NaN, never guessed, for the others (offline and local models), whose cost_source is None (see
    `comparison.prices`). Rows are in agent order, then input order. cached_calls counts the
    model calls answered from the response cache (`cache=`).

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
        scheduler: where runs execute (default: `LocalScheduler`, the private run loop;
            `DaskScheduler()` for a Dask cluster, whose runs this process records as they arrive).
        cache: the response cache for every run (`RunConfig.cache`: True, "read", "write" or
            False; None: the config's, else the session's `OPENSTACKAI_NB_CACHE`). See docs/cache.md.

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
    if cache is not None:  # validated as RunConfig validates it (ConfigError naming cache=)
        config = RunConfig(**{**dict(config), "cache": cache})
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

    scheduler = scheduler or LocalScheduler()
    reports = _Reports(record=not getattr(scheduler, "records_runs", True))
    # Submitted first: a scheduler that refuses the jobs (ConfigError) leaves no progress table.
    handle = scheduler.submit(jobs, concurrency=concurrency, report=reports.report)
    try:
        reports.view = make_progress([label for label, _ in pairs], len(prompts), enabled=progress)
    except BaseException:
        handle.cancel()
        raise
    return _frame(jobs, _wait(handle, reports, compare_id), scorers)


class _Reports:
    """What the scheduler reports (from any thread), shown on the progress view by compare's thread.

    For a remote scheduler (`records_runs` False) each finished run is also recorded here, in
    this process's history: nothing recorded it where it ran.
    """

    def __init__(self, *, record: bool) -> None:
        self.events: queue.SimpleQueue[tuple[str, Job, RunResult | None]] = queue.SimpleQueue()
        self.record = record
        self.view: CompareProgress | None = None

    def report(self, kind: str, job: Job, result: RunResult | None) -> None:
        self.events.put((kind, job, result))

    def drain(self) -> None:
        from openstackai_nb.store import session

        view = self.view
        while True:
            try:
                kind, job, result = self.events.get_nowait()
            except queue.Empty:
                return
            if kind == "start":
                if view is not None:
                    view.started(job.label)
            elif result is not None:
                if self.record:
                    session.record(result, finished=True, wait=False)  # committed by flush()
                if view is not None:
                    view.finished(job.label, result)

    def flush(self) -> None:
        """Wait until the runs recorded here are committed (nothing to do when the runner recorded them)."""
        if self.record:
            from openstackai_nb.store import session

            session.flush()


def _wait(handle: Handle, reports: _Reports, compare_id: str) -> list[RunResult]:
    """Wait for every job, drawing progress; on an interrupt cancel the jobs and say where the finished ones are."""
    view = reports.view
    try:
        while not handle.wait(0.1):
            reports.drain()
            if view is not None:
                view.refresh()
    except BaseException as exc:
        handle.cancel()
        reports.drain()
        reports.flush()
        if view is not None:
            view.close(interrupted=True)
        if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
            exc.add_note(
                f"compare {compare_id} was interrupted; its finished runs are in history: "
                f"history.filter(metadata={{'compare_id': '{compare_id}'}})"
            )
        raise
    reports.drain()
    reports.flush()
    if view is not None:
        view.close()
    return handle.results()


def _pandas() -> Any:
    return require("pandas", "pandas", "compare() returns a DataFrame: it")


def _frame(jobs: Sequence[Job], results: Sequence[RunResult], scorers: Mapping[str, Scorer]) -> pd.DataFrame:
    import numpy as np

    pd = _pandas()
    data: dict[str, Any] = {
        "agent": [j.label for j in jobs],
        "model": [r.model for r in results],
        "input": [scrub(j.input) for j in jobs],
        "run_id": [r.run_id for r in results],
        "status": [r.status.value for r in results],
        "final_output": [None if r.output_text is None else scrub(r.output_text) for r in results],
        "finish_reason": [r.finish_reason for r in results],
        "elapsed_time": np.array([r.elapsed_time for r in results], dtype=np.float64),
        "turn_count": np.array([r.turn_count for r in results], dtype=np.int64),
        "prompt_tokens": np.array([r.usage.prompt_tokens for r in results], dtype=np.int64),
        "completion_tokens": np.array([r.usage.completion_tokens for r in results], dtype=np.int64),
        "n_tool_calls": np.array([len(r.tool_calls) for r in results], dtype=np.int64),
        "cached_calls": np.array([r.cached_calls for r in results], dtype=np.int64),
        "error": np.array([r.error for r in results], dtype=object),
    }
    data.update(_typed_answers(results))
    for name, fn in scorers.items():
        data[name] = _score_column(name, fn, jobs, results)
    data.update(cost_columns([run_facts(r) for r in results], data["cached_calls"].tolist()))
    return pd.DataFrame(data)


def _typed_answers(results: Sequence[RunResult]) -> dict[str, Any]:
    """The ``output.<field>`` columns of typed answers (`store.outputs`), scrubbed; none for text answers."""
    if not any(r.output_schema is not None for r in results):
        return {}
    from openstackai_nb._secrets import scrub_data
    from openstackai_nb.results import jsonable
    from openstackai_nb.store.outputs import output_columns

    values = [scrub_data(jsonable(r.final_output)) if r.typed else None for r in results]
    return output_columns(values, [r.output_schema for r in results])


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
        warn(
            f"compare: scorer {name!r} raised on {failures} of {len(results)} runs (first: {first}); "
            "those scores are NaN",
            ScoreWarning,
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
