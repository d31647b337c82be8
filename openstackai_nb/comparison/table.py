"""compare(): every agent on every case, repeated, concurrently, into one tidy DataFrame.

`compare(agents, inputs)` runs each (agent, case, repeat) through the one run loop
(`Runner.run_async`) on the private loop thread, so it works the same in a script and inside
Jupyter; every run is recorded in history like any other (its metadata carries a
``compare_id``, ``grid_id``, ``case_id`` and ``repeat``: resume.py takes a grid's finished runs
from there). The result is a pandas DataFrame with one row per run; `side_by_side()` (pivot.py)
puts agents next to each other. The cases are cases.py's, the score
columns scoring.py's (each run scored as it ends) and judge.py's (a second pass of judge runs);
the cost columns come from prices.py (`set_prices()`, then genai-prices). Where the runs execute
is the scheduler's business (scheduler.py).
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb._extras import require
from openstackai_nb._secrets import scrub, scrub_data
from openstackai_nb.comparison.cases import Case, load_cases
from openstackai_nb.comparison.judge import JUDGE_COST, Judge, judge_columns, judge_jobs
from openstackai_nb.comparison.prices import COST_COLUMNS, cost_columns, run_facts
from openstackai_nb.comparison.resume import grid_id, plan
from openstackai_nb.comparison.scheduler import Handle, Job, LocalScheduler, Scheduler
from openstackai_nb.comparison.scoring import Scorer, ScoreWarning, Scoring
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.agent import Agent
    from openstackai_nb.notebook.progress import CompareProgress
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.config import RunConfig

__all__ = ["COMPARE_COLUMNS", "ScoreWarning", "compare"]

COMPARE_COLUMNS = (
    "agent",
    "model",
    "case_id",
    "input",
    "expected",
    "repeat",
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
    "resumed",
    "error",
)
"""The columns of every `compare()` table, in order (metadata, typed answers, scores and costs follow)."""

Cases = str | Path | Iterable[str | Mapping[str, Any] | Case] | Any
"""What `compare` takes as inputs (cases.py): strings, dicts, Cases, a DataFrame or a .jsonl/.csv path."""


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


def _scorers(score: Scorer | Mapping[str, Scorer] | None) -> dict[str, Scorer]:
    if score is None:
        return {}
    scorers = dict(score) if isinstance(score, Mapping) else {"score": score}
    for name, fn in scorers.items():
        if not callable(fn):
            raise ConfigError(f"compare: scorer {name!r} must be a function fn(result, case), got {type(fn).__name__}")
        if name in COMPARE_COLUMNS or name in COST_COLUMNS or name in (JUDGE_COST, "judge_order"):
            raise ConfigError(f"compare: scorer name {name!r} clashes with a column; choose another name")
    return scorers


def _metadata_names(cases: Sequence[Case], scorers: Mapping[str, Scorer]) -> list[str]:
    """The metadata columns, in first-seen order; a name clashing with another column is a ConfigError."""
    names = list(dict.fromkeys(str(k) for case in cases for k in case.metadata))
    taken = {*COMPARE_COLUMNS, *COST_COLUMNS, *scorers, JUDGE_COST, "judge_order"}
    taken |= {f"{n}_reason" for n, fn in scorers.items() if isinstance(fn, Judge)}
    for name in names:
        if name in taken or name.startswith("output."):
            raise ConfigError(f"compare: the cases' metadata {name!r} clashes with a column of the table; rename it")
    return names


def _whole(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"compare: {name} must be a whole number >= {least}, got {value!r}")


def compare(
    agents: Agent | Sequence[Agent] | Mapping[str, Agent],
    inputs: Cases,
    *,
    concurrency: int = 8,
    config: RunConfig | None = None,
    score: Scorer | Mapping[str, Scorer] | None = None,
    progress: bool = True,
    scheduler: Scheduler | None = None,
    repeats: int = 1,
    seed: int | None = None,
    cache: bool | str | None = None,
    resume: bool | str = False,
) -> pd.DataFrame:
    """Run every agent on every case, `repeats` times, concurrently; one row per run.

    Columns: agent, model, case_id, input, expected, repeat, run_id, status, final_output,
    finish_reason, elapsed_time, turn_count, prompt_tokens, completion_tokens, n_tool_calls,
    cached_calls, resumed, error; then the cases' metadata columns; for agents with an
    `output_type`, one column per field of the typed answer, ``output.<field>`` (nested fields
    dotted, lists kept as lists, dtypes from the schema; final_output holds the answer's JSON text);
    then the score columns (`comparison.scoring`: one per scorer, ``<scorer>.<key>`` for a scorer
    returning a dict; a judge adds ``<name>_reason``, ``judge_order`` when pairwise, and
    ``judge_cost_usd``: see `comparison.judge`); then prompt_cost, completion_cost, cost_usd (USD)
    and cost_source: your `set_prices` first, then genai-prices for the models it knows (provider
    from the run's preset or base URL); NaN, never guessed, for the others (offline and local
    models), whose cost_source is None (see `comparison.prices`). Rows are in agent order, then case
    order, then repeat. cached_calls counts the model calls answered from the response cache
    (`cache=`), resumed marks the rows taken from history (`resume=`). Inputs, expected answers,
    metadata and judge reasons are scrubbed of secrets.

    A run that fails, times out or cannot start is a FAILED row with `error`; the others go on.
    Every run is recorded in history, its metadata carrying ``compare_id``, ``case_id`` and
    ``repeat`` (and ``seed`` when given); judge runs too (with ``judge`` and ``judged``).

    Args:
        agents: Agents (labelled by name) or a dict label -> Agent.
        inputs: the cases (`comparison.cases`): strings, dicts with ``input`` (and ``expected``,
            ``id``, ``metadata``), `Case` objects, a DataFrame with an ``input`` column, or a
            path to a .jsonl / .csv file of them. A case's id is given, or derived from its input.
        concurrency: runs in flight at once (>= 1), judge runs included.
        config: a RunConfig for every run (each run gets its own run_id).
        score: ``fn(result, case) -> number | bool | dict`` (column "score"), or a dict name ->
            fn; ``fn(result, input)`` (the input text) keeps working: a scorer gets the Case when
            its second parameter is named ``case`` or annotated `Case`. Ready ones:
            `openstackai_nb.scorers`. Called for COMPLETED runs as they end (others get NaN); a
            scorer that raises gives NaN and one `ScoreWarning` per scorer.
        progress: show a live progress table in a notebook, a progress line on stderr in a
            terminal; False shows nothing.
        scheduler: where runs execute (default: `LocalScheduler`, the private run loop;
            `DaskScheduler()` for a Dask cluster, whose runs this process records as they arrive).
        cache: the response cache for every run (`RunConfig.cache`: True, "read", "write" or
            False; None: the config's, else the session's `OPENSTACKAI_NB_CACHE`). See docs/cache.md.
        repeats: runs of each (agent, case) (>= 1), each its own run in history (`repeat` 0..N-1).
        seed: when given, each run's model settings get ``seed = seed + repeat``
            (`RunConfig.model_settings`): HTTP models send it in the request body (providers
            that honour a seed then make the grid reproducible), a `FunctionModel` sees it as
            ``info.settings["seed"]``.
        resume: True takes every (agent, case, repeat) of this grid already COMPLETED in history
            (after a restart, a crash, in another process) and runs only the rest; a compare id
            (``"cmp_..."``) does the same for that comparison's grid, and runs everything (saying
            so in one line) when this grid is another. A grid is its agents' fingerprints, cases,
            repeats and seed (`comparison.resume`); the ``resumed`` column marks rows from history.
            Scorers are applied again, so a changed scorer costs no model call. See docs/cache.md.

    Returns:
        A pandas DataFrame.

    Raises:
        ConfigError: bad agents, cases (named by row), concurrency, repeats, seed or scorer,
            before anything runs.
        KeyboardInterrupt: interrupted; running runs end CANCELLED; finished ones are in history.

    Example:
        >>> cases = [Case("What is 2+2?", expected="4"), Case("Name a prime", expected="7")]  # doctest: +SKIP
        >>> df = compare([fast, careful], cases, repeats=5, score=scorers.contains())         # doctest: +SKIP
        >>> side_by_side(df, "score")                                                         # doctest: +SKIP
    """
    from openstackai_nb.runner.config import RunConfig, new_run_id

    pairs = _labelled(agents)
    cases = load_cases(inputs)
    scorers = _scorers(score)
    meta_names = _metadata_names(cases, scorers)
    _whole("concurrency", concurrency, 1)
    _whole("repeats", repeats, 1)
    if seed is not None:
        _whole("seed", seed, 0)
    if config is None:
        config = RunConfig()
    elif not isinstance(config, RunConfig):
        raise ConfigError(f"compare: config must be a RunConfig, got {type(config).__name__}")
    if cache is not None:  # validated as RunConfig validates it (ConfigError naming cache=)
        config = RunConfig(**{**dict(config), "cache": cache})
    judges = {name: fn for name, fn in scorers.items() if isinstance(fn, Judge)}
    if any(j.pairwise for j in judges.values()) and len(pairs) != 2:
        raise ConfigError(f"compare: a pairwise judge compares exactly two agents, got {len(pairs)}")
    _pandas()  # fail before running anything when pandas is missing

    compare_id = f"cmp_{uuid.uuid4().hex[:12]}"
    grid = grid_id(pairs, cases, repeats, seed, config)
    jobs: list[Job] = []
    for (label, agent), case, repeat in itertools.product(pairs, cases, range(repeats)):
        metadata = {
            **config.metadata,
            "compare_id": compare_id,
            "grid_id": grid,
            "agent_label": label,
            "case_id": case.case_id,
            "repeat": repeat,
        }
        update: dict[str, Any] = {"run_id": new_run_id(), "metadata": metadata}
        if seed is not None:
            metadata["seed"] = seed + repeat
            update["model_settings"] = {**config.model_settings, "seed": seed + repeat}
        run_config = config.model_copy(update=update)
        jobs.append(Job(len(jobs), label, agent, case.input, run_config, case=case, repeat=repeat))
    plain = {name: fn for name, fn in scorers.items() if name not in judges}
    reserved = [*COMPARE_COLUMNS, *COST_COLUMNS, *meta_names, JUDGE_COST]
    scoring = Scoring(plain, len(jobs), reserved)
    resumed = plan(resume, grid, jobs)
    if resumed.line is not None:
        print(resumed.line, file=sys.stderr)
    already = [(jobs[i], r) for i, r in resumed.done.items()]
    ran = _run(
        resumed.todo, [label for label, _ in pairs], len(cases) * repeats, concurrency, progress, scheduler, scoring,
        already,
    )  # fmt: skip
    by_index = {**resumed.done, **{job.index: r for job, r in zip(resumed.todo, ran, strict=True)}}
    results = [by_index[job.index] for job in jobs]
    scoring.warn(len(jobs))
    columns = scoring.columns()
    if judges:
        runs = judge_jobs(judges, jobs, results, config, compare_id)
        done = _run([r.job for r in runs], ["judges"], len(runs), concurrency, progress, scheduler, None)
        columns.update(judge_columns(judges, runs, done, jobs))
    return _frame(jobs, results, meta_names, _in_scorer_order(columns, scorers), resumed.done)


def _in_scorer_order(columns: dict[str, Any], scorers: Mapping[str, Scorer]) -> dict[str, Any]:
    """Each scorer's columns (``name``, ``name.key``, ``name_reason``) in the scorers' order, then the shared ones."""
    ordered: dict[str, Any] = {}
    for name in scorers:
        for column in [c for c in columns if c in (name, f"{name}_reason") or c.startswith(f"{name}.")]:
            ordered[column] = columns.pop(column)
    return {**ordered, **columns}


def _run(
    jobs: Sequence[Job],
    labels: list[str],
    per_agent: int,
    concurrency: int,
    progress: bool,
    scheduler: Scheduler | None,
    scoring: Scoring | None,
    already: Sequence[tuple[Job, RunResult]] = (),
) -> list[RunResult]:
    """Run the jobs on the scheduler, drawing progress and scoring each run as it ends.

    `labels` are the progress view's rows, `per_agent` the runs of each; one label for jobs of
    several labels (the judges) counts them all on that row. `already` are runs taken from
    history (resume): scored and counted as done without running.
    """
    from openstackai_nb.notebook.progress import make_progress

    if not jobs:
        _take(already, scoring, None)
        return []
    compare_id = jobs[0].config.metadata.get("compare_id", "")
    scheduler = scheduler or LocalScheduler()
    row = labels[0] if len(labels) == 1 else None
    reports = _Reports(record=not getattr(scheduler, "records_runs", True), scoring=scoring, row=row)
    # Submitted first: a scheduler that refuses the jobs (ConfigError) leaves no progress table.
    handle = scheduler.submit(jobs, concurrency=concurrency, report=reports.report)
    try:
        reports.view = make_progress(labels, per_agent, enabled=progress)
        _take(already, scoring, reports.view)
    except BaseException:
        handle.cancel()
        raise
    return _wait(handle, reports, compare_id)


def _take(already: Sequence[tuple[Job, RunResult]], scoring: Scoring | None, view: CompareProgress | None) -> None:
    """Runs taken from history (resume): scored and shown as done, not recorded again."""
    for job, result in already:
        shown = scoring.score(job, result) if scoring is not None else None
        if view is not None:
            view.started(job.label)
            view.finished(job.label, result, shown)


class _Reports:
    """What the scheduler reports (from any thread), scored and shown on the progress view by compare's thread.

    For a remote scheduler (`records_runs` False) each finished run is also recorded here, in
    this process's history: nothing recorded it where it ran.
    """

    def __init__(self, *, record: bool, scoring: Scoring | None = None, row: str | None = None) -> None:
        self.events: queue.SimpleQueue[tuple[str, Job, RunResult | None]] = queue.SimpleQueue()
        self.record = record
        self.scoring = scoring
        self.row = row  # the view's one row for every job (the judges), else each job's label
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
                    view.started(self.row or job.label)
            elif result is not None:
                if self.record:
                    session.record(result, finished=True, wait=False)  # committed by flush()
                shown = self.scoring.score(job, result) if self.scoring is not None else None
                if view is not None:
                    view.finished(self.row or job.label, result, shown)

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


def _frame(
    jobs: Sequence[Job],
    results: Sequence[RunResult],
    meta_names: Sequence[str],
    scores: Mapping[str, Any],
    resumed: Mapping[int, RunResult],
) -> pd.DataFrame:
    import numpy as np

    pd = _pandas()
    cases = [job.case or Case(job.input) for job in jobs]
    data: dict[str, Any] = {
        "agent": [j.label for j in jobs],
        "model": [r.model for r in results],
        "case_id": [scrub(c.case_id) for c in cases],
        "input": [scrub(j.input) for j in jobs],
        "expected": pd.Series([scrub_data(c.expected) for c in cases], dtype=object),  # object, even all text
        "repeat": np.array([j.repeat for j in jobs], dtype=np.int64),
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
        "resumed": np.array([j.index in resumed for j in jobs], dtype=bool),
        "error": np.array([r.error for r in results], dtype=object),
    }
    for name in meta_names:
        data[name] = [scrub_data(c.metadata.get(name)) for c in cases]
    data.update(_typed_answers(results))
    data.update(scores)
    data.update(cost_columns([run_facts(r) for r in results], data["cached_calls"].tolist()))
    return pd.DataFrame(data)


def _typed_answers(results: Sequence[RunResult]) -> dict[str, Any]:
    """The ``output.<field>`` columns of typed answers (`output.columns`), scrubbed; none for text answers."""
    if not any(r.output_schema is not None for r in results):
        return {}
    from openstackai_nb._secrets import scrub_data
    from openstackai_nb.output.columns import output_columns
    from openstackai_nb.results import jsonable

    values = [scrub_data(jsonable(r.final_output)) if r.typed else None for r in results]
    return output_columns(values, [r.output_schema for r in results])
