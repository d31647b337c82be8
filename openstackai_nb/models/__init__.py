"""Models behind one interface, and `resolve_model()` that turns a name into one.

Names:
    "gpt-4o-mini" (any plain name)  OpenAI-compatible endpoint at OPENAI_BASE_URL (key: OPENAI_API_KEY)
    "openai:NAME"                   the same, explicitly
    "azure:DEPLOYMENT"              Azure OpenAI: AZURE_OPENAI_ENDPOINT, key AZURE_OPENAI_API_KEY (sent in the
                                    `api-key` header), api-version OPENAI_API_VERSION (default 2024-10-21)
    "ollama:NAME"                   http://localhost:11434/v1 (OLLAMA_BASE_URL overrides), no key needed
    "lmstudio:NAME"                 http://localhost:1234/v1 (LMSTUDIO_BASE_URL overrides), no key needed
    "vllm:NAME"                     http://localhost:8000/v1 (VLLM_BASE_URL overrides), no key needed
    "llamacpp:NAME"                 http://localhost:8080/v1 (LLAMACPP_BASE_URL overrides), no key needed
    "openrouter:NAME"               https://openrouter.ai/api/v1, key: OPENROUTER_API_KEY

Each prefix is a `Provider` (`openstackai_nb.models.providers.PROVIDERS`) that owns those settings.
A local server (ollama, lmstudio, vllm, llamacpp) needs no key wherever it lives (a host given by
name, e.g. `OLLAMA_BASE_URL=http://ollama:11434/v1`, included), never gets OPENAI_API_KEY, and
sends its own key variable (`VLLM_API_KEY`, `LLAMACPP_API_KEY`, `OLLAMA_API_KEY`,
`LMSTUDIO_API_KEY`) as a Bearer token only when it is set. It also recovers tool calls a model
wrote as text (`parse_text_tool_calls`).
    "scripted"                      the offline ScriptedModel
    "replay:PATH"                   replay a recorded cassette (offline)

Typed answers (`Agent(output_type=...)`) are asked for with `response_format` json_schema on
every preset whose server documents structured outputs (OpenAI, Azure OpenAI, Ollama >= 0.5,
vLLM, llama.cpp's server, LM Studio: they constrain decoding to the schema, whatever the model),
and through a final-answer tool on OpenRouter, which passes `response_format` only to the models
that support it; `OpenAIChatModel(..., structured="json_schema" | "tool" | None)` overrides it.

Provider modules are imported only when a name asks for them. A base URL keeps its query
string (the path is appended before it) and may not hold credentials (`user:KEY@host` is a
ConfigError: pass the key as api_key= or its variable).
"""

from __future__ import annotations

import difflib
import os
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import ConfigError
from openstackai_nb.models.base import Model, ModelRequestParameters
from openstackai_nb.models.providers import PROVIDERS, Provider

if TYPE_CHECKING:
    from openstackai_nb.models.function import FunctionModel, ScriptedModel
    from openstackai_nb.models.openai import OpenAIChatModel

__all__ = [
    "DEFAULT_MODEL",
    "FunctionModel",
    "Model",
    "ModelRequestParameters",
    "OpenAIChatModel",
    "Provider",
    "ScriptedModel",
    "aclose_clients",
    "default_model_name",
    "resolve_model",
]

DEFAULT_MODEL = "gpt-4o-mini"
"""The model an Agent gets when neither it nor OPENSTACKAI_NB_MODEL names one."""

_PREFIXES = sorted({"replay", "scripted", *PROVIDERS})


def default_model_name() -> str:
    """The model an Agent gets when none is named: OPENSTACKAI_NB_MODEL, else gpt-4o-mini."""
    return os.environ.get("OPENSTACKAI_NB_MODEL") or DEFAULT_MODEL


def resolve_model(model: str | Model | None) -> Model:
    """Return a Model for a name (see the module docs) or the Model itself.

    Raises:
        ConfigError: an unknown prefix (with "did you mean"), an empty name, a missing key.
    """
    if isinstance(model, Model):
        return model
    if model is None:
        model = default_model_name()
    if not isinstance(model, str):
        raise ConfigError(f"model must be a name or a Model object, got {type(model).__name__}")
    name = model.strip()
    if name == "scripted" or name.startswith("scripted:"):
        from openstackai_nb.models.function import ScriptedModel

        rest = name.partition(":")[2]
        try:
            return ScriptedModel(delay=float(rest) if rest else None)
        except ValueError:
            raise ConfigError(f"'scripted:SECONDS' takes a delay per word, got {rest!r}") from None
    prefix, sep, rest = name.partition(":")
    if sep and prefix == "replay":
        from openstackai_nb.models.replay import ReplayModel

        return ReplayModel(rest)
    if sep and prefix == "azure":
        from openstackai_nb.models.openai import OpenAIChatModel

        return OpenAIChatModel.azure(rest)
    if sep and prefix in PROVIDERS and prefix != "openai":
        from openstackai_nb.models.openai import OpenAIChatModel

        return OpenAIChatModel(rest, provider=PROVIDERS[prefix])
    if sep and prefix == "openai":
        name = rest
    elif sep and "/" not in prefix and not prefix.startswith("ft") and prefix.isidentifier():
        # "ollam:llama3" is a typo of a prefix, but "ft:gpt-4o:org" is a fine-tuned OpenAI name.
        close = difflib.get_close_matches(prefix, _PREFIXES, n=1)
        if close:
            raise ConfigError(f"unknown model prefix {prefix!r} in {model!r}; did you mean {close[0]!r}?")
    from openstackai_nb.models.openai import OpenAIChatModel

    return OpenAIChatModel(name)


async def aclose_clients() -> None:
    """Close the HTTP clients pooled for the running event loop (other loops keep theirs).

    The package's run loop does it at exit. Code that runs models on an event loop of its own
    and closes that loop (a script's `asyncio.run`, a test) may await it first, so no
    connection is left open.
    """
    from openstackai_nb.models import _http

    await _http.aclose_all()


def __getattr__(name: str) -> Any:
    if name == "OpenAIChatModel":
        from openstackai_nb.models.openai import OpenAIChatModel

        return OpenAIChatModel
    if name in ("FunctionModel", "ScriptedModel"):
        from openstackai_nb.models import function

        return getattr(function, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
