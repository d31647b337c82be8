"""compare(..., cache=...): a re-run grid is served from the cache, marked, and costs nothing."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from openstackai_nb import Agent, RunHistory, compare, set_prices, store
from openstackai_nb.errors import ConfigError
from openstackai_nb.models import OpenAIChatModel
from tests._server import OpenAIServer, text_stream


@pytest.fixture
def priced() -> Iterator[None]:
    previous = set_prices({"gpt-test": {"prompt": 1.0, "completion": 2.0}}, replace=True)
    yield
    set_prices(previous, replace=True)


def test_a_re_run_grid_comes_from_the_cache_at_no_cost(openai_server: OpenAIServer, priced: None, tmp_path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    previous = store.set_history(history)
    try:
        agents = [
            Agent(name=n, instructions=n, model=OpenAIChatModel("gpt-test", base_url=openai_server.url))
            for n in ("a", "b")
        ]
        inputs = ["one", "two", "three"]
        cold = compare(agents, inputs, cache=True, progress=False)
        assert len(openai_server.requests) == 6 and cold["cached_calls"].tolist() == [0] * 6
        assert (cold["cost_usd"] > 0).all() and set(cold["cost_source"]) == {"set_prices"}
        warm = compare(agents, inputs, cache=True, progress=False)
        assert len(openai_server.requests) == 6, "the re-run sent no request"
        assert warm["cached_calls"].tolist() == [1] * 6
        assert warm["cost_usd"].tolist() == [0.0] * 6 and set(warm["cost_source"]) == {"cache"}
        assert warm["final_output"].tolist() == cold["final_output"].tolist()
        assert warm["prompt_tokens"].tolist() == [0] * 6  # nothing billed; the original usage is on the results
        # The history's DataFrame says the same.
        df = history.to_dataframe(cost=True)
        assert df["cached_calls"].tolist() == [0] * 6 + [1] * 6
        assert df["cost_source"].tolist()[6:] == ["cache"] * 6 and not math.isnan(df["cost_usd"].iloc[-1])
        assert history[warm["run_id"].iloc[0]].cached_usage.prompt_tokens == 10
        # Without cache=: a miss for every pair (and nothing read).
        again = compare(agents, inputs, progress=False, cache=False)
        assert again["cached_calls"].sum() == 0 and len(openai_server.requests) == 12
    finally:
        store.set_history(previous)


def test_compare_checks_the_cache_value(openai_server: OpenAIServer) -> None:
    agent = Agent(name="a", model=OpenAIChatModel("gpt-test", base_url=openai_server.url))
    with pytest.raises(ConfigError, match="cache="):
        compare([agent], ["x"], cache="sometimes", progress=False)
    assert openai_server.requests == []


def test_repeats_are_distinct_samples_and_each_is_cached(openai_server: OpenAIServer) -> None:
    agent = Agent(name="r", model=OpenAIChatModel("gpt-test", base_url=openai_server.url))
    openai_server.handler = lambda request: text_stream(f"sample {len(openai_server.requests)}")
    cold = compare([agent], ["q"], repeats=3, cache=True, progress=False)
    assert len(openai_server.requests) == 3, "each repeat is its own request, not one cached answer"
    assert cold["final_output"].nunique() == 3 and cold["cached_calls"].sum() == 0
    warm = compare([agent], ["q"], repeats=3, cache=True, progress=False)
    assert len(openai_server.requests) == 3 and warm["cached_calls"].tolist() == [1, 1, 1]
    assert warm["final_output"].tolist() == cold["final_output"].tolist()  # repeat i gets its own sample back


def test_a_partly_cached_run_pays_for_its_billed_tokens_only(priced: None) -> None:
    from datetime import UTC, datetime

    from openstackai_nb.comparison.prices import cost_columns, run_facts
    from openstackai_nb.messages import Usage
    from openstackai_nb.runner import RunResult

    def run(billed: int, cached_calls: int) -> RunResult:
        return RunResult(
            run_id="run_x", model="gpt-test", started_at=datetime.now(UTC), cached_calls=cached_calls,
            usage=Usage(prompt_tokens=billed, completion_tokens=billed), cached_usage=Usage(prompt_tokens=99),
        )  # fmt: skip

    runs = [run(0, 2), run(1_000_000, 1), run(1_000_000, 0)]
    costs = cost_columns([run_facts(r) for r in runs], [r.cached_calls for r in runs])
    assert costs["cost_usd"].tolist() == [0.0, 3.0, 3.0]
    assert costs["cost_source"].tolist() == ["cache", "set_prices", "set_prices"]
