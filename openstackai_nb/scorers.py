"""Ready scorers for `compare(score=...)`: each is a function ``scorer(result, case)``.

Every scorer here checks a run's answer against the case's `expected` value (`comparison.Case`)
and returns a bool (a column of 1.0 / 0.0: its mean is a rate), except `judge`, which returns
the judge's score. A case without `expected` makes a scorer that needs one raise: NaN, and one
`ScoreWarning` per scorer.

- `exact`: the answer equals the expected text (whitespace and case normalised by default);
- `contains`: the expected text (or every one of a list of texts) is in the answer;
- `regex`: the answer matches a pattern (default: the expected value as a pattern);
- `numeric`: the last number in the answer (or a typed answer that is a number) is within
  `tol` of the expected number;
- `field`: one field of a typed answer (`Agent(output_type=...)`) equals the expected value;
- `tool_called`: the run called a tool, with given argument values;
- `judge`: an LLM judge (an Agent with a typed verdict, run through this runner).

`get(name)` gives a scorer by name with its default arguments (``--score exact`` in a `%%agent`
cell); `NAMES` lists the names it knows.

Example:
    >>> from openstackai_nb import scorers
    >>> df = compare(agents, cases, score={"exact": scorers.exact(), "has_4": scorers.contains()})  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from openstackai_nb.comparison.cases import Case
from openstackai_nb.comparison.judge import Judge, Preference, Verdict, instructions
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.models.base import Model
    from openstackai_nb.results import RunResult

__all__ = [
    "Judge",
    "NAMES",
    "Preference",
    "Verdict",
    "contains",
    "exact",
    "field",
    "get",
    "judge",
    "numeric",
    "regex",
    "tool_called",
]

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?")


class _Scorer:
    """A named scorer: ``scorer(result, case)``; its repr shows how it was made."""

    takes_case = True  # comparison.scoring: it gets the Case

    def __init__(self, shown: str, fn: Callable[[RunResult, Case], Any]) -> None:
        self.shown = shown
        self.fn = fn

    def __call__(self, result: RunResult, case: Case) -> Any:
        if not isinstance(case, Case):  # pyright: ignore[reportUnnecessaryIsInstance] - called by hand with a text
            case = Case(input=str(case))
        return self.fn(result, case)

    def __repr__(self) -> str:
        return self.shown


def _expected(case: Case) -> Any:
    if case.expected is None:
        raise ValueError(f"case {case.case_id} has no expected answer")
    return case.expected


def _norm(text: str, normalize_whitespace: bool, case_sensitive: bool) -> str:
    if normalize_whitespace:
        text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


def exact(*, normalize_whitespace: bool = True, case_sensitive: bool = False) -> _Scorer:
    """The answer text equals the expected one (str of `expected`).

    Args:
        normalize_whitespace: ignore leading/trailing whitespace and compare runs of
            whitespace as one space.
        case_sensitive: compare letter case too (default: "Paris" equals "paris").
    """

    def score(result: RunResult, case: Case) -> bool:
        want = _norm(str(_expected(case)), normalize_whitespace, case_sensitive)
        return _norm(result.output_text or "", normalize_whitespace, case_sensitive) == want

    return _Scorer(f"exact(normalize_whitespace={normalize_whitespace}, case_sensitive={case_sensitive})", score)


def contains(*, normalize_whitespace: bool = True, case_sensitive: bool = False) -> _Scorer:
    """The expected text appears in the answer; a list of texts: every one of them appears.

    Args:
        normalize_whitespace: compare runs of whitespace as one space.
        case_sensitive: compare letter case too.
    """

    def score(result: RunResult, case: Case) -> bool:
        want = _expected(case)
        wanted = [str(w) for w in want] if isinstance(want, list | tuple) else [str(want)]  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
        answer = _norm(result.output_text or "", normalize_whitespace, case_sensitive)
        return all(_norm(w, normalize_whitespace, case_sensitive) in answer for w in wanted)

    return _Scorer(f"contains(normalize_whitespace={normalize_whitespace}, case_sensitive={case_sensitive})", score)


def regex(pattern: str | None = None, *, flags: int = re.IGNORECASE) -> _Scorer:
    """The answer matches `pattern` (`re.search`); None: the case's `expected` is the pattern.

    Args:
        pattern: a regular expression (checked now: a bad one is a ConfigError).
        flags: `re` flags (default case-insensitive; 0 for none).
    """
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern, flags)
        except re.error as exc:
            raise ConfigError(f"regex: the pattern {pattern!r} is not a regular expression: {exc}") from None

    def score(result: RunResult, case: Case) -> bool:
        rx = compiled or re.compile(str(_expected(case)), flags)
        return rx.search(result.output_text or "") is not None

    return _Scorer(f"regex({pattern!r})", score)


def _last_number(result: RunResult) -> float:
    value = result.final_output if result.typed else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    found = _NUMBER.findall(result.output_text or "")
    if not found:
        raise ValueError(f"no number in the answer {(result.output_text or '')[:60]!r}")
    return float(found[-1].replace(",", ""))


def numeric(*, tol: float = 1e-6) -> _Scorer:
    """The last number in the answer (or a typed answer that is a number) is within `tol` of `expected`.

    Numbers may have thousands separators ("1,234.5") and exponents; `expected` is a number
    or a text of one.

    Args:
        tol: the largest absolute difference that still counts as equal (>= 0).
    """
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol >= 0:
        raise ConfigError(f"numeric: tol must be a number >= 0, got {tol!r}")

    def score(result: RunResult, case: Case) -> bool:
        want = float(str(_expected(case)).replace(",", ""))
        return math.isclose(_last_number(result), want, rel_tol=0.0, abs_tol=tol)

    return _Scorer(f"numeric(tol={tol!r})", score)


def _get(value: Any, path: list[str]) -> Any:
    for key in path:
        if isinstance(value, Mapping):
            value = value[key]  # pyright: ignore[reportUnknownVariableType]
        else:
            value = getattr(value, key)
    return value  # pyright: ignore[reportUnknownVariableType]


def _has(value: Any, key: str) -> bool:
    return key in value if isinstance(value, Mapping) else hasattr(value, key) and not isinstance(value, str)


def field(name: str, *, tol: float = 0.0, case_sensitive: bool = True) -> _Scorer:
    """One field of a typed answer (``result.final_output``, dotted for nested) equals the expected value.

    `expected` may be the whole answer (a dict or an object holding the field: that field is
    compared) or the field's value alone. Numbers are equal within `tol`; texts compare with
    surrounding whitespace ignored (and letter case too when `case_sensitive` is False);
    anything else with ``==``.

    Args:
        name: the field, e.g. "total" or "address.city".
        tol: the largest absolute difference between numbers that still counts as equal.
        case_sensitive: compare the letter case of texts.
    """
    path = name.split(".")
    if not all(path):
        raise ConfigError(f"field: {name!r} is not a field name (use e.g. 'total' or 'address.city')")

    def score(result: RunResult, case: Case) -> bool:
        if not result.typed:
            raise ValueError(f"field({name!r}) needs a typed answer (Agent(output_type=...))")
        got = _get(result.final_output, path)
        want = _expected(case)
        if _has(want, path[0]):
            want = _get(want, path)
        if isinstance(got, int | float) and isinstance(want, int | float) and not isinstance(got, bool):
            return math.isclose(float(got), float(want), rel_tol=0.0, abs_tol=tol)
        if isinstance(got, str) and isinstance(want, str):
            return _norm(got.strip(), False, case_sensitive) == _norm(want.strip(), False, case_sensitive)
        return bool(got == want)

    return _Scorer(f"field({name!r})", score)


def tool_called(name: str, /, **arguments: Any) -> _Scorer:
    """The run called the tool `name` (with these argument values, when given); no `expected` needed.

    Example:
        >>> scorer = tool_called("get_weather", city="Paris")
    """

    def score(result: RunResult, case: Case) -> bool:
        return any(
            call.name == name and all(k in call.arguments and call.arguments[k] == v for k, v in arguments.items())
            for call in result.tool_calls
        )

    shown = ", ".join([repr(name), *(f"{k}={v!r}" for k, v in arguments.items())])
    return _Scorer(f"tool_called({shown})", score)


def judge(
    model: str | Model | Agent,
    *,
    rubric: str = "correct, complete and clear; agrees with the expected answer when there is one",
    scale: tuple[float, float] = (1, 5),
    pairwise: bool = False,
    seed: int = 0,
) -> Judge:
    """An LLM judge: an Agent (on `model`) with a typed verdict, run through this runner.

    Its runs are recorded in history, limited by the comparison's RunConfig and costed (column
    ``judge_cost_usd``); in `compare` they run after the grid, with the same concurrency
    (`comparison.judge` has the details). Pointwise, each COMPLETED row gets the judge's score
    on `scale` (column named after the scorer) and its reason (``<name>_reason``). Pairwise
    (exactly two agents), the judge sees both answers to one case and repeat in an order drawn
    from `seed` and recorded in ``judge_order``; each row gets 1 (its agent won), 0.5 (tie) or 0.

    Args:
        model: the judge's model (a name such as "gpt-4o", a Model), or an Agent to clone.
        rubric: what makes an answer good.
        scale: the lowest and highest score (pointwise).
        pairwise: compare the two agents' answers instead of scoring each.
        seed: the seed of the answers' order (pairwise).

    Raises:
        ConfigError: a bad scale, or a model that cannot be used.
    """
    from openstackai_nb.agent import Agent

    low, high = scale
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in scale) or not low < high:
        raise ConfigError(f"judge: scale must be (lowest, highest) numbers with lowest < highest, got {scale!r}")
    output = Preference if pairwise else Verdict
    text = instructions(rubric, (low, high), pairwise)
    if isinstance(model, Agent):
        agent = model.clone(instructions=text, output_type=output, tools=[])
    else:
        agent = Agent(name="judge", model=model, instructions=text, output_type=output)
    return Judge(agent=agent, rubric=rubric, scale=(low, high), pairwise=pairwise, seed=seed)


_READY: dict[str, Callable[[], Any]] = {"contains": contains, "exact": exact, "numeric": numeric, "regex": regex}
NAMES = tuple(sorted(_READY))
"""The scorers `get` makes by name (those that need no argument)."""


def get(name: str) -> Callable[[RunResult, Case], Any]:
    """The ready scorer `name` with its default arguments (e.g. ``get("exact")``).

    Raises:
        ConfigError: an unknown name (with the closest known one).
    """
    if name in _READY:
        return _READY[name]()
    close = difflib.get_close_matches(name, NAMES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    needs = " (field, tool_called and judge need arguments: make them in a cell)" if name in __all__ else ""
    raise ConfigError(f"no ready scorer {name!r}{needs}; {hint}ready scorers: {', '.join(NAMES)}")
