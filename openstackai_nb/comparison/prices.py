"""Prices per model (USD per million tokens) that give `compare` its cost columns."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

from openstackai_nb.errors import ConfigError

__all__ = ["get_prices", "price_table", "set_prices"]

_prices: dict[str, tuple[float, float]] = {}
_prices_lock = threading.Lock()


def set_prices(
    prices: Mapping[str, Mapping[str, float]] | None, *, replace: bool = False
) -> dict[str, dict[str, float]]:
    """Give prices per model, in USD per million tokens, so `compare` adds cost columns.

    Only models named here get a cost; every other model's cost is NaN (never guessed).
    Names must match `RunResult.model` exactly (e.g. "gpt-4o-mini", "ollama:llama3.2").

    Args:
        prices: ``{"model": {"prompt": usd_per_million, "completion": usd_per_million}}``;
            None with ``replace=True`` forgets every price.
        replace: forget the prices given before (default: merge).

    Returns:
        The prices in force before the call.

    Raises:
        ConfigError: a price is missing, negative or not a number.

    Example:
        >>> set_prices({"gpt-4o-mini": {"prompt": 0.15, "completion": 0.60}})  # doctest: +SKIP
    """
    parsed: dict[str, tuple[float, float]] = {}
    for model, entry in (prices or {}).items():
        if not isinstance(model, str) or not model:
            raise ConfigError(f"set_prices: model names must be non-empty strings, got {model!r}")
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"set_prices: {model!r} must map to {{'prompt': usd_per_million, 'completion': usd_per_million}}, "
                f"got {entry!r}"
            )
        unknown = set(entry) - {"prompt", "completion"}
        if unknown:
            raise ConfigError(
                f"set_prices: {model!r} has unknown keys {sorted(unknown)}; use 'prompt' and 'completion'"
            )
        pair = []
        for kind in ("prompt", "completion"):
            value = entry.get(kind)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(
                    f"set_prices: {model!r} needs a {kind!r} price in USD per million tokens (a number >= 0), "
                    f"got {value!r}"
                )
            pair.append(float(value))
        parsed[model] = (pair[0], pair[1])
    with _prices_lock:
        previous = get_prices()
        if replace:
            _prices.clear()
        _prices.update(parsed)
    return previous


def get_prices() -> dict[str, dict[str, float]]:
    """The prices given with `set_prices` (USD per million tokens)."""
    return {m: {"prompt": p, "completion": c} for m, (p, c) in _prices.items()}


def price_table() -> dict[str, tuple[float, float]]:
    """A copy of the prices in force: model -> (prompt, completion) USD per million tokens."""
    return dict(_prices)
