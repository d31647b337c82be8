"""LLM judges: an Agent that scores answers, run through this runner like any other agent.

A `Judge` (made by `scorers.judge`) holds a judge Agent whose `output_type` is `Verdict`
(score and reason) or, pairwise, `Preference` (which answer is better, and why). Its runs are
ordinary runs: recorded in history (metadata: compare_id, case_id, repeat, ``judge`` its name,
``judged`` the run id(s) it judged), limited by the comparison's RunConfig, costed like the
agents' runs.

In `compare`, judges do not run as each answer ends: once the grid is done, `judge_jobs` makes
one judge run per COMPLETED row (pointwise) or per (case, repeat) where both agents completed
(pairwise), and `compare` runs them through the same scheduler, with the same concurrency;
`JudgeVerdicts` keeps each judge run's verdict and cost as it ends and turns them into columns:

- ``<name>``: the verdict's score (pointwise, on the judge's scale), or the preference of this
  row's agent (pairwise: 1 won, 0.5 tie, 0 lost); NaN when there is no verdict;
- ``<name>_reason``: the judge's reason (scrubbed);
- ``judge_order`` (pairwise): the label of the agent whose answer the judge saw first. The order
  is drawn per pair by a `random.Random(seed)` (position bias is real), so the same seed gives
  the same orders;
- ``judge_cost_usd``: what this row's judge runs cost, over every judge of the comparison (a
  pairwise judge run's cost is split between the pair's two rows, so the column's total is
  what the judges cost); NaN when unknown, as in ``cost_usd``.

Called outside `compare`, a pointwise `Judge` is a scorer like any other: ``judge(result, case)``
runs the judge at once (`Runner.run_sync`) and returns ``{"score": ..., "reason": ...}``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from openstackai_nb._secrets import scrub
from openstackai_nb.comparison.cases import Case
from openstackai_nb.comparison.scheduler import Job
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.prices import RunFacts
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.config import RunConfig

__all__ = ["JUDGE_COST", "Judge", "JudgeRun", "JudgeVerdicts", "Preference", "Verdict", "judge_jobs"]

JUDGE_COST = "judge_cost_usd"
"""The column of what a row's judge runs cost (USD)."""


class Verdict(BaseModel):
    """A judge's verdict on one answer."""

    score: float = Field(description="the score, on the scale the instructions give")
    reason: str = Field(description="why, in one or two sentences")


class Preference(BaseModel):
    """A pairwise judge's verdict: which of two answers is better."""

    winner: Literal["first", "second", "tie"] = Field(description="the better answer, or tie")
    reason: str = Field(description="why, in one or two sentences")


_POINTWISE = (
    "You are a strict, fair judge of answers. Score the answer from {low} (worst) to {high} (best) "
    "by this rubric:\n{rubric}\nAnswer only with the score and a short reason."
)
_PAIRWISE = (
    "You are a strict, fair judge of answers. Two answers to the same question follow, in an order "
    "that means nothing. Say which is better by this rubric, or tie:\n{rubric}\nAnswer only with "
    "the winner (first, second or tie) and a short reason."
)


@dataclass(frozen=True, eq=False)
class Judge:
    """An LLM judge: a scorer that runs `agent` (made by `scorers.judge`) on each answer."""

    agent: Agent
    """The judge agent (its output_type is `Verdict`, or `Preference` when pairwise)."""
    rubric: str
    """What makes an answer good (put into the judge's instructions)."""
    scale: tuple[float, float] = (1, 5)
    """The lowest and highest score (pointwise)."""
    pairwise: bool = False
    """Compare two agents' answers to one case instead of scoring each."""
    seed: int = 0
    """The seed of the random order of the two answers (pairwise)."""
    takes_case = True  # scoring.takes_case: a judge gets the Case

    def prompt(self, case: Case, answer: str) -> str:
        """The judge's input for one answer."""
        parts = [f"Question:\n{case.input}"]
        if case.expected is not None:
            parts.append(f"Expected answer:\n{_text(case.expected)}")
        parts.append(f"Answer to judge:\n{answer}")
        return "\n\n".join(parts)

    def pair_prompt(self, case: Case, first: str, second: str) -> str:
        """The judge's input for two answers, in the order shown."""
        parts = [f"Question:\n{case.input}"]
        if case.expected is not None:
            parts.append(f"Expected answer:\n{_text(case.expected)}")
        parts += [f"First answer:\n{first}", f"Second answer:\n{second}"]
        return "\n\n".join(parts)

    def verdict(self, result: RunResult) -> tuple[float | None, str | None]:
        """The score (None: no verdict) and reason of one judge run."""
        if not result.succeeded:
            return None, result.error
        value = result.final_output  # the typed verdict; a dict once it went through JSON (history, a cluster)
        try:
            if self.pairwise:
                preference = Preference.model_validate(value, from_attributes=True)
                return {"first": 1.0, "second": 0.0, "tie": 0.5}[preference.winner], preference.reason
            verdict = Verdict.model_validate(value, from_attributes=True)
        except ValueError as exc:  # pydantic's ValidationError
            return None, f"not a verdict: {str(exc).splitlines()[0]}"
        return verdict.score, verdict.reason

    def __call__(self, result: RunResult, case: Case) -> dict[str, Any]:
        """Judge one answer now (outside `compare`): ``{"score": ..., "reason": ...}``."""
        from openstackai_nb.runner.api import Runner

        if self.pairwise:
            raise ConfigError("a pairwise judge compares two agents' answers: use it in compare(score=...)")
        if not isinstance(case, Case):  # pyright: ignore[reportUnnecessaryIsInstance]
            case = Case(input=str(case))
        run = Runner.run_sync(self.agent, self.prompt(case, result.output_text or ""))
        score, reason = self.verdict(run)
        return {"score": score, "reason": reason}


def instructions(rubric: str, scale: tuple[float, float], pairwise: bool) -> str:
    """The judge agent's instructions."""
    if pairwise:
        return _PAIRWISE.format(rubric=rubric)
    return _POINTWISE.format(rubric=rubric, low=_num(scale[0]), high=_num(scale[1]))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True)
class JudgeRun:
    """One judge run to make: which judge, which rows it judges (one, or two with the first shown first)."""

    name: str
    rows: tuple[int, ...]
    job: Job


def judge_jobs(
    judges: Mapping[str, Judge],
    jobs: Sequence[Job],
    answers: Sequence[str | None],
    run_ids: Sequence[str],
    config: RunConfig,
    compare_id: str,
) -> list[JudgeRun]:
    """The judge runs of a finished grid: one per COMPLETED row, or per pair of rows (pairwise).

    `answers` holds each row's answer text (None: the run did not complete), `run_ids` each
    row's run id: what a judge needs of the grid's runs, without their RunResults.
    """
    from openstackai_nb.runner.config import new_run_id

    runs: list[JudgeRun] = []

    def add(name: str, judge: Judge, rows: tuple[int, ...], case: Case, repeat: int, text: str) -> None:
        metadata = {
            **config.metadata,
            "compare_id": compare_id,
            "case_id": case.case_id,
            "repeat": repeat,
            "judge": name,
            "judged": [str(run_ids[i]) for i in rows],
        }
        run_config = config.model_copy(update={"run_id": new_run_id(), "metadata": metadata})
        job = Job(len(runs), f"judge:{name}", judge.agent, text, run_config, case=case, repeat=repeat)
        runs.append(JudgeRun(name, rows, job))

    for name, judge in judges.items():
        if not judge.pairwise:
            for job in jobs:
                answer = answers[job.index]
                if answer is not None:
                    case = job.case or Case(job.input)
                    add(name, judge, (job.index,), case, job.repeat, judge.prompt(case, answer))
            continue
        rng = random.Random(judge.seed)
        for a, b in _pairs(jobs):
            order = (a, b) if rng.random() < 0.5 else (b, a)  # drawn for every pair: one seed, one sequence
            first, second = (answers[i] for i in order)
            if first is not None and second is not None:
                job = jobs[a]
                case = job.case or Case(job.input)
                add(name, judge, order, case, job.repeat, judge.pair_prompt(case, first, second))
    return runs


def _pairs(jobs: Sequence[Job]) -> list[tuple[int, int]]:
    """The (first agent's row, second agent's row) of each (case, repeat), for exactly two agents."""
    labels = list(dict.fromkeys(job.label for job in jobs))
    if len(labels) != 2:
        raise ConfigError(
            f"compare: a pairwise judge compares exactly two agents, got {len(labels)} ({', '.join(labels)}); "
            "compare two at a time"
        )
    rows: dict[tuple[str, int], dict[str, int]] = {}
    for job in jobs:
        case_id = job.case.case_id if job.case is not None else job.input
        rows.setdefault((case_id, job.repeat), {})[job.label] = job.index
    return [(by[labels[0]], by[labels[1]]) for by in rows.values()]


class JudgeVerdicts:
    """The judge runs' verdicts and costs, taken as each judge run ends (its RunResult is not kept)."""

    def __init__(self, judges: Mapping[str, Judge], runs: Sequence[JudgeRun]) -> None:
        self.judges = judges
        self.runs = runs
        self.verdicts: list[tuple[float | None, str | None]] = [(None, None)] * len(runs)
        self.facts: list[RunFacts | None] = [None] * len(runs)

    def add(self, job: Job, result: RunResult) -> None:
        """Judge run `job.index` ended: keep its verdict and what its cost needs."""
        from openstackai_nb.prices import run_facts

        self.verdicts[job.index] = self.judges[self.runs[job.index].name].verdict(result)
        self.facts[job.index] = run_facts(result)

    def columns(self, jobs: Sequence[Job]) -> dict[str, Any]:
        """The judges' columns (see the module docs), in the grid's row order."""
        import numpy as np

        from openstackai_nb.prices import cost_columns

        size = len(jobs)
        out: dict[str, Any] = {}
        for name, judge in self.judges.items():
            out[name] = np.full(size, np.nan)
            out[f"{name}_reason"] = np.full(size, None, dtype=object)
            if judge.pairwise:
                out.setdefault("judge_order", np.full(size, None, dtype=object))
        cost = np.zeros(size)
        facts = [f for f in self.facts if f is not None]
        costs = cost_columns(facts)["cost_usd"] if len(facts) == len(self.runs) and facts else [np.nan] * len(self.runs)
        for run, (score, reason), usd in zip(self.runs, self.verdicts, costs, strict=True):
            judge = self.judges[run.name]
            for position, row in enumerate(run.rows):
                if judge.pairwise and score is not None:
                    out[run.name][row] = score if position == 0 else 1.0 - score
                elif score is not None:
                    out[run.name][row] = score
                out[f"{run.name}_reason"][row] = None if reason is None else scrub(reason)
                if judge.pairwise:
                    out["judge_order"][row] = scrub(jobs[run.rows[0]].label)
                cost[row] += usd / len(run.rows)  # NaN (unknown price) stays NaN
        out[JUDGE_COST] = cost
        return out
