"""OpenAI-compatible chat completions over HTTP (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp...).

One pooled httpx2 client per event loop (`_http.py`), SSE streaming with tool-call argument
deltas assembled by index, retries with exponential backoff and jitter on 429/5xx and
connection errors (Retry-After honoured) that never sleep past the run's deadline; errors after
retries say how many attempts were made over how long.

What the servers really send is read in `_openai_wire.py` (content parts, reasoning, refusals,
error objects). Here, the stream's framing: `[DONE]` ends the read at once (a server that keeps
the connection open after it does not hold the run), an `error:` SSE field (llama.cpp), an
`event: error` block or an error object fails the answer with the server's message (scrubbed),
and a stream without any choice is an error ("the server sent an empty stream"), never an
empty answer.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from openstackai_nb._secrets import register_secret, scrub
from openstackai_nb.errors import ConfigError, ModelError, ModelHTTPError
from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolDefinition
from openstackai_nb.models import _http
from openstackai_nb.models._diagnose import context_checked, http_error, tool_advice
from openstackai_nb.models._openai_wire import (
    ChunkDecoder,
    StreamBroke,
    amended,
    attempts_text,
    chunk_payload,
    drain_after_done,
    error_detail,
    whole_answer,
    with_instruction,
)
from openstackai_nb.models._sse import SSEEvent, SSEParser
from openstackai_nb.models._text_tools import recover
from openstackai_nb.models._urls import chat_url, checked_base_url, server_retry_after
from openstackai_nb.models.base import Model, ModelRequestParameters
from openstackai_nb.models.providers import (
    DEFAULT_AZURE_API_VERSION,
    OPENAI,
    PROVIDERS,
    Provider,
    azure_base_url,
    provider_named,
)

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "DEFAULT_BASE_URL",
    "OpenAIChatModel",
    "STRUCTURED_MODES",
    "chat_url",
    "checked_base_url",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""Where requests go when neither base_url nor OPENAI_BASE_URL is given: the OpenAI API."""
STRUCTURED_MODES = ("json_schema", "tool", None)
"""How an OpenAIChatModel asks for a typed answer: `response_format` json_schema, a final-answer
tool the model must call (`tool_choice` "required"), or None: in the system message only."""
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIChatModel(Model):
    """A model served by an OpenAI-compatible `/chat/completions` endpoint.

    Who serves it is a `Provider` (`openstackai_nb.models.providers`): its default base URL and
    the variable overriding it, its key variable and whether a key is needed, the key's header,
    extra headers, how typed answers are asked for. `provider=` takes one (or a preset's name:
    "ollama", "vllm"...); without it the model talks to the OpenAI API or `OPENAI_BASE_URL`, key
    `OPENAI_API_KEY` (not needed for a loopback or private address).

    The request goes to `base_url` + "/chat/completions"; a query string in `base_url` is kept
    after that path (`https://host/openai/deployments/x?api-version=V` posts to
    `https://host/openai/deployments/x/chat/completions?api-version=V`).

    A key never travels in a URL: a `base_url` with a user name or password in it
    (`http://user:KEY@host/v1`) is refused with a ConfigError (that does not quote it) telling
    you to pass the key as `api_key=`. It would otherwise be sent as Basic auth and shown
    wherever the URL is (errors, reprs, history).

    Args:
        name: the model name sent to the endpoint, e.g. "gpt-4o-mini" or "llama3.2".
        provider: a `Provider`, or a preset's name; default the OpenAI provider.
        base_url: the API root; default the provider's variable (`OPENAI_BASE_URL`...), else its URL.
        api_key: the key; default the provider's key variable (`OPENAI_API_KEY`...).
        stream: use server-sent events (True) or one JSON answer (False).
        max_retries: retries on 429/5xx/connection errors, and of a stream that broke before any
            text arrived (all within the run's time limits).
        settings: extra body fields sent with every request (temperature, max_tokens...).
        backoff: seconds before the first retry (doubled each time, with jitter).
        key_header: the header that carries the key (default the provider's): "authorization"
            sends `Bearer KEY`; any other name sends the key as it is (Azure OpenAI: "api-key").
        structured: how a typed answer (an agent's `output_type`) is asked for (default the
            provider's): "json_schema" sends `response_format` {"type": "json_schema", ...}, strict
            when the schema allows it, for endpoints with structured outputs (OpenAI, Azure
            OpenAI, Ollama, vLLM, llama.cpp, LM Studio); "tool" offers a final-answer tool and sets
            `tool_choice` "required", for endpoints with tool calling but no structured outputs;
            None states the schema in the system message only. Whatever comes back is validated,
            and an answer that does not match goes back to the model with the errors.
        parse_text_tool_calls: recover tool calls the model wrote as text when the server sent
            none (default the provider's: on for local servers); such calls are marked
            `parsed_from_text`.

    `provider` names who serves the model, as runs record it (`RunResult.provider`: prices,
    OpenTelemetry): "openai" for the OpenAI API, "azure" for `azure()`, a preset's prefix
    ("ollama", "openrouter"...), a provider of your own's `name`, else None (an
    OpenAI-compatible server elsewhere: its `endpoint` tells). The `Provider` itself is
    `provider_settings`.

    Raises:
        ConfigError: no key for a remote endpoint whose provider needs one; a base URL that is
            not http(s) or holds credentials; an unknown provider name.
    """

    def __init__(
        self,
        name: str,
        *,
        provider: Provider | str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        stream: bool = True,
        max_retries: int = 3,
        settings: Mapping[str, Any] | None = None,
        backoff: float = 0.5,
        key_header: str | None = None,
        structured: str | None = "provider",
        parse_text_tool_calls: bool | None = None,
    ) -> None:
        if not name:
            raise ConfigError("model name is empty: pass e.g. model='gpt-4o-mini'")
        self.name = name
        spec = provider_named(provider) if isinstance(provider, str) else provider or OPENAI
        if not isinstance(spec, Provider):
            raise ConfigError(f"provider must be a Provider or a preset's name, got {type(spec).__name__}")
        if key_header is not None:
            spec = spec.with_(key_header=key_header)
        self.provider_settings = spec
        """The `Provider` whose settings the model uses."""
        self.base_url = checked_base_url(*spec.resolve_base_url(base_url))
        key = spec.resolve_key(api_key)
        if not key and spec.requires_key and not _http.is_local_url(self.base_url):
            raise ConfigError(
                f"{spec.key_variable} is not set for {self.base_url}: export it, pass api_key=..., "
                "or use a local server, e.g. model='ollama:llama3.2', or the offline model='scripted'"
            )
        register_secret(key)
        self._api_key = key or None
        self.stream_mode = stream
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        self.max_retries = max_retries
        self.backoff = backoff
        self.settings = dict(settings or {})
        structured = spec.structured if structured == "provider" else structured
        if structured not in STRUCTURED_MODES:
            raise ConfigError(f"structured must be 'json_schema', 'tool' or None, got {structured!r}")
        self.structured = structured
        """How a typed answer is asked for: "json_schema", "tool" or None (see the class docs)."""
        self.parse_text_tool_calls = bool(
            spec.parse_text_tool_calls if parse_text_tool_calls is None else parse_text_tool_calls
        )
        """Whether tool calls written as text are recovered (see the class docs)."""
        self._url = chat_url(self.base_url)
        self._parsed_url: httpx2.URL | None = None  # parsed on the first request (saves ~30 us per request)
        headers = {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json"}
        headers.update(spec.headers)
        if self._api_key:
            header = spec.key_header.strip().lower()
            headers[header] = f"Bearer {self._api_key}" if header == "authorization" else self._api_key
        self._headers = headers
        self.provider: str | None = spec.name
        """Who serves the model (see the class docs)."""
        if spec.name == "openai" and urlsplit(self.base_url).hostname != "api.openai.com":
            self.provider = None  # an OpenAI-compatible server elsewhere

    @classmethod
    def azure(
        cls,
        deployment: str,
        *,
        endpoint: str | None = None,
        api_key: str | None = None,
        api_version: str | None = None,
        **kwargs: Any,
    ) -> OpenAIChatModel:
        """An Azure OpenAI deployment (what `model="azure:DEPLOYMENT"` gives).

        Posts to `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`
        with the key in the `api-key` header.

        Args:
            deployment: the deployment's name (Azure routes by it, not by model name).
            endpoint: the resource's endpoint; default `AZURE_OPENAI_ENDPOINT`
                (e.g. https://my-resource.openai.azure.com).
            api_key: the key; default `AZURE_OPENAI_API_KEY`.
            api_version: default `OPENAI_API_VERSION`, else `DEFAULT_AZURE_API_VERSION`.
            **kwargs: the other OpenAIChatModel options (stream, max_retries, settings...).

        Raises:
            ConfigError: no deployment, endpoint or key.
        """
        base, key = azure_base_url(deployment, endpoint, api_key, api_version)
        return cls(deployment, provider=PROVIDERS["azure"], base_url=base, api_key=key, **kwargs)

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self.base_url

    @property
    def has_key(self) -> bool:
        """Whether an API key is configured (its value is never shown)."""
        return self._api_key is not None

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.name!r}, base_url={self.base_url!r})"

    def _body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        settings: Mapping[str, Any] | None,
        output: OutputSpec | None = None,
    ) -> bytes:
        wire = [m.to_openai() for m in messages]
        if output is not None and self.structured == "tool":
            tools = [*tools, output.tool_definition()]
        elif output is not None and self.structured is None:
            wire = with_instruction(wire, output.instruction())
        body: dict[str, Any] = {"model": self.name, "messages": wire}
        if tools:
            body["tools"] = [t.to_openai() for t in tools]
        if output is not None and self.structured == "json_schema":
            body["response_format"] = output.response_format()
        elif output is not None and self.structured == "tool":
            body["tool_choice"] = "required"
        if self.stream_mode:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(self.settings)
        if settings:
            body.update(settings)
        return json.dumps(body, separators=(",", ":")).encode()

    async def stream(self, messages: Sequence[Message], params: ModelRequestParameters) -> AsyncIterator[ModelDelta]:
        """POST the conversation and yield the answer as deltas (retrying when allowed).

        Retried: 408/409/429/5xx answers, connection errors, and a stream that broke (dropped,
        or ended without finish_reason) before any text or reasoning was yielded. Once a delta
        was yielded, a broken stream is an error: text is never taken back.
        """
        import httpx2

        tools, deadline = params.tools, params.deadline
        _http.check_host_allowed(self._url)
        content = self._body(messages, tools, params.settings, params.output)
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        while True:
            retry_reason: str | None = None
            retry_after: float | None = None
            async with _http.lease() as client:
                try:
                    if self._parsed_url is None:
                        self._parsed_url = httpx2.URL(self._url)
                    response = await client.send(
                        client.build_request("POST", self._parsed_url, content=content, headers=self._headers),
                        stream=True,
                    )
                except (httpx2.TransportError, OSError) as exc:
                    cause = f"connection error: {type(exc).__name__}: {scrub(str(exc)) or 'no detail'}"
                    retry_reason = f"could not reach {self.base_url}: {cause}"  # a run cut off while retrying says it
                    last_error: ModelError = ModelError(
                        f"could not reach {self.base_url} for model {self.name!r} ({cause}); "
                        f"check {self.provider_settings.base_url_env or 'base_url'} and that the server is running"
                    )
                else:
                    try:
                        if response.status_code >= 400:
                            body = (await response.aread()).decode("utf-8", "replace")
                            last_error = self._http_error(response.status_code, body, response.headers)
                            if response.status_code not in RETRY_STATUSES or tool_advice(body):
                                raise last_error
                            retry_reason = f"HTTP {response.status_code}"
                            retry_after = server_retry_after(response)
                        else:
                            deltas = self._answer(response, tools, len(content))
                            sent = False
                            try:
                                async with aclosing(deltas):
                                    async for delta in deltas:
                                        sent = True
                                        yield delta
                            except StreamBroke as broke:
                                if sent:
                                    raise broke.error from None
                                retry_reason, last_error = broke.reason, broke.error
                            else:
                                return
                    finally:
                        await response.aclose()
            attempts = attempt + 1
            if attempt >= self.max_retries:
                raise amended(last_error, attempts_text(attempts, loop.time() - started)) from None
            delay = retry_after if retry_after is not None else self.backoff * (2**attempt) * random.uniform(0.5, 1.5)
            delay = min(delay, 60.0)
            if deadline is not None and loop.time() + delay >= deadline:
                raise amended(
                    last_error,
                    f"{attempts_text(attempts, loop.time() - started)}; not retried: "
                    f"waiting {delay:.1f}s would pass the run's time limit",
                ) from None
            attempt += 1
            yield ModelDelta("retry", text=retry_reason or "retry", delay=delay)
            await asyncio.sleep(delay)

    def _answer(
        self, response: httpx2.Response, tools: Sequence[ToolDefinition], sent: int
    ) -> AsyncGenerator[ModelDelta, None]:
        """The answer's deltas: tool calls written as text recovered, a cut prompt warned about."""
        if self.stream_mode and "text/event-stream" in response.headers.get("content-type", ""):
            deltas = self._read_sse(response, sent)
        else:
            deltas = self._read_json(response, sent)
        if self.parse_text_tool_calls and tools:
            deltas = recover(deltas, [t.name for t in tools])
        return deltas

    def _http_error(self, status: int, body: str, headers: Mapping[str, str]) -> ModelHTTPError:
        spec = self.provider_settings
        return http_error(
            status,
            body,
            headers.get("content-type", ""),
            url=self._url,
            model=self.name,
            key_env=spec.key_variable,
            url_env=spec.base_url_env or "base_url",
        )

    async def _read_json(self, response: httpx2.Response, sent: int) -> AsyncGenerator[ModelDelta, None]:
        answer = whole_answer(await response.aread(), self.name, self._url)
        for delta in context_checked(answer, sent, self.provider_settings.context_hint):
            yield delta

    async def _read_sse(self, response: httpx2.Response, sent: int) -> AsyncGenerator[ModelDelta, None]:
        import httpx2

        parser = SSEParser(source=self._url)
        decoder = ChunkDecoder(self.name)
        done = False
        raw_chunks = response.aiter_raw()
        try:
            try:
                async for raw in raw_chunks:
                    for event in parser.feed(raw):
                        deltas = self._event(event, decoder)
                        if deltas is None:
                            done = True
                            break
                        for delta in deltas:
                            yield delta
                    if done:
                        break
                else:
                    for event in parser.flush():  # a last event without its blank line
                        deltas = self._event(event, decoder)
                        if deltas is None:
                            done = True
                            break
                        for delta in deltas:
                            yield delta
            except httpx2.TransportError as exc:
                raise StreamBroke(
                    f"the stream dropped after {decoder.chunks} chunks ({type(exc).__name__})",
                    ModelError(
                        f"the connection to {self.base_url} dropped mid-stream after {decoder.chunks} chunks "
                        f"({type(exc).__name__}); the answer is incomplete"
                    ),
                ) from None
            if done:
                await drain_after_done(raw_chunks)
        finally:
            await raw_chunks.aclose()
        if not done and decoder.finish is None:
            raise StreamBroke(
                f"the stream ended after {decoder.chunks} chunks without finish_reason or [DONE]",
                ModelError(
                    f"the stream from {self._url} ended after {decoder.chunks} chunks without finish_reason or "
                    "[DONE]; the answer would be truncated"
                ),
            )
        if not decoder.seen:
            raise ModelError(
                f"the server sent an empty stream: {self._url} answered {decoder.chunks} chunks without any choice "
                f"for model {self.name!r}, then [DONE]; check the model name and the server's logs"
            )
        for delta in context_checked(decoder.end(), sent, self.provider_settings.context_hint):
            yield delta

    def _event(self, event: SSEEvent, decoder: ChunkDecoder) -> list[ModelDelta] | None:
        """The deltas of one SSE event; None for [DONE]. Raises ModelError for an error event."""
        if event.event == "error" or "error" in event.extra:
            text = event.extra.get("error") or event.data
            raise ModelError(
                scrub(
                    f"the server reported an error mid-stream for model {self.name!r} after {decoder.chunks} chunks: "
                    f"{error_detail(text, limit=300) or 'no detail'}"
                )
            )
        data = event.data
        if data == "[DONE]":
            return None
        if not data:
            return []
        decoder.chunks += 1
        payload = chunk_payload(data)
        if type(payload) is not dict:
            raise ModelError(
                f"malformed server-sent event from {self._url} after {decoder.chunks - 1} chunks: "
                f"{scrub(data[:120])!r} is not a JSON object"
            )
        return decoder.decode(payload)
