"""The jobs of a comparison, made when they are asked for: a grid of any size costs no memory per job.

`Grid` is a `Sequence[Job]` of every (agent, case, repeat) in that order (agents, then cases,
then repeats: the table's row order). Job ``i`` is built from its position each time it is read
(its label, case and repeat by division, its RunConfig copied from the comparison's with its own
metadata), so a 100,000-run grid is a few objects, not 100,000 RunConfigs waiting for their
turn. Its run id is the same on every read: a keyed hash of the position (``run_`` and 16 hex
digits, as `new_run_id` makes; the key is random per comparison). `Picked` is some of a
grid's jobs, by position (what a resumed comparison still has to run).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from openstackai_nb.comparison.cases import Case, derived_id
from openstackai_nb.comparison.scheduler import Job

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.runner.config import RunConfig

__all__ = ["Grid", "GridCases", "Picked"]


class Grid(Sequence[Job]):
    """Every (agent, case, repeat) of a comparison, as jobs made on demand (see the module docs).

    Args:
        pairs: (label, agent) of each agent, in order.
        cases: the cases, in order.
        repeats: runs of each (agent, case).
        config: the comparison's RunConfig (each job gets a copy with its run_id and metadata).
        seed: when given, repeat ``r`` runs with ``seed + r`` (metadata and model settings).
        compare_id: the comparison's id (in every run's metadata).
        grid_id: the grid's identity (`comparison.resume.grid_id`).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, Agent]],
        cases: Sequence[Case],
        repeats: int,
        config: RunConfig,
        *,
        seed: int | None,
        compare_id: str,
        grid_id: str,
    ) -> None:
        self.pairs = list(pairs)
        self.cases = GridCases(cases)
        self.repeats = repeats
        self.config = config
        self.seed = seed
        self.compare_id = compare_id
        self.grid_id = grid_id
        self._key = os.urandom(16)
        self._per_agent = len(self.cases) * repeats

    def __len__(self) -> int:
        return len(self.pairs) * self._per_agent

    @overload
    def __getitem__(self, index: int) -> Job: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Job]: ...
    def __getitem__(self, index: int | slice) -> Job | Sequence[Job]:
        if isinstance(index, slice):
            return Picked(self, range(len(self))[index])
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"job {index} of a grid of {size}")
        return self._job(index)

    def __iter__(self) -> Iterator[Job]:
        return (self._job(i) for i in range(len(self)))

    def where(self, index: int) -> tuple[str, Case, int]:
        """(label, case, repeat) of job `index`, without making the job."""
        agent, rest = divmod(index, self._per_agent)
        case, repeat = divmod(rest, self.repeats)
        return self.pairs[agent][0], self.cases[case], repeat

    def run_id(self, index: int) -> str:
        """The run id of job `index` (the same on every call)."""
        digest = hashlib.blake2b(index.to_bytes(8, "little"), key=self._key, digest_size=8)
        return f"run_{digest.hexdigest()}"

    def _job(self, index: int) -> Job:
        agent_index, rest = divmod(index, self._per_agent)
        case_index, repeat = divmod(rest, self.repeats)
        label, agent = self.pairs[agent_index]
        case = self.cases[case_index]
        config = self.config
        metadata: dict[str, Any] = {
            **config.metadata,
            "compare_id": self.compare_id,
            "grid_id": self.grid_id,
            "agent_label": label,
            "case_id": case.case_id,
            "repeat": repeat,
        }
        update: dict[str, Any] = {"run_id": self.run_id(index), "metadata": metadata}
        if self.seed is not None:
            metadata["seed"] = self.seed + repeat
            update["model_settings"] = {**config.model_settings, "seed": self.seed + repeat}
        return Job(index, label, agent, case.input, config.model_copy(update=update), case=case, repeat=repeat)


class Picked(Sequence[Job]):
    """Some jobs of a sequence of jobs, by position (made when read, as the grid makes them)."""

    def __init__(self, jobs: Sequence[Job], positions: Sequence[int]) -> None:
        self.jobs = jobs
        self.positions = positions

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, index: int) -> Job: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Job]: ...
    def __getitem__(self, index: int | slice) -> Job | Sequence[Job]:
        if isinstance(index, slice):
            return Picked(self.jobs, self.positions[index])
        return self.jobs[self.positions[index]]

    def __iter__(self) -> Iterator[Job]:
        return (self.jobs[i] for i in self.positions)


class GridCases(Sequence[Case]):
    """A grid's cases, each made when read from what it holds: its input and, if any, expected, id, metadata.

    Why not the list of `Case` objects: a Case is a few small objects (the object, its field
    dict, a metadata dict) made before the grid runs and kept until it ends. CPython's
    small-object allocator fills its fullest arenas first, so the runs' objects went into the
    free blocks of the Cases' arenas, and the few of those that outlive the grid (a thread's
    wait, sqlite3's cursor list) kept these arenas once the Cases were freed. Kept here: a list
    of the inputs (the caller's own strings for plain-string cases: nothing new) and the other
    fields of the cases that have any (100,000 plain cases, a probe at the end of the runs:
    58.4 MB of live small objects before, 41.6 MB after, the same as before the compare).
    """

    def __init__(self, cases: Sequence[Case]) -> None:
        self._inputs = [case.input for case in cases]
        self._rest: dict[int, tuple[Any, str | None, Any]] = {
            i: (case.expected, case.id, case.metadata)
            for i, case in enumerate(cases)
            if case.expected is not None or case.id is not None or case.metadata
        }

    def __len__(self) -> int:
        return len(self._inputs)

    @overload
    def __getitem__(self, index: int) -> Case: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Case]: ...
    def __getitem__(self, index: int | slice) -> Case | Sequence[Case]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        text = self._inputs[index]
        if index < 0:
            index += len(self._inputs)
        rest = self._rest.get(index)
        return Case(text) if rest is None else Case(text, rest[0], rest[1], rest[2])

    def __iter__(self) -> Iterator[Case]:
        return (self[i] for i in range(len(self)))

    def column(self, name: str) -> list[Any]:
        """One field of every case, in order, without making the Cases (the table's columns).

        `name`: "input", "case_id", "expected", or a metadata key (None where a case has none).
        """
        rest = self._rest
        if name == "input":
            return list(self._inputs)
        if name == "case_id":  # as Case.case_id: the id given, else derived from the input
            ids = [rest[i][1] if i in rest else None for i in range(len(self._inputs))]
            return [derived_id(text) if given is None else given for given, text in zip(ids, self._inputs, strict=True)]
        if name == "expected":
            return [rest[i][0] if i in rest else None for i in range(len(self._inputs))]
        return [rest[i][2].get(name) if i in rest else None for i in range(len(self._inputs))]
