from __future__ import annotations

import pytest

from openstackai_nb.errors import ConfigError
from openstackai_nb.models import resolve_model
from openstackai_nb.models.function import ScriptedModel
from openstackai_nb.models.openai import OpenAIChatModel


def test_plain_name_uses_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    m = resolve_model("gpt-4o-mini")
    assert isinstance(m, OpenAIChatModel)
    assert m.name == "gpt-4o-mini" and m.base_url == "http://127.0.0.1:9/v1"


def test_missing_key_for_remote_endpoint_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set") as info:
        resolve_model("gpt-4o-mini")
    assert "ollama:llama3.2" in str(info.value)


def test_ollama_preset_needs_no_key() -> None:
    m = resolve_model("ollama:llama3.2")
    assert isinstance(m, OpenAIChatModel)
    assert m.base_url == "http://localhost:11434/v1" and not m.has_key and m.name == "llama3.2"


def test_unknown_prefix_suggests() -> None:
    with pytest.raises(ConfigError, match="did you mean 'ollama'"):
        resolve_model("olama:llama3.2")


def test_scripted_and_delay() -> None:
    assert isinstance(resolve_model("scripted"), ScriptedModel)
    assert resolve_model("scripted:0.01").delay == 0.01  # type: ignore[attr-defined]
    with pytest.raises(ConfigError):
        resolve_model("scripted:fast")


def test_key_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    m = OpenAIChatModel("x", base_url="https://example.invalid/v1", api_key="sk-live-abcdefghijklmnop")
    assert "sk-live" not in repr(m) and "sk-live" not in str(vars(m).get("base_url"))


def test_bad_base_url() -> None:
    with pytest.raises(ConfigError, match="http"):
        OpenAIChatModel("x", base_url="localhost:8000")


def test_an_unpickled_model_registers_its_key_in_the_new_process() -> None:
    # A model pickled to another process (a Dask worker, a subprocess) carries its key; that
    # process's scrubber must know it, even when the key does not look like one.
    import pickle
    import subprocess
    import sys

    key = "plain-password-4711"
    model = OpenAIChatModel.azure("gpt4o", endpoint="https://x.openai.azure.com", api_key=key)
    code = (
        "import pickle, sys\n"
        "from openstackai_nb._secrets import scrub\n"
        "model = pickle.loads(sys.stdin.buffer.read())\n"
        f"print(scrub('the key is {key}; set AZURE_OPENAI_API_KEY'), model.has_key)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(model), capture_output=True, check=True, timeout=60
    )
    assert key not in out.stdout.decode() and "True" in out.stdout.decode(), out
    assert "set AZURE_OPENAI_API_KEY" in out.stdout.decode()  # the variable's name is not a secret
