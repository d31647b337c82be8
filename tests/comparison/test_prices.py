"""Costs: set_prices first, then genai-prices for the models it knows, NaN for the others; cost_source says which."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime

import genai_prices
import numpy as np
import pandas as pd
import pytest

from openstackai_nb import Agent, RunHistory, compare, set_prices
from openstackai_nb import prices as prices_module
from openstackai_nb.comparison import get_prices
from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import Usage
from openstackai_nb.models import OpenAIChatModel, resolve_model
from openstackai_nb.results import RunResult, RunStatus
from tests._server import OpenAIServer, text_stream


@pytest.fixture(autouse=True)
def no_prices():
    set_prices(None, replace=True)
    yield
    set_prices(None, replace=True)


def usd(model: str, prompt: int, completion: int, **where: str) -> float:
    """What genai-prices itself says these tokens cost (the reference the columns must match)."""
    calc = genai_prices.calc_price(genai_prices.Usage(input_tokens=prompt, output_tokens=completion), model, **where)
    return float(calc.total_price)


def loopback_gpt(provider: str | None) -> OpenAIChatModel:
    model = OpenAIChatModel("gpt-4o-mini")  # OPENAI_BASE_URL: the loopback server
    model.provider = provider  # what a proxy in front of OpenAI would declare
    return model


def recorded(model: str, *, provider: str | None, endpoint: str | None, tokens=(1000, 500), elapsed=2.0) -> RunResult:
    return RunResult(
        run_id=f"run_{model}_{provider}_{endpoint}",
        status=RunStatus.COMPLETED,
        model=model,
        provider=provider,
        endpoint=endpoint,
        usage=Usage(prompt_tokens=tokens[0], completion_tokens=tokens[1], requests=1),
        elapsed_time=elapsed,
        started_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_runs_record_who_served_the_model(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert OpenAIChatModel("gpt-4o-mini", base_url="https://api.openai.com/v1", api_key="k").provider == "openai"
    assert OpenAIChatModel("m", base_url="https://api.groq.com/openai/v1", api_key="k").provider is None
    assert resolve_model("ollama:llama3.2").provider == "ollama"
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key-0123456789")
    assert resolve_model("azure:my-deployment").provider == "azure"
    assert not hasattr(resolve_model("scripted"), "provider")
    openai_server.script(text_stream("Hi there."))
    df = compare([Agent(name="A", model="gpt-4o-mini")], ["hello"], progress=False)
    run = df.iloc[0]
    assert run["status"] == "COMPLETED"
    # A model at the loopback server: who serves it is unknown, so it is never priced.
    assert np.isnan(run["cost_usd"]) and pd.isna(run["cost_source"])


def test_a_known_model_is_priced_by_genai_prices(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("Four.", usage=(1200, 300)), text_stream("Four.", usage=(1200, 300)))
    df = compare(
        {"openai": Agent(name="A", model=loopback_gpt("openai")), "unknown": Agent(name="B", model=loopback_gpt(None))},
        ["2+2?"],
        progress=False,
        concurrency=1,
    ).set_index("agent")
    known = df.loc["openai"]
    assert known["cost_source"] == "genai-prices:openai"
    assert math.isclose(known["cost_usd"], usd("gpt-4o-mini", 1200, 300, provider_id="openai"), rel_tol=1e-9)
    assert math.isclose(known["prompt_cost"] + known["completion_cost"], known["cost_usd"], rel_tol=1e-9)
    assert math.isclose(known["prompt_cost"], usd("gpt-4o-mini", 1200, 0, provider_id="openai"), rel_tol=1e-9)
    unknown = df.loc["unknown"]
    assert np.isnan(unknown["cost_usd"]) and pd.isna(unknown["cost_source"])


def test_the_provider_is_inferred_from_the_base_url() -> None:
    history = RunHistory(":memory:")
    groq = recorded("llama-3.3-70b-versatile", provider=None, endpoint="https://api.groq.com/openai/v1")
    openai = recorded("gpt-4o-mini", provider="openai", endpoint="https://api.openai.com/v1", tokens=(10, 20))
    nobody = recorded("my-finetune-xyz", provider="openai", endpoint="https://api.openai.com/v1")
    local = recorded("llama3.2", provider="ollama", endpoint="http://localhost:11434/v1")
    history.add_many([groq, openai, nobody, local])
    df = history.to_dataframe(cost=True).set_index("run_id")
    assert df.loc[groq.run_id, "cost_source"] == "genai-prices:groq"
    expected = usd("llama-3.3-70b-versatile", 1000, 500, provider_api_url="https://api.groq.com/openai/v1")
    assert math.isclose(df.loc[groq.run_id, "cost_usd"], expected, rel_tol=1e-9)
    assert math.isclose(df.loc[openai.run_id, "cost_usd"], usd("gpt-4o-mini", 10, 20, provider_id="openai"))
    for unknown in (nobody, local):  # a model genai-prices does not know, a local server: NaN
        assert np.isnan(df.loc[unknown.run_id, "cost_usd"]) and pd.isna(df.loc[unknown.run_id, "cost_source"])
    assert "cost_usd" not in history.to_dataframe().columns  # only when asked


def test_your_prices_win_and_a_provider_name_narrows_them() -> None:
    history = RunHistory(":memory:")
    at_openai = recorded("gpt-4o-mini", provider="openai", endpoint="https://api.openai.com/v1")
    at_router = recorded("gpt-4o-mini", provider="openrouter", endpoint="https://openrouter.ai/api/v1")
    history.add_many([at_openai, at_router])
    set_prices(
        {"gpt-4o-mini": {"prompt": 1.0, "completion": 2.0}, "openai:gpt-4o-mini": {"prompt": 3, "completion": 4}}
    )
    df = history.to_dataframe(cost=True).set_index("run_id")
    assert df.loc[at_openai.run_id, "cost_source"] == "set_prices"
    assert math.isclose(df.loc[at_openai.run_id, "cost_usd"], (1000 * 3 + 500 * 4) / 1e6)
    assert math.isclose(df.loc[at_router.run_id, "prompt_cost"], 1000 * 1.0 / 1e6)
    assert math.isclose(df.loc[at_router.run_id, "cost_usd"], (1000 * 1 + 500 * 2) / 1e6)


def test_a_price_per_hour_for_a_local_model(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", openai_server.url)  # the preset, served by the loopback server
    openai_server.script(text_stream("Hello from the GPU box.", usage=(50, 6)), text_stream("Hi.", usage=(5, 1)))
    set_prices({"ollama:llama3.2": {"per_hour": 2.5}})
    assert get_prices() == {"ollama:llama3.2": {"per_hour": 2.5}}
    df = compare(
        [Agent(name="Local", model="ollama:llama3.2"), Agent(name="Other", model="ollama:qwen3")],
        ["hello"],
        progress=False,
        concurrency=1,
    ).set_index("agent")
    local = df.loc["Local"]
    assert local["model"] == "llama3.2" and local["cost_source"] == "set_prices:per_hour"
    assert local["cost_usd"] > 0 and math.isclose(local["cost_usd"], local["elapsed_time"] / 3600 * 2.5)
    assert np.isnan(local["prompt_cost"]) and np.isnan(local["completion_cost"])  # time, not tokens
    assert np.isnan(df.loc["Other", "cost_usd"]) and pd.isna(df.loc["Other", "cost_source"])  # never guessed


def test_a_provider_override_prices_a_model_behind_a_proxy(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("Hi.", usage=(100, 40)))
    set_prices({"gpt-4o-mini": {"provider": "openai"}})
    assert get_prices() == {"gpt-4o-mini": {"provider": "openai"}}
    row = compare([Agent(name="A", model="gpt-4o-mini")], ["hello"], progress=False).iloc[0]
    assert row["cost_source"] == "genai-prices:openai"
    assert math.isclose(row["cost_usd"], usd("gpt-4o-mini", 100, 40, provider_id="openai"), rel_tol=1e-9)


def test_history_costs_equal_compare_costs(session_history: RunHistory) -> None:
    set_prices({"scripted": {"prompt": 2.0, "completion": 8.0}})
    df = compare([Agent(name="S", model="scripted")], ["say 3 words", "say 5 words"], progress=False)
    compare_id = session_history.to_dataframe()["compare_id"].iloc[-1]
    runs = session_history.filter(metadata={"compare_id": compare_id}).to_dataframe(cost=True)
    mine = df.set_index("run_id")[["prompt_cost", "completion_cost", "cost_usd", "cost_source"]]
    stored = runs.set_index("run_id")[["prompt_cost", "completion_cost", "cost_usd", "cost_source"]]
    pd.testing.assert_frame_equal(stored.loc[mine.index], mine)


def test_bad_prices_are_refused_with_what_to_write() -> None:
    with pytest.raises(ConfigError, match="per_hour.*USD per hour"):
        set_prices({"ollama:llama3.2": {"per_hour": -1}})
    with pytest.raises(ConfigError, match="did you mean 'openai'"):
        set_prices({"gpt-4o-mini": {"provider": "opneai"}})
    with pytest.raises(ConfigError, match="unknown keys.*per_hour"):
        set_prices({"x": {"per_hour": 1.0, "prompt": 1.0}})
    with pytest.raises(ConfigError, match="must map to"):
        set_prices({"x": 3.0})  # type: ignore[dict-item]
    assert get_prices() == {}  # nothing half-set


def test_without_genai_prices_only_your_prices_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "genai_prices.data_snapshot", None)  # as if the extra were not installed
    prices_module._genai.cache_clear()
    try:
        history = RunHistory(":memory:")
        run = recorded("gpt-4o-mini", provider="openai", endpoint="https://api.openai.com/v1")
        history.add(run)
        assert np.isnan(history.to_dataframe(cost=True)["cost_usd"].iloc[0])
        with pytest.raises(ImportError, match=r"openstackai-nb\[prices\]"):
            set_prices({"gpt-4o-mini": {"provider": "openai"}})
        set_prices({"gpt-4o-mini": {"prompt": 1.0, "completion": 1.0}})
        assert history.to_dataframe(cost=True)["cost_source"].iloc[0] == "set_prices"
    finally:
        prices_module._genai.cache_clear()
