"""Providers own their settings: presets, local servers reached by name, a gateway of one's own."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import ConfigError
from openstackai_nb.models import Provider, resolve_model
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.models.providers import LOCAL_PROVIDERS, PROVIDERS
from tests._server import OpenAIServer, text_stream

OPENAI_KEY = "sk-openai-DO-NOT-LEAK-0123456789"
LOCAL = [(p, PROVIDERS[p].base_url_env, PROVIDERS[p].api_key_env) for p in LOCAL_PROVIDERS]


def test_every_local_preset_is_a_provider() -> None:
    assert LOCAL_PROVIDERS == ("llamacpp", "lmstudio", "ollama", "vllm")
    for prefix in LOCAL_PROVIDERS:
        model = resolve_model(f"{prefix}:m")
        assert isinstance(model, OpenAIChatModel)
        assert model.provider_settings is PROVIDERS[prefix] and model.provider == prefix
        assert model.base_url == PROVIDERS[prefix].base_url and model.structured == "json_schema"
        assert model.parse_text_tool_calls
    local = OpenAIChatModel("x", base_url="http://localhost:1/v1")
    assert local.provider_settings is PROVIDERS["openai"] and not local.parse_text_tool_calls


# -- the named-host case: OLLAMA_BASE_URL=http://ollama:11434/v1 ---------------------------------
@pytest.mark.parametrize("openai_key", [None, OPENAI_KEY], ids=["no OPENAI_API_KEY", "OPENAI_API_KEY exported"])
@pytest.mark.parametrize(("prefix", "url_env", "key_env"), LOCAL, ids=[p for p, _, _ in LOCAL])
def test_a_local_preset_on_a_named_host_needs_no_key_and_never_gets_openais(
    monkeypatch: pytest.MonkeyPatch, prefix: str, url_env: str, key_env: str, openai_key: str | None
) -> None:
    # The case: a docker-compose service reached by its name, OpenAI's key exported for other work.
    if openai_key:
        monkeypatch.setenv("OPENAI_API_KEY", openai_key)
    monkeypatch.setenv(url_env, f"http://{prefix}-server:9999/v1")
    model = resolve_model(f"{prefix}:llama3.2")  # before: ConfigError "OPENAI_API_KEY is not set"
    assert isinstance(model, OpenAIChatModel)
    assert model.base_url == f"http://{prefix}-server:9999/v1" and not model.has_key
    assert "authorization" not in model._headers
    assert OPENAI_KEY not in str(model._headers)


@pytest.mark.parametrize(("prefix", "url_env", "key_env"), LOCAL, ids=[p for p, _, _ in LOCAL])
def test_a_local_preset_sends_its_own_key_variable_only(
    monkeypatch: pytest.MonkeyPatch, prefix: str, url_env: str, key_env: str
) -> None:
    # vLLM started with --api-key (or llama-server --api-key, a proxy in front of Ollama).
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv(url_env, f"http://{prefix}-server:9999/v1")
    monkeypatch.setenv(key_env, "local-key-4711-abcdef")
    model = resolve_model(f"{prefix}:m")
    assert isinstance(model, OpenAIChatModel)
    assert model._headers["authorization"] == "Bearer local-key-4711-abcdef"
    assert key_env == f"{prefix.upper()}_API_KEY"


@pytest.mark.parametrize(("prefix", "url_env", "key_env"), LOCAL, ids=[p for p, _, _ in LOCAL])
def test_a_request_to_a_local_preset_through_a_host_name(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, prefix: str, url_env: str, key_env: str
) -> None:
    # `localhost` is a name the resolver turns into an address, as `ollama` is in docker-compose;
    # the test suite's loopback guard lets it through (models/_http.py: check_host_allowed).
    # The openai_server fixture exports OPENAI_API_KEY: it must not reach the local server.
    monkeypatch.setenv(url_env, f"http://localhost:{openai_server.port}/v1")
    openai_server.script(text_stream("Hello from a named host."))
    r = Runner.run_sync(Agent(name="L", model=f"{prefix}:llama3.2"), "Hi")
    assert r.status is RunStatus.COMPLETED, r.error
    assert r.final_output == "Hello from a named host." and r.provider == prefix
    assert r.endpoint == f"http://localhost:{openai_server.port}/v1"
    (request,) = openai_server.requests
    assert request.body["model"] == "llama3.2" and "authorization" not in request.headers
    assert request.headers["host"] == f"localhost:{openai_server.port}"


def test_the_openai_provider_still_needs_a_key_for_a_remote_host() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set for http://ollama:11434/v1"):
        OpenAIChatModel("llama3.2", base_url="http://ollama:11434/v1")
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY is not set"):
        resolve_model("openrouter:x")
    model = OpenAIChatModel("x", base_url="http://192.168.1.5:8000/v1")  # a private address: no key needed
    assert not model.has_key


def test_base_url_and_api_key_still_work(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("ok"))
    model = OpenAIChatModel("m", base_url=openai_server.url, api_key="explicit-key-0123456789")
    assert model.provider is None and model.provider_settings is PROVIDERS["openai"]
    r = Runner.run_sync(Agent(name="B", model=model), "Hi")
    assert r.final_output == "ok"
    assert openai_server.requests[0].headers["authorization"] == "Bearer explicit-key-0123456789"


def test_a_preset_by_name_and_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OpenAIChatModel("m", provider="vllm").base_url == "http://localhost:8000/v1"
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key-0123456789abcdef")
    assert resolve_model("openrouter:x").structured == "tool"  # the provider's way to ask for typed answers
    assert OpenAIChatModel("x", provider="openrouter", structured=None).structured is None
    assert not OpenAIChatModel("x", provider="ollama", parse_text_tool_calls=False).parse_text_tool_calls
    with pytest.raises(ConfigError, match="unknown provider 'olama'"):
        OpenAIChatModel("x", provider="olama")
    with pytest.raises(ConfigError, match="structured"):
        Provider("p", base_url="http://localhost:1/v1", structured="xml")  # type: ignore[arg-type]
    moved = PROVIDERS["vllm"].with_(base_url="http://gpu-box:8000/v1")
    assert OpenAIChatModel("m", provider=moved).base_url == "http://gpu-box:8000/v1"


# -- a gateway of one's own ------------------------------------------------------------------------
GATEWAY_KEY = "gw-key-SECRET-0123456789"


def gateway() -> Provider:
    return Provider(
        "gateway",
        base_url="https://llm.example.invalid/v1",
        base_url_env="GATEWAY_URL",
        api_key_env="GATEWAY_KEY",
        requires_key=True,
        key_header="x-gateway-key",
        headers={"X-Team": "research"},
    )


def test_a_gateway_provider_sends_its_key_header_and_headers(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_URL", openai_server.url)
    monkeypatch.setenv("GATEWAY_KEY", GATEWAY_KEY)
    openai_server.script(text_stream("through the gateway"))
    model = OpenAIChatModel("llama3.1-70b", provider=gateway())
    r = Runner.run_sync(Agent(name="G", model=model), "Hi")
    assert r.status is RunStatus.COMPLETED and r.final_output == "through the gateway"
    assert r.provider == "gateway" and r.endpoint == openai_server.url
    (request,) = openai_server.requests
    assert request.headers["x-gateway-key"] == GATEWAY_KEY and request.headers["x-team"] == "research"
    assert "authorization" not in request.headers  # OPENAI_API_KEY (exported by the fixture) stays home
    assert GATEWAY_KEY not in repr(model) and GATEWAY_KEY not in repr(model.provider_settings)
    assert GATEWAY_KEY not in r.to_json()


def test_a_gateway_without_its_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_KEY is not set for https://llm.example.invalid/v1"):
        OpenAIChatModel("m", provider=gateway())


def test_a_provider_never_shows_its_key_and_pickles() -> None:
    key = "provider-own-key-0123456789"
    provider = Provider("gw", base_url="http://localhost:1/v1", api_key=key, headers={"x-a": "b"})
    text = repr(provider)
    assert key not in text and "api_key=***" in text and "x-a" in text, text
    assert pickle.loads(pickle.dumps(provider)) == provider
    model = OpenAIChatModel("m", provider=provider)
    assert model._headers["authorization"] == f"Bearer {key}" and key not in repr(model)
    again = pickle.loads(pickle.dumps(model))
    assert again.provider_settings == provider and again._headers == model._headers


def test_an_unpickled_provider_registers_its_key_in_the_new_process() -> None:
    # A model sent to a Dask worker carries its provider; the worker's scrubber must know the key.
    key = "plain-gateway-password-4711"
    model = OpenAIChatModel("m", provider=Provider("gw", base_url="https://gw.example.invalid/v1", api_key=key))
    code = (
        "import pickle, sys\n"
        "from openstackai_nb._secrets import scrub\n"
        "model = pickle.loads(sys.stdin.buffer.read())\n"
        f"print(scrub('the key is {key}'), repr(model.provider_settings), model.has_key)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(model), capture_output=True, check=True, timeout=60
    )
    text = out.stdout.decode()
    assert key not in text and "True" in text and "Provider('gw'" in text, out
