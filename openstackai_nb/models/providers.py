"""Who serves a model: a `Provider` owns its settings (URL, key, typed answers, headers, local quirks).

Each preset name (`model="ollama:llama3.2"`) is one `Provider` in `PROVIDERS`; an
`OpenAIChatModel` takes one (`OpenAIChatModel(name, provider=...)`), or builds the plain OpenAI
one from `base_url=` / `api_key=` as it always did. Write your own for a gateway or proxy:

    gateway = Provider(
        "gateway", base_url="https://llm.example.com/v1", base_url_env="GATEWAY_URL",
        api_key_env="GATEWAY_KEY", key_header="x-gateway-key", headers={"x-team": "research"},
    )
    model = OpenAIChatModel("llama3.1-70b", provider=gateway)

Local servers (ollama, llamacpp, vllm, lmstudio) need no key wherever they live (`localhost`, a
docker-compose service such as `http://ollama:11434/v1`, another box), and never send
`OPENAI_API_KEY`: that key belongs to OpenAI, and sending it to a local box would hand it to
whoever runs that box. A local preset reads only its own key variable (`VLLM_API_KEY` for a vLLM
server started with `--api-key`, `LLAMACPP_API_KEY`, `OLLAMA_API_KEY`, `LMSTUDIO_API_KEY`), and
sends it as `Authorization: Bearer ...` only when it is set.

Modelled on pydantic-ai's `providers/` (the provider knows where and how to connect, the model
knows the wire format), with one difference: pydantic-ai's `Provider` is an abstract class that
hands out an authenticated client; ours is plain frozen data, because the HTTP clients are pooled
per event loop and shared by every model (`_http.py`), and because a model pickled to a Dask
worker must carry its settings, not a client bound to a loop.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from openstackai_nb.errors import ConfigError

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "LOCAL_PROVIDERS",
    "OPENAI",
    "PROVIDERS",
    "Provider",
    "StructuredMode",
    "azure_base_url",
    "provider_named",
]

DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""The Azure OpenAI API version used when OPENAI_API_VERSION is not set (a GA version)."""

StructuredMode = Literal["json_schema", "tool"] | None
"""How a typed answer is asked for: `response_format` json_schema, a final-answer tool, or None
(the schema in the system message only)."""


@dataclass(frozen=True)
class Provider:
    """The settings of one OpenAI-compatible service: where it is, its key, how it asks for typed answers.

    Args:
        name: who serves the model as runs record it (`RunResult.provider`: prices, OpenTelemetry),
            e.g. "ollama"; None for "unknown" (prices then go by the base URL).
        base_url: the API root used when neither `base_url=` nor `base_url_env` is set.
        base_url_env: the environment variable that overrides `base_url` (e.g. "OLLAMA_BASE_URL").
        api_key_env: the environment variable holding the key (e.g. "OPENROUTER_API_KEY"); None: none.
        requires_key: True when requests without a key cannot work (a hosted API): a missing key
            is then a ConfigError before any request. A provider that does not require one
            (a local server) sends its key only when one is set.
        key_header: the header that carries the key: "authorization" sends `Bearer KEY`; any
            other name sends the key as it is (Azure OpenAI: "api-key").
        headers: extra headers sent with every request (not secret: they are shown in reprs;
            put a secret in `api_key` / `api_key_env` with `key_header`).
        structured: how a typed answer is asked for: "json_schema", "tool" or None.
        local: a server on your own machine or network (ollama, llamacpp, vllm, lmstudio): it
            never gets OPENAI_API_KEY, and its typical failures get local advice.
        parse_text_tool_calls: recover tool calls a model wrote as text (`<tool_call>{...}</tool_call>`,
            or a bare `{"name": ..., "arguments": ...}` answer) when the server returned none;
            on by default for local providers.
        context_hint: how to give the model a bigger context window on this server, said when
            the server reports far fewer prompt tokens than were sent (None: a generic advice).
        api_key: a key of its own (never shown in reprs); `api_key=` on the model wins over it,
            and it wins over `api_key_env`.
    """

    name: str | None
    base_url: str
    base_url_env: str | None = None
    api_key_env: str | None = None
    requires_key: bool = False
    key_header: str = "authorization"
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    structured: StructuredMode = "json_schema"
    local: bool = False
    parse_text_tool_calls: bool | None = None
    context_hint: str | None = None
    api_key: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.structured not in ("json_schema", "tool", None):
            raise ConfigError(f"Provider.structured must be 'json_schema', 'tool' or None, got {self.structured!r}")
        if not isinstance(self.key_header, str) or not self.key_header.strip():
            raise ConfigError(f"Provider.key_header must be a header name, got {self.key_header!r}")
        object.__setattr__(self, "headers", {str(k).lower(): str(v) for k, v in dict(self.headers).items()})
        if self.parse_text_tool_calls is None:
            object.__setattr__(self, "parse_text_tool_calls", self.local)
        if self.api_key:
            from openstackai_nb._secrets import register_secret

            register_secret(self.api_key)

    def __setstate__(self, state: Any) -> None:
        """Unpickled in another process (a Dask worker): its key joins that process's scrubber."""
        attributes = state[0] if isinstance(state, tuple) else state
        for key, value in (attributes or {}).items():
            object.__setattr__(self, key, value)
        if self.api_key:
            from openstackai_nb._secrets import register_secret

            register_secret(self.api_key)

    def __repr__(self) -> str:
        # Only what differs from a field's default; never the key (nor whether headers hold one).
        shown = [repr(self.name)]
        for f in dataclasses.fields(self)[1:]:
            value = getattr(self, f.name)
            if not f.repr or f.name == "parse_text_tool_calls" and value == self.local:
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if f.name == "base_url" or value != default:
                shown.append(f"{f.name}={dict(value) if f.name == 'headers' else value!r}")
        if self.api_key:
            shown.append("api_key=***")
        return f"Provider({', '.join(shown)})"

    def with_(self, **changes: Any) -> Provider:
        """A copy with some settings changed, e.g. `PROVIDERS["vllm"].with_(base_url="http://gpu-box:8000/v1")`."""
        return dataclasses.replace(self, **changes)

    def resolve_base_url(self, base_url: str | None) -> tuple[str, str]:
        """(the base URL, where it came from): `base_url`, else `base_url_env`, else the default."""
        if base_url:
            return base_url, "base_url"
        if self.base_url_env:
            value = os.environ.get(self.base_url_env)
            if value:
                return value, self.base_url_env
        return self.base_url, "the default base URL" if not self.base_url_env else self.base_url_env

    def resolve_key(self, api_key: str | None) -> str | None:
        """The key to send: `api_key`, else the provider's own, else `api_key_env`'s value; None for none.

        A local provider never reads any variable but its own `api_key_env` (never OPENAI_API_KEY).
        """
        if api_key is not None:
            return api_key or None
        if self.api_key:
            return self.api_key
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None

    @property
    def key_variable(self) -> str:
        """What an error tells you to set for a key: `api_key_env`, else `api_key=`."""
        return self.api_key_env or "api_key=..."


OPENAI = Provider(
    "openai",
    base_url="https://api.openai.com/v1",
    base_url_env="OPENAI_BASE_URL",
    api_key_env="OPENAI_API_KEY",
    requires_key=True,
)
"""The OpenAI API (and any OpenAI-compatible endpoint given by `OPENAI_BASE_URL` / `base_url=`)."""

PROVIDERS: dict[str, Provider] = {
    "ollama": Provider(
        "ollama",
        base_url="http://localhost:11434/v1",
        base_url_env="OLLAMA_BASE_URL",
        api_key_env="OLLAMA_API_KEY",
        local=True,
        context_hint=(
            "Ollama's context window is small by default (4096 tokens below 24 GiB of VRAM, 2048 in older "
            "versions): raise it on the server, OLLAMA_CONTEXT_LENGTH=32768 ollama serve, or per model with "
            "PARAMETER num_ctx 32768 in a Modelfile (its OpenAI-compatible /v1 endpoint documents no per-request "
            "setting)"
        ),
    ),
    "llamacpp": Provider(
        "llamacpp",
        base_url="http://localhost:8080/v1",
        base_url_env="LLAMACPP_BASE_URL",
        api_key_env="LLAMACPP_API_KEY",
        local=True,
        context_hint=(
            "start llama-server with a bigger context: -c 16384 (--ctx-size; it is split between its --parallel slots)"
        ),
    ),
    "vllm": Provider(
        "vllm",
        base_url="http://localhost:8000/v1",
        base_url_env="VLLM_BASE_URL",
        api_key_env="VLLM_API_KEY",
        local=True,
        context_hint="start vLLM with a bigger --max-model-len",
    ),
    "lmstudio": Provider(
        "lmstudio",
        base_url="http://localhost:1234/v1",
        base_url_env="LMSTUDIO_BASE_URL",
        api_key_env="LMSTUDIO_API_KEY",
        local=True,
        context_hint="load the model in LM Studio with a bigger context length (lms load --context-length 16384)",
    ),
    "openrouter": Provider(
        "openrouter",
        base_url="https://openrouter.ai/api/v1",
        base_url_env="OPENROUTER_BASE_URL",
        api_key_env="OPENROUTER_API_KEY",
        requires_key=True,
        structured="tool",  # response_format reaches only the models that support it
    ),
    "azure": Provider(
        "azure",
        base_url="",  # built per deployment by OpenAIChatModel.azure()
        base_url_env="AZURE_OPENAI_ENDPOINT",
        api_key_env="AZURE_OPENAI_API_KEY",
        requires_key=True,
        key_header="api-key",
    ),
    "openai": OPENAI,
}
"""The preset providers by prefix (`model="PREFIX:NAME"`)."""

LOCAL_PROVIDERS = tuple(sorted(k for k, p in PROVIDERS.items() if p.local))
"""The prefixes of local-server presets: ("llamacpp", "lmstudio", "ollama", "vllm")."""


def provider_named(name: str) -> Provider:
    """The preset provider of a prefix; ConfigError naming the known ones."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ConfigError(f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}") from None


def azure_base_url(
    deployment: str, endpoint: str | None, api_key: str | None, api_version: str | None
) -> tuple[str, str]:
    """(base URL, key) of an Azure OpenAI deployment, from the arguments or AZURE_OPENAI_* variables.

    Raises:
        ConfigError: no deployment, endpoint or key.
    """
    from urllib.parse import quote, urlencode

    from openstackai_nb.models._urls import checked_base_url

    if not deployment:
        raise ConfigError("an Azure deployment name is needed: model='azure:DEPLOYMENT'")
    source = "endpoint" if endpoint else "AZURE_OPENAI_ENDPOINT"
    endpoint = endpoint or os.environ.get("AZURE_OPENAI_ENDPOINT")
    if not endpoint:
        raise ConfigError(
            "AZURE_OPENAI_ENDPOINT is not set: export it (e.g. https://my-resource.openai.azure.com) "
            "to use azure: models, or pass endpoint=..."
        )
    key = api_key if api_key is not None else os.environ.get("AZURE_OPENAI_API_KEY")
    if not key:
        raise ConfigError("AZURE_OPENAI_API_KEY is not set: export it to use azure: models, or pass api_key=...")
    version = api_version or os.environ.get("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION
    root = checked_base_url(endpoint, source)
    query = urlencode({"api-version": version})
    base = f"{root}/openai/deployments/{quote(deployment, safe='')}?{query}"
    return base, key
