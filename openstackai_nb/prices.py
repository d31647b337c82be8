"""What runs cost: prices you set (`set_prices`) first, then pydantic's genai-prices database.

(Documented as `openstackai_nb.comparison.prices`, which re-exports these names: they live here,
below the history and the comparisons, because both price runs.)

`cost_columns()` gives `compare()` and `RunHistory.to_dataframe(cost=True)` the same four
columns: ``prompt_cost``, ``completion_cost``, ``cost_usd`` (USD) and ``cost_source`` (where the
price came from). A run's price is found in this order:

1. `set_prices` under ``"provider:model"`` (e.g. ``"ollama:llama3.2"``, the provider as the run
   recorded it in `RunResult.provider`), then under the bare model name:
   - ``{"prompt": usd, "completion": usd}`` per million tokens (``cost_source`` "set_prices");
   - ``{"per_hour": usd}`` per hour of the run's wall time, for local models on your own GPU
     (cost = elapsed_time / 3600 * rate; ``cost_source`` "set_prices:per_hour");
   - ``{"provider": "openai"}``: no price of your own, but price this model as genai-prices
     knows it at that provider (a proxy, a test server, runs recorded before providers were).
2. genai-prices (the ``[prices]`` extra), for the provider the run recorded ("openai", "azure",
   "openrouter"...) or else the provider its base URL belongs to (api.groq.com -> groq), at the
   price in force when the run started (``cost_source`` "genai-prices:<provider>").
3. Otherwise NaN: offline models, local servers and models genai-prices does not know are never
   guessed, and their ``cost_source`` is None.

A run whose model calls were all answered from the response cache (`RunResult.cached_calls` > 0,
no token billed) costs 0.0 with ``cost_source`` "cache", whatever its price; its original usage
is kept in `RunResult.cached_usage`. A run only partly answered from the cache is priced on the
tokens it was billed (`RunResult.usage` counts only those).

genai-prices is imported only when a run needs it (its data is ~1.5 MB of Python).
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["COST_COLUMNS", "RunFacts", "cost_columns", "get_prices", "run_facts", "set_prices"]

COST_COLUMNS = ("prompt_cost", "completion_cost", "cost_usd", "cost_source")
"""The columns `cost_columns` adds (USD, and where each price came from)."""

_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class _PerToken:
    prompt: float
    completion: float


@dataclass(frozen=True, slots=True)
class _PerHour:
    rate: float


@dataclass(frozen=True, slots=True)
class _AtProvider:
    provider: str


_Price = _PerToken | _PerHour | _AtProvider
_prices: dict[str, _Price] = {}
_prices_lock = threading.Lock()
_KINDS = "{'prompt': usd_per_million, 'completion': usd_per_million}, {'per_hour': usd} or {'provider': 'name'}"


def set_prices(prices: Mapping[str, Mapping[str, Any]] | None, *, replace: bool = False) -> dict[str, dict[str, Any]]:
    """Give your own prices (they win over genai-prices), so costs follow what you pay.

    Names are `RunResult.model` ("gpt-4o-mini"), or ``"provider:model"`` to price one provider's
    model only (``"ollama:llama3.2"``: `RunResult.provider` is the preset's prefix).

    Args:
        prices: ``{"name": entry}`` where an entry is one of
            ``{"prompt": usd_per_million, "completion": usd_per_million}`` (tokens),
            ``{"per_hour": usd}`` (wall time of the run, for a GPU box) or
            ``{"provider": "openai"}`` (genai-prices' price of this model at that provider);
            None with ``replace=True`` forgets every price.
        replace: forget the prices given before (default: merge).

    Returns:
        The prices in force before the call.

    Raises:
        ConfigError: an entry that is none of the above, a price missing, negative or not a
            number, or a provider genai-prices does not know.
        ImportError: a ``provider`` entry without genai-prices installed (the ``[prices]`` extra).

    Example:
        >>> set_prices({"gpt-4o-mini": {"prompt": 0.15, "completion": 0.60}})  # doctest: +SKIP
        >>> set_prices({"ollama:llama3.2": {"per_hour": 2.5}})                # doctest: +SKIP
    """
    parsed = {_name(model): _parse(model, entry) for model, entry in (prices or {}).items()}
    with _prices_lock:
        previous = get_prices()
        if replace:
            _prices.clear()
        _prices.update(parsed)
    return previous


def _name(model: object) -> str:
    if not isinstance(model, str) or not model:
        raise ConfigError(f"set_prices: model names must be non-empty strings, got {model!r}")
    return model


def _parse(model: str, entry: object) -> _Price:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"set_prices: {model!r} must map to {_KINDS}, got {entry!r}")
    keys = set(entry)
    if keys == {"per_hour"}:
        return _PerHour(_number(model, "per_hour", entry["per_hour"], "USD per hour of wall time"))
    if keys == {"provider"}:
        return _AtProvider(_known_provider(model, entry["provider"]))
    unknown = keys - {"prompt", "completion"}
    if unknown:
        raise ConfigError(f"set_prices: {model!r} has unknown keys {sorted(unknown)}; give {_KINDS}")
    what = "USD per million tokens"
    return _PerToken(
        _number(model, "prompt", entry.get("prompt"), what), _number(model, "completion", entry.get("completion"), what)
    )


def _number(model: str, key: str, value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"set_prices: {model!r} needs a {key!r} price in {what} (a number >= 0), got {value!r}")
    return float(value)


def _known_provider(model: str, provider: object) -> str:
    from openstackai_nb._extras import require

    require("genai_prices.data_snapshot", "prices", f"set_prices({{{model!r}: {{'provider': ...}}}})")
    from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

    providers = get_snapshot().providers
    if not isinstance(provider, str) or find_provider_by_id(providers, provider) is None:
        ids = [p.id for p in providers]
        close = difflib.get_close_matches(str(provider), ids, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known: {', '.join(ids)}"
        raise ConfigError(f"set_prices: genai-prices knows no provider {provider!r} (for {model!r}); {hint}")
    return provider


def get_prices() -> dict[str, dict[str, Any]]:
    """The prices given with `set_prices`, as they were given."""
    out: dict[str, dict[str, Any]] = {}
    for model, price in _prices.items():
        if isinstance(price, _PerToken):
            out[model] = {"prompt": price.prompt, "completion": price.completion}
        elif isinstance(price, _PerHour):
            out[model] = {"per_hour": price.rate}
        else:
            out[model] = {"provider": price.provider}
    return out


# -- costs of runs --------------------------------------------------------------------------------

RunFacts = tuple[str, str | None, str | None, int, int, float, Any]
"""(model, provider, endpoint, prompt_tokens, completion_tokens, elapsed_time, started_at) of a run;
started_at is a datetime or nanoseconds since the epoch (UTC)."""


def run_facts(result: RunResult) -> RunFacts:
    """What `cost_columns` needs of a RunResult."""
    usage = result.usage
    return (
        result.model,
        result.provider,
        result.endpoint,
        usage.prompt_tokens,
        usage.completion_tokens,
        result.elapsed_time,
        result.started_at,
    )


def cost_columns(runs: Sequence[RunFacts], cached_calls: Sequence[int] | None = None) -> dict[str, Any]:
    """The `COST_COLUMNS` of these runs, as numpy arrays (float64; cost_source an object array).

    Each distinct (model, provider, endpoint) is looked up once; see the module docs for the order.
    `cached_calls` (one count per run) marks the runs answered from the response cache.
    """
    import numpy as np

    prompt: list[float] = []
    completion: list[float] = []
    total: list[float] = []
    sources: list[str | None] = []
    prices = dict(_prices)
    found: dict[tuple[str, str | None, str | None], tuple[Any, str] | None] = {}
    for i, (model, provider, endpoint, p_tokens, c_tokens, elapsed, started) in enumerate(runs):
        if cached_calls is not None and cached_calls[i] and not (p_tokens or c_tokens):
            prompt.append(0.0)  # every answer came from the cache: nothing was paid
            completion.append(0.0)
            total.append(0.0)
            sources.append("cache")
            continue
        key = (model, provider, endpoint)
        hit = found[key] if key in found else found.setdefault(key, _price_of(model, provider, endpoint, prices))
        p_cost = c_cost = cost = _NAN
        if hit is not None:
            price = hit[0]
            if isinstance(price, _PerToken):
                p_cost, c_cost = (p_tokens or 0) * price.prompt / 1e6, (c_tokens or 0) * price.completion / 1e6
            elif isinstance(price, _PerHour):
                cost = float(elapsed or 0.0) / 3600.0 * price.rate
            else:
                p_cost, c_cost = price.cost(int(p_tokens or 0), int(c_tokens or 0), started)
            if not isinstance(price, _PerHour):
                cost = p_cost + c_cost
        prompt.append(p_cost)
        completion.append(c_cost)
        total.append(cost)
        sources.append(None if hit is None else hit[1])
    source = np.empty(len(sources), dtype=object)
    source[:] = sources
    return {
        "prompt_cost": np.array(prompt, dtype=np.float64),
        "completion_cost": np.array(completion, dtype=np.float64),
        "cost_usd": np.array(total, dtype=np.float64),
        "cost_source": source,
    }


def _price_of(model: str, provider: str | None, endpoint: str | None, prices: Mapping[str, _Price]) -> Any:
    """(price, cost_source) of a run's model, or None when nobody knows it."""
    for name in ([f"{provider}:{model}"] if provider else []) + [model]:
        price = prices.get(name)
        if isinstance(price, _AtProvider):
            found = _genai(model, price.provider, None)
            return None if found is None else (found, f"genai-prices:{found.provider_id}")
        if price is not None:
            return price, "set_prices:per_hour" if isinstance(price, _PerHour) else "set_prices"
    if not provider and not endpoint:
        return None  # an offline model: nothing was paid for
    found = _genai(model, provider, endpoint)
    return None if found is None else (found, f"genai-prices:{found.provider_id}")


class _GenaiPrice:
    """One genai-prices model at one provider: USD of a run's tokens at the price of its start."""

    def __init__(self, provider: Any, model: Any) -> None:
        from genai_prices.types import ModelPrice, TieredPrices, Usage

        self._tiered, self._usage = TieredPrices, Usage
        self.provider_id: str = provider.id
        self.model = model
        self._fixed = model.prices if isinstance(model.prices, ModelPrice) else None  # no dated prices
        self._linear: dict[int, tuple[Any, float, float, float, float] | None] = {}

    def cost(self, prompt_tokens: int, completion_tokens: int, started: Any) -> tuple[float, float]:
        """(prompt_cost, completion_cost) in USD."""
        model_price = self._fixed or self.model.get_prices(_as_datetime(started) or datetime.now(UTC))
        key = id(model_price)
        line = self._linear[key] if key in self._linear else self._linear.setdefault(key, self._line(model_price))
        if line is None:  # tiered: the price of a token depends on how many there are
            calc = model_price.calc_price(self._usage(input_tokens=prompt_tokens, output_tokens=completion_tokens))
            return float(calc["input_price"]), float(calc["output_price"])
        _, in0, per_in_token, out0, per_out_token = line
        return in0 + prompt_tokens * per_in_token, out0 + completion_tokens * per_out_token

    def _line(self, model_price: Any) -> tuple[Any, float, float, float, float] | None:
        """Flat prices are linear in the tokens: three calcs (~150 us each) price every run."""
        if any(isinstance(v, self._tiered) for v in vars(model_price).values()):
            return None
        zero = model_price.calc_price(self._usage(input_tokens=0, output_tokens=0))
        per_in = model_price.calc_price(self._usage(input_tokens=1_000_000, output_tokens=0))
        per_out = model_price.calc_price(self._usage(input_tokens=0, output_tokens=1_000_000))
        return (
            model_price,  # kept alive, so its id stays its own
            float(zero["input_price"]),
            float(per_in["input_price"] - zero["input_price"]) / 1e6,
            float(zero["output_price"]),
            float(per_out["output_price"] - zero["output_price"]) / 1e6,
        )


@cache
def _genai(model: str, provider: str | None, endpoint: str | None) -> _GenaiPrice | None:
    """genai-prices' entry for the model at the provider (by id, else by the base URL), or None."""
    try:
        from genai_prices.data_snapshot import find_provider_by_id, get_snapshot
    except ImportError:
        return None
    snapshot = get_snapshot()
    if provider and find_provider_by_id(snapshot.providers, provider) is not None:
        where: dict[str, Any] = {"provider_id": provider, "provider_api_url": None}
    elif endpoint:
        where = {"provider_id": None, "provider_api_url": endpoint}
    else:
        return None
    try:
        found_provider, found_model = snapshot.find_provider_model(model, None, **where)
    except LookupError:
        return None
    return _GenaiPrice(found_provider, found_model)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int) and value:
        return datetime.fromtimestamp(value / 1e9, UTC)
    to_pydatetime = getattr(value, "to_pydatetime", None)  # a pandas Timestamp
    return _as_datetime(to_pydatetime()) if callable(to_pydatetime) else None
