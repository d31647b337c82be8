"""What `%%agent --agents` / `--over` cells compare: their cases and scorers.

`--over NAME` names a list, tuple, Series or Index of strings or numbers (the prompt's
``{{item}}`` is each item), or cases: a list of dicts / `Case` objects, or a DataFrame with an
``input`` column (``{{item}}`` is each case's input; its expected answer, id and metadata are
kept). `--score NAMES` is a comma-separated list of ready scorers (`openstackai_nb.scorers.NAMES`,
e.g. ``exact``) or variables of the notebook holding a scorer or a dict name -> scorer; each
score column is named after the ready scorer or the variable (a dict's keys for a dict).

Stdlib only at import; pandas is looked up in `sys.modules`, never imported.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from openstackai_nb.notebook.options import over_items, split_names
from openstackai_nb.notebook.placeholders import interpolate
from openstackai_nb.notebook.usage_errors import as_usage_errors

__all__ = ["is_cases", "over_inputs", "scorers_named"]


def is_cases(value: Any) -> bool:
    """True for a DataFrame, or a list/tuple holding dicts or Case objects: --over cases."""
    from openstackai_nb.comparison.cases import Case

    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, Mapping | Case) for v in value)  # pyright: ignore[reportUnknownVariableType]


def over_inputs(name: str, value: Any, prompt: str, ns: dict[str, Any]) -> list[Any]:
    """The inputs of `--over NAME`: the prompt once per item (strings), or per case (Case objects).

    Raises:
        UsageError: a value --over does not take, no items, no ``{{item}}`` in the prompt, a bad case.
    """
    from openstackai_nb.comparison.cases import Case, load_cases

    if not re.search(r"\{\{\s*item\s*\}\}", prompt):
        raise UsageError("--over needs {{item}} in the prompt, where each item goes")
    if is_cases(value):
        with as_usage_errors():
            cases = load_cases(value)
        return [
            Case(
                input=interpolate(prompt, ns, {"item": case.input}),
                expected=case.expected,
                id=case.case_id,  # the case's own id (given, or derived from its input), not the prompt's
                metadata=case.metadata,
            )
            for case in cases
        ]
    items = over_items(name, value)
    if not items:
        raise UsageError(f"--over {name} is empty")
    return [interpolate(prompt, ns, {"item": item}) for item in items]


def scorers_named(spec: str, ns: dict[str, Any]) -> dict[str, Any]:
    """The scorers of `--score A,B`: ready scorers by name, else variables of the notebook.

    Raises:
        UsageError: a name that is neither, with the closest ready scorer or variable.
    """
    from openstackai_nb import scorers

    names = split_names(spec)
    if not names:
        raise UsageError("--score needs a scorer, e.g. --score exact (ready: " + ", ".join(scorers.NAMES) + ")")
    chosen: dict[str, Any] = {}
    for name in names:
        if name in scorers.NAMES:
            chosen[name] = scorers.get(name)
            continue
        value = ns.get(name)
        if isinstance(value, Mapping):
            for key, fn in value.items():  # pyright: ignore[reportUnknownVariableType]
                chosen[str(key)] = _callable(f"{name}[{key!r}]", fn)  # pyright: ignore[reportUnknownArgumentType]
        elif value is not None:
            chosen[name] = _callable(name, value)
        else:
            known = [*scorers.NAMES, *(k for k, v in ns.items() if callable(v) and not k.startswith("_"))]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(
                f"--score {name}: no ready scorer or variable of that name; {hint}ready scorers: "
                f"{', '.join(scorers.NAMES)}, or a variable holding fn(result, case) or a dict of them"
            )
    return chosen


def _callable(name: str, value: Any) -> Any:
    if not callable(value):
        raise UsageError(f"--score {name} is a {type(value).__name__}, not a scorer fn(result, case)")
    return value
