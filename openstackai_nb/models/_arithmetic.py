"""The scripted model's arithmetic: an offline model that is sometimes wrong, to try evaluations on.

A prompt that is one operation on two numbers ("What is 17 + 25?", "12*3", "Compute 7 x 6.",
"10 / 4 =") gets the result as a bare number ("42"), right with a probability that depends on
the agent's instructions:

- "careful", "carefully", "step by step", "double-check", "check your work": 95% right;
- otherwise: 70% right.

A wrong answer is off by 1, 2 or 3 (either way). The draw is seeded from the model settings'
"seed" (0 when there is none) and the prompt: the same seed and prompt give the same answer every
time, and `compare(..., repeats=N, seed=S)`, which sends seed S + repeat, gets a new draw per
repeat. Agents share the draw, so a careful agent is right whenever a careless one is: the
pairing a paired test expects of two agents on the same case.

Only a whole prompt of that form counts (a date or a sentence with numbers in it is no sum), and
only when the agent has no tools and no typed answer.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ACCURACY", "CAREFUL_ACCURACY", "answer", "question"]

ACCURACY = 0.70
"""How often the answer is right without careful instructions."""
CAREFUL_ACCURACY = 0.95
"""How often the answer is right when the instructions ask for care."""

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_QUESTION = re.compile(
    rf"^\s*(?:what\s+is|what's|compute|calculate)?\s*{_NUMBER}\s*([-+*/x×÷])\s*{_NUMBER}\s*[?=.!]?\s*$",
    re.IGNORECASE,
)
_CAREFUL = re.compile(r"\b(careful\w*|step by step|double[- ]check\w*|check your work)\b", re.IGNORECASE)


def question(prompt: str) -> tuple[float, str, float] | None:
    """The operation a prompt asks for (left, operator, right), or None when it is not one."""
    m = _QUESTION.match(prompt)
    if m is None:
        return None
    return float(m.group(1)), m.group(2).lower(), float(m.group(3))


def _result(left: float, op: str, right: float) -> float | None:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op in ("*", "x", "×"):
        return left * right
    return None if right == 0 else left / right


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4g}"


def answer(asked: tuple[float, str, float], instructions: Iterable[str], settings: Mapping[str, Any]) -> str:
    """The answer to `asked`: right or off by 1 to 3, by a draw seeded from the settings' seed and the question."""
    left, op, right = asked
    value = _result(left, op, right)
    if value is None:
        return "undefined"
    accuracy = CAREFUL_ACCURACY if _CAREFUL.search("\n".join(instructions)) else ACCURACY
    seed = settings.get("seed", 0)
    draw = random.Random(f"{seed}|{_number(left)}{op}{_number(right)}")
    if draw.random() < accuracy:
        return _number(value)
    return _number(value + draw.choice((-3, -2, -1, 1, 2, 3)))
