"""The score columns of `compare()`: scorers called on each run as it finishes.

A scorer is ``fn(result, case)``: it gets the `RunResult` and the `Case` (input, expected, id,
metadata). The old form ``fn(result, input)`` keeps working: a scorer gets the `Case` when its
second parameter is named ``case`` or annotated `Case`, and the input text otherwise (so
``lambda r, i: ...`` written for the old form is unchanged; name the parameter ``case`` to get
the Case). The ready scorers of `openstackai_nb.scorers` all take the Case.

A scorer returns a number or a bool (one column, named after the scorer: "score" for a lone
function, the key for a dict of scorers; a bool counts as 1.0 / 0.0), None (no score: NaN), or
a dict of named numbers: one column per key, ``<scorer>.<key>`` (as typed answers'
``output.<field>``). Other values are kept as they are (text scrubbed). It is called for
COMPLETED runs only (the others get NaN), on compare's thread as each run ends, so the progress
view can show a running mean. A scorer that raises gives NaN for that run, and one `ScoreWarning`
per scorer at the end of the comparison (how many runs, and the first error), never one per run.

Judges (`scorers.judge`, `comparison.judge.Judge`) are scorers too, but they run agents: they
are not called here, `compare` runs them in a second pass (judge.py).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub
from openstackai_nb._warnings import warn
from openstackai_nb.comparison.cases import Case
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    from openstackai_nb.comparison.scheduler import Job
    from openstackai_nb.results import RunResult

__all__ = ["ScoreWarning", "Scorer", "Scoring", "first_number", "takes_case"]

Scorer = Callable[["RunResult", Any], Any]
"""``fn(result, case) -> number | bool | dict | None`` (or the old ``fn(result, input)``)."""


class ScoreWarning(UserWarning):
    """A scorer raised; its column holds NaN for those runs."""


def takes_case(fn: Callable[..., Any]) -> bool:
    """True when `fn`'s second parameter is named ``case`` or annotated `Case` (it gets the Case)."""
    if getattr(fn, "takes_case", False):
        return True
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: the old form
        return False
    if len(params) < 2:
        return False
    second = params[1]
    annotation = second.annotation
    named = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return second.name == "case" or annotation is Case or named in ("Case", "comparison.Case")


def first_number(value: Any) -> float | None:
    """The number a progress view shows for a score: the value, or a dict's first value; else None."""
    if isinstance(value, Mapping):
        value = next(iter(value.values()), None)  # pyright: ignore[reportUnknownArgumentType,reportUnknownMemberType]
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None if math.isnan(float(value)) else float(value)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - pandas needs numpy
        return None
    if isinstance(value, np.integer | np.floating | np.bool_):
        number = float(value)
        return None if math.isnan(number) else number
    return None


class Scoring:
    """The plain (non-judge) scorers of one comparison, and the values they gave, by job index."""

    def __init__(self, scorers: Mapping[str, Scorer], size: int, reserved: Sequence[str]) -> None:
        self.scorers = dict(scorers)
        self.size = size
        self.reserved = set(reserved)
        self.case_arg = {name: takes_case(fn) for name, fn in self.scorers.items()}
        self.values: dict[str, dict[str, _Scores]] = {}
        """Scorer -> its columns (in the order they first appeared) -> the values by job index."""
        self.failures: dict[str, tuple[int, str]] = {}

    def score(self, job: Job, result: RunResult) -> float | None:
        """Score one finished run; return the first scorer's number (None: none) for the progress view."""
        shown: float | None = None
        for i, (name, fn) in enumerate(self.scorers.items()):
            value: Any = None
            if result.succeeded:
                try:
                    value = fn(result, (job.case or Case(job.input)) if self.case_arg[name] else job.input)
                except Exception as exc:  # noqa: BLE001 - a scorer's bug costs a NaN, not the comparison
                    count, first = self.failures.get(name, (0, ""))
                    self.failures[name] = (count + 1, first or f"{type(exc).__name__}: {exc}")
                    value = None
            if i == 0:
                shown = first_number(value)
            self._keep(name, job.index, value)
        return shown

    def _keep(self, name: str, index: int, value: Any) -> None:
        if value is None:  # no score: NaN in whichever columns this scorer has
            return
        if isinstance(value, Mapping):
            items = [(f"{name}.{k}", v) for k, v in value.items()]  # pyright: ignore[reportUnknownVariableType]
        else:
            items = [(name, value)]
        columns = self.values.setdefault(name, {})
        for column, v in items:
            if column in self.reserved:
                raise ConfigError(f"compare: scorer {name!r} gave a column {column!r} that clashes with a column")
            scores = columns.get(column)
            if scores is None:
                scores = columns[column] = _Scores(self.size)
            scores.put(index, v)

    def columns(self) -> dict[str, Any]:
        """One array per column, scorer by scorer, in job order (NaN where a run has no score)."""
        import numpy as np

        out: dict[str, Any] = {}
        for name in self.scorers:
            for column, scores in (self.values.get(name) or {name: _Scores(self.size)}).items():
                if not scores.others:  # only floats and bools (NaN where none): the array as it is
                    out[column] = scores.numbers
                    continue
                raw = [scores.others.get(i, number) for i, number in enumerate(scores.numbers.tolist())]
                cells = [np.nan if v is None else float(v) if isinstance(v, bool | np.bool_) else v for v in raw]
                if all(isinstance(v, int | float | np.integer | np.floating) for v in cells):
                    out[column] = np.array(cells, dtype=np.float64)
                else:
                    out[column] = np.array([scrub(v) if isinstance(v, str) else v for v in cells], dtype=object)
        return out

    def warn(self, runs: int) -> None:
        """One ScoreWarning per scorer that raised."""
        for name, (count, first) in self.failures.items():
            hint = ""
            if not self.case_arg[name] and "'str' object has no attribute" in first:
                hint = " (a scorer gets the Case only when its second parameter is named 'case' or annotated Case)"
            warn(
                f"compare: scorer {name!r} raised on {count} of {runs} runs (first: {scrub(first)}){hint}; "
                "those scores are NaN",
                ScoreWarning,
            )


class _Scores:
    """One score column's values by job index: floats and bools in a float64 array, anything else by index.

    A float a scorer computes is a new small object per run; kept until the table is built, such
    objects pinned allocator arenas after the grid (as the table's texts did: `store._texts`).
    The array keeps their values; `columns()` gives the same cells as before (a bool as 0.0/1.0,
    NaN where a run has no score).
    """

    __slots__ = ("numbers", "others")

    def __init__(self, size: int) -> None:
        import numpy as np

        self.numbers = np.full(size, np.nan, dtype=np.float64)
        self.others: dict[int, Any] = {}

    def put(self, index: int, value: Any) -> None:
        if type(value) is float or type(value) is bool:
            self.numbers[index] = value
        else:
            self.others[index] = value
