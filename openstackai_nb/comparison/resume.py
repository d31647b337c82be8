"""Resume a comparison: a grid's identity, and its runs already finished in history.

A grid is what a comparison runs: its agents (each by its fingerprint: label, name,
instructions, model and endpoint, model settings, tool schemas, MCP servers, output schema,
approval), its cases (id, input, expected), its repeats and its seed. `grid_id()` hashes that
definition, so the same grid started again (after a restart, after the kernel was killed, in
another process) has the same id, and any change to it makes another id. Scorers are not part
of it: changing a scorer and resuming re-scores the runs without running them again.

Every run of `compare()` carries ``grid_id`` and ``agent_label`` in its metadata (resumed or
not), so a grid interrupted without `resume=` can be resumed later. `plan()` looks up the
grid's COMPLETED runs in the session's history and splits the jobs into those to run and those
already done; a run that failed, was cancelled or was still running at a kill is run again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openstackai_nb.comparison.grid import Grid, Picked
from openstackai_nb.errors import ConfigError
from openstackai_nb.results import jsonable

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.comparison.cases import Case
    from openstackai_nb.comparison.scheduler import Job
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.config import RunConfig

__all__ = ["Plan", "agent_fingerprint", "grid_id", "plan"]


def agent_fingerprint(agent: Agent) -> dict[str, Any]:
    """What defines an agent's runs, as plain JSON (no key: a model is its name and endpoint)."""
    from openstackai_nb.models.base import Model

    model: Any = agent.model
    if isinstance(model, Model):
        model = {"type": type(model).__name__, "name": model.name, "endpoint": model.endpoint}
    return {
        "name": agent.name,
        "instructions": agent.instructions if isinstance(agent.instructions, str) else repr(agent.instructions),
        "model": model or agent.model_name,
        "model_settings": jsonable(agent.model_settings),
        "tools": [jsonable(d.to_openai()) for d in agent.tool_definitions()],
        "mcp_servers": [getattr(s, "label", repr(s)) for s in agent.mcp_servers],
        "output": agent.output.schema if agent.output is not None else None,
        # The value the old `Agent.approve` gave here (None counted as "function"), so grids keep their id.
        "approve": True if agent.requires_approval() and agent.approver is None else "function",
    }


def grid_id(
    pairs: Sequence[tuple[str, Agent]], cases: Sequence[Case], repeats: int, seed: int | None, config: RunConfig
) -> str:
    """The grid's identity: a hash of its agents' fingerprints, its cases, repeats, seed and request settings."""
    definition = {
        "agents": [[label, agent_fingerprint(agent)] for label, agent in pairs],
        "cases": [[c.case_id, c.input, jsonable(c.expected)] for c in cases],
        "repeats": repeats,
        "seed": seed,
        "model_settings": jsonable(config.model_settings),
    }
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return "grid_" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Plan:
    """Which jobs of a grid run, and which come from history."""

    todo: Sequence[Job]
    """The jobs to run (the grid itself when nothing is resumed; made when read, as the grid's are)."""
    done: dict[int, RunResult] = field(default_factory=dict)
    """Job index -> the COMPLETED run taken from history."""
    line: str | None = None
    """One line for the user (what was resumed, or why nothing was)."""


def _finished(where: dict[str, Any]) -> dict[tuple[str, str, int], RunResult]:
    """(agent label, case_id, repeat) -> the newest COMPLETED run of the history matching `where`."""
    from openstackai_nb.store import session

    found: dict[tuple[str, str, int], RunResult] = {}
    for result in session.get_history().filter(status="COMPLETED", metadata=where):
        meta = result.metadata
        key = (str(meta.get("agent_label", result.agent_name)), str(meta.get("case_id")), int(meta.get("repeat", 0)))
        found[key] = result  # oldest first: a newer run of the same pair replaces it
    return found


def _grid_of(compare_id: str) -> str | None:
    from openstackai_nb.store import session

    for result in session.get_history().filter(metadata={"compare_id": compare_id}):
        if result.metadata.get("grid_id"):
            return str(result.metadata["grid_id"])
    raise ConfigError(
        f"compare: resume={compare_id!r}: no run of that comparison in the history "
        f"({session.get_history().path}); pass resume=True to resume this grid wherever it was started"
    )


def plan(resume: bool | str, grid: str, jobs: Sequence[Job]) -> Plan:
    """Split `jobs` into those to run and those whose COMPLETED run is in history (see the module docs)."""
    if resume is False:
        return Plan(jobs)
    if isinstance(resume, str):
        if not resume.startswith("cmp_"):
            raise ConfigError(f"compare: resume must be True, False or a compare id 'cmp_...', got {resume!r}")
        if _grid_of(resume) != grid:
            return Plan(
                jobs,
                line=f"compare: {resume} was another grid (its agents, cases, repeats or seed differ): "
                f"running this one ({grid}) from the start, all {len(jobs)} runs",
            )
    elif resume is not True:
        raise ConfigError(f"compare: resume must be True, False or a compare id 'cmp_...', got {resume!r}")
    finished = _finished({"grid_id": grid})
    todo: list[int] = []
    done: dict[int, RunResult] = {}
    for i in range(len(jobs)):
        if isinstance(jobs, Grid):  # its label, case and repeat without making the job
            label, case, repeat = jobs.where(i)
            key = (label, case.case_id, repeat)
        else:
            job = jobs[i]
            key = (job.label, job.case.case_id if job.case is not None else "", job.repeat)
        result = finished.get(key)
        if result is None:
            todo.append(i)
        else:
            done[i] = result
    if not done:
        line = f"compare: no finished run of this grid ({grid}) in history: running all {len(jobs)} runs"
    else:
        line = f"compare: resuming {grid}: {len(done)} of {len(jobs)} runs from history, running {len(todo)}"
    return Plan(Picked(jobs, todo), done, line)
