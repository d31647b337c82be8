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

Memory does not grow with the grid: the jobs are made when the scheduler reads them (grid.py),
and each finished run is scored, shown and its cells copied into the table's column arrays
(`store.frames.RunColumns`, the one home of runs as DataFrames) as it ends (running.py); its
RunResult is then let go. With judges, the graded answers' text is kept until the judges run.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb._extras import require
from openstackai_nb._secrets import scrub, scrub_data
from openstackai_nb.comparison._heap import malloc_trim
from openstackai_nb.comparison.cases import Case, load_cases
from openstackai_nb.comparison.grid import Grid
from openstackai_nb.comparison.judge import JUDGE_COST, Judge, JudgeVerdicts, judge_jobs
from openstackai_nb.comparison.progress import Progress
from openstackai_nb.comparison.resume import grid_id, plan
from openstackai_nb.comparison.running import run_jobs
from openstackai_nb.comparison.scheduler import Job, Scheduler
from openstackai_nb.comparison.scheduler_names import SchedulerName, as_scheduler
from openstackai_nb.comparison.scoring import Scorer, ScoreWarning, Scoring
from openstackai_nb.errors import ConfigError
from openstackai_nb.prices import COST_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.agent import Agent
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
    progress: bool | Progress = True,
    scheduler: Scheduler | SchedulerName | None = None,
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
            terminal; False shows nothing; or a function ``(rows, runs_per_row) -> view`` that
            makes the view (`comparison.progress`: the protocol it follows).
        scheduler: where runs execute: "local" (default, the private run loop), "dask" (a Dask
            cluster, as `%%agent --scheduler dask`; this process records its runs), or a Scheduler.
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
        ConfigError: bad agents, cases (named by row), concurrency, repeats, seed, scorer or
            progress, before anything runs.
        KeyboardInterrupt: interrupted; running runs end CANCELLED; finished ones are in history.

    Example:
        >>> cases = [Case("What is 2+2?", expected="4"), Case("Name a prime", expected="7")]  # doctest: +SKIP
        >>> df = compare([fast, careful], cases, repeats=5, score=scorers.contains())         # doctest: +SKIP
        >>> side_by_side(df, "score")                                                         # doctest: +SKIP
    """
    from openstackai_nb.runner.config import RunConfig

    pairs = _labelled(agents)
    cases = load_cases(inputs)
    scorers = _scorers(score)
    meta_names = _metadata_names(cases, scorers)
    _whole("concurrency", concurrency, 1)
    _whole("repeats", repeats, 1)
    if seed is not None:
        _whole("seed", seed, 0)
    if not isinstance(progress, bool) and not callable(progress):
        raise ConfigError(
            f"compare: progress must be True, False or a function (rows, runs_per_row) -> view, got {progress!r}"
        )
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
    scheduler = as_scheduler(scheduler)

    compare_id = f"cmp_{uuid.uuid4().hex[:12]}"
    jobs = Grid(
        pairs,
        cases,
        repeats,
        config,
        seed=seed,
        compare_id=compare_id,
        grid_id=grid_id(pairs, cases, repeats, seed, config),
    )
    del cases  # the grid keeps what it needs of them (`GridCases`: why)
    plain = {name: fn for name, fn in scorers.items() if name not in judges}
    reserved = [*COMPARE_COLUMNS, *COST_COLUMNS, *meta_names, JUDGE_COST]
    scoring = Scoring(plain, len(jobs), reserved)
    resumed = plan(resume, jobs.grid_id, jobs)
    if resumed.line is not None:
        print(resumed.line, file=sys.stderr)
    table = _Table(jobs, meta_names, answers=bool(judges))
    already = [(jobs[i], r) for i, r in resumed.done.items()]
    table.resumed[list(resumed.done)] = True
    resumed.done.clear()  # from here on the table holds their cells, not the RunResults
    labels = [label for label, _ in pairs]
    run_jobs(
        resumed.todo,
        labels,
        len(jobs.cases) * repeats,
        concurrency=concurrency,
        progress=progress,
        scheduler=scheduler,
        scoring=scoring,
        on_done=table.add,
        already=already,
    )
    del already
    scoring.warn(len(jobs))
    columns = scoring.columns()
    if judges:
        runs = judge_jobs(judges, jobs, table.answers, table.run_ids(), config, compare_id)
        verdicts = JudgeVerdicts(judges, runs)
        run_jobs(
            [r.job for r in runs],
            ["judges"],
            len(runs),
            concurrency=concurrency,
            progress=progress,
            scheduler=scheduler,
            scoring=None,
            on_done=verdicts.add,
        )
        columns.update(verdicts.columns(jobs))
    return table.frame(_in_scorer_order(columns, scorers))


def _in_scorer_order(columns: dict[str, Any], scorers: Mapping[str, Scorer]) -> dict[str, Any]:
    """Each scorer's columns (``name``, ``name.key``, ``name_reason``) in the scorers' order, then the shared ones."""
    ordered: dict[str, Any] = {}
    for name in scorers:
        for column in [c for c in columns if c in (name, f"{name}_reason") or c.startswith(f"{name}.")]:
            ordered[column] = columns.pop(column)
    return {**ordered, **columns}


def _pandas() -> Any:
    return require("pandas", "pandas", "compare() returns a DataFrame: it")


class _Table:
    """compare's table as its runs finish: the grid's columns, and each run's cells (`store.frames`)."""

    def __init__(self, jobs: Grid, meta_names: Sequence[str], *, answers: bool) -> None:
        import numpy as np

        from openstackai_nb.store.frames import RunColumns, Texts

        self.jobs = jobs
        self.meta_names = meta_names
        self.cells = RunColumns(len(jobs))
        self.resumed = np.zeros(len(jobs), dtype=bool)
        """True for the rows taken from history (`resume=`)."""
        self.answers = Texts(len(jobs) if answers else 0)
        """Each COMPLETED run's answer text as the model gave it (what a judge reads); only with judges.

        As UTF-8 bytes until a judge reads it, as the table's own texts (`store._texts`: why)."""

    def add(self, job: Job, result: RunResult) -> None:
        """A run of the grid ended (or was taken from history): keep its cells."""
        self.cells.add(job.index, result)
        if len(self.answers) and result.succeeded:
            self.answers.put(job.index, result.output_text or "")

    def run_ids(self) -> Sequence[str]:
        """The run id of each row."""
        return self.cells.columns()["run_id"]

    def frame(self, scores: Mapping[str, Any]) -> pd.DataFrame:
        """The DataFrame: COMPARE_COLUMNS, metadata, typed answers, scores, costs (see `compare`)."""
        import numpy as np

        pd = _pandas()
        grid = self.jobs
        agents, per_case = len(grid.pairs), grid.repeats

        def by_case(values: list[Any]) -> Any:  # one value per case -> one per row
            cells = np.empty(len(values), dtype=object)
            cells[:] = values
            return np.tile(np.repeat(cells, per_case), agents)

        cases = grid.cases  # a GridCases: each column read without making the Cases
        labels = np.empty(agents, dtype=object)
        labels[:] = [label for label, _ in grid.pairs]
        run = self.cells.columns()
        data: dict[str, Any] = {
            "agent": np.repeat(labels, len(cases) * per_case),
            "model": run["model"],
            "case_id": by_case([scrub(c) for c in cases.column("case_id")]),
            "input": by_case([scrub(c) for c in cases.column("input")]),
            "expected": pd.Series(by_case([scrub_data(c) for c in cases.column("expected")]), dtype=object),
            "repeat": np.tile(np.arange(per_case, dtype=np.int64), agents * len(cases)),
        }
        data.update({name: run[name] for name in COMPARE_COLUMNS if name in run})
        data["resumed"] = self.resumed
        data["error"] = run["error"]
        data = {name: data[name] for name in COMPARE_COLUMNS}
        for name in self.meta_names:
            data[name] = by_case([scrub_data(c) for c in cases.column(name)]).tolist()  # dtype inferred
        data.update(self.cells.typed_answers())
        data.update(scores)
        data.update(self.cells.costs())
        frame = pd.DataFrame(data)
        del data
        if len(frame) >= _TRIM_ROWS:
            _trim_when_deleted(frame)
        return frame


_TRIM_ROWS = 10_000


def _trim_when_deleted(frame: pd.DataFrame) -> None:
    """Once `frame` is deleted, hand the C heap's free memory back to the system (glibc only).

    Why: building a large table allocates its columns and their temporaries (hundreds of KB
    each: below glibc's mmap threshold, about 1 MB after pandas is imported and raised by every
    larger block freed) from the process's main heap, which glibc shrinks only from its top.
    After ``del df`` the freed columns sit under whatever small block was allocated above them
    later, so the heap keeps them. Six probes of benchmarks/bench_compare_memory.py's grid of
    100,000 runs, after ``del df; gc.collect()``: the main heap ([heap] in /proc/self/smaps)
    stayed 0, 0, 0, 1, 15 and 32 MB above its size before the compare, that much of it free
    (mallinfo2 fordblks), and ``malloc_trim(0)`` then gave all of it back (163 -> 130 MB RSS in
    the worst). Calling it when compare() returns gives nothing (the table still holds that
    memory), nor does a weakref callback on the table (it runs before the table's columns are
    freed): `_Trim` is the last entry of the table's attribute dict, so it is freed after the
    table's data (``_mgr``). It walks the free chunks (a few ms for a 100,000-row table), so
    only tables of `_TRIM_ROWS` rows or more get it.
    """
    trim = malloc_trim()
    if trim is None:  # not glibc: nothing to give back this way
        return
    object.__setattr__(frame, "_openstackai_nb_trim", _Trim(trim))  # not a column: pandas' setattr is bypassed


class _Trim:
    """Calls ``malloc_trim(0)`` when freed (see `_trim_when_deleted`)."""

    __slots__ = ("trim",)

    def __init__(self, trim: Any) -> None:
        self.trim = trim

    def __del__(self) -> None:
        try:
            self.trim(0)
        except Exception:  # noqa: BLE001, S110 - at interpreter exit ctypes may be gone: nothing to give back then
            pass
