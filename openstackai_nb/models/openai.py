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
import os
import random
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from openstackai_nb._secrets import register_secret, scrub
from openstackai_nb.errors import ConfigError, ModelError, ModelHTTPError
from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolDefinition
from openstackai_nb.models import _http
from openstackai_nb.models._openai_wire import (
    ChunkDecoder,
    StreamBroke,
    amended,
    attempts_text,
    drain_after_done,
    error_detail,
    with_instruction,
)
from openstackai_nb.models._sse import SSEEvent, SSEParser
from openstackai_nb.models._urls import chat_url, checked_base_url, server_retry_after
from openstackai_nb.models.base import Model

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
DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""The Azure OpenAI API version used when OPENAI_API_VERSION is not set (a GA version)."""
STRUCTURED_MODES = ("json_schema", "tool", None)
"""How an OpenAIChatModel asks for a typed answer: `response_format` json_schema, a final-answer
tool the model must call (`tool_choice` "required"), or None: in the system message only."""
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_HINTS = {
    400: "the request was rejected: check the model name and the message/tool format",
    401: "the API key was refused: check {key_env} (or api_key=...)",
    403: "access denied: check the key's permissions for this model",
    404: "not found: check the base URL ({url_env}) and the model name",
    422: "the request was rejected: check the model name and parameters",
}


class OpenAIChatModel(Model):
    """A model served by an OpenAI-compatible `/chat/completions` endpoint.

    The request goes to `base_url` + "/chat/completions"; a query string in `base_url` is kept
    after that path (`https://host/openai/deployments/x?api-version=V` posts to
    `https://host/openai/deployments/x/chat/completions?api-version=V`).

    A key never travels in a URL: a `base_url` with a user name or password in it
    (`http://user:KEY@host/v1`) is refused with a ConfigError (that does not quote it) telling
    you to pass the key as `api_key=`. It would otherwise be sent as Basic auth and shown
    wherever the URL is (errors, reprs, history).

    Args:
        name: the model name sent to the endpoint, e.g. "gpt-4o-mini" or "llama3.2".
        base_url: the API root; default `OPENAI_BASE_URL`, else the OpenAI API.
        api_key: the key; default `OPENAI_API_KEY`. Not needed for local endpoints.
        stream: use server-sent events (True) or one JSON answer (False).
        max_retries: retries on 429/5xx/connection errors, and of a stream that broke before any
            text arrived (all within the run's time limits).
        settings: extra body fields sent with every request (temperature, max_tokens...).
        backoff: seconds before the first retry (doubled each time, with jitter).
        key_header: the header that carries the key: "authorization" sends `Bearer KEY`; any
            other name sends the key as it is (Azure OpenAI: "api-key").
        structured: how a typed answer (an agent's `output_type`) is asked for:
            "json_schema" (default) sends `response_format` {"type": "json_schema", ...}, strict
            when the schema allows it, for endpoints with structured outputs (OpenAI, Azure
            OpenAI, Ollama, vLLM, llama.cpp, LM Studio); "tool" offers a final-answer tool and sets
            `tool_choice` "required", for endpoints with tool calling but no structured outputs;
            None states the schema in the system message only. Whatever comes back is validated,
            and an answer that does not match goes back to the model with the errors.

    `provider` names who serves the model, as runs record it (`RunResult.provider`: prices,
    OpenTelemetry): "openai" for the OpenAI API, "azure" for `azure()`, a preset's prefix
    ("ollama", "openrouter"...), else None (an OpenAI-compatible server elsewhere: its
    `endpoint` tells).

    Raises:
        ConfigError: no key for a remote endpoint; a base URL that is not http(s) or holds credentials.
    """

    _key_env = "OPENAI_API_KEY"
    _url_env = "OPENAI_BASE_URL"

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        stream: bool = True,
        max_retries: int = 3,
        settings: Mapping[str, Any] | None = None,
        backoff: float = 0.5,
        key_header: str = "authorization",
        structured: str | None = "json_schema",
    ) -> None:
        if not name:
            raise ConfigError("model name is empty: pass e.g. model='gpt-4o-mini'")
        self.name = name
        source = "base_url" if base_url else self._url_env
        self.base_url = checked_base_url(base_url or os.environ.get(self._url_env) or DEFAULT_BASE_URL, source)
        key = api_key if api_key is not None else os.environ.get(self._key_env)
        if not key and not _http.is_local_url(self.base_url):
            raise ConfigError(
                f"{self._key_env} is not set for {self.base_url}: export it, pass api_key=..., "
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
        if structured not in STRUCTURED_MODES:
            raise ConfigError(f"structured must be 'json_schema', 'tool' or None, got {structured!r}")
        self.structured = structured
        """How a typed answer is asked for: "json_schema", "tool" or None (see the class docs)."""
        self._url = chat_url(self.base_url)
        self._parsed_url: httpx2.URL | None = None  # parsed on the first request (saves ~30 us per request)
        headers = {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json"}
        if self._api_key:
            header = key_header.strip().lower()
            headers[header] = f"Bearer {self._api_key}" if header == "authorization" else self._api_key
        self._headers = headers
        self.provider: str | None = "openai" if urlsplit(self.base_url).hostname == "api.openai.com" else None
        """Who serves the model (see the class docs)."""

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
        model = cls(deployment, base_url=base, api_key=key, key_header="api-key", **kwargs)
        model._key_env = "AZURE_OPENAI_API_KEY"
        model._url_env = "AZURE_OPENAI_ENDPOINT"
        model.provider = "azure"
        return model

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

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        *,
        deadline: float | None = None,
        settings: Mapping[str, Any] | None = None,
        output: OutputSpec | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """POST the conversation and yield the answer as deltas (retrying when allowed).

        Retried: 408/409/429/5xx answers, connection errors, and a stream that broke (dropped,
        or ended without finish_reason) before any text or reasoning was yielded. Once a delta
        was yielded, a broken stream is an error: text is never taken back.
        """
        import httpx2

        _http.check_host_allowed(self._url)
        content = self._body(messages, tools, settings, output)
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
                    retry_reason = f"connection error: {type(exc).__name__}: {scrub(str(exc)) or 'no detail'}"
                    last_error: ModelError = ModelError(
                        f"could not reach {self.base_url} for model {self.name!r} ({retry_reason}); "
                        f"check {self._url_env} and that the server is running"
                    )
                else:
                    try:
                        if response.status_code >= 400:
                            body = (await response.aread()).decode("utf-8", "replace")
                            last_error = self._http_error(response.status_code, body, response.headers)
                            if response.status_code not in RETRY_STATUSES:
                                raise last_error
                            retry_reason = f"HTTP {response.status_code}"
                            retry_after = server_retry_after(response)
                        else:
                            if self.stream_mode and "text/event-stream" in response.headers.get("content-type", ""):
                                deltas = self._read_sse(response)
                            else:
                                deltas = self._read_json(response)
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

    def _http_error(self, status: int, body: str, headers: Mapping[str, str]) -> ModelHTTPError:
        detail = error_detail(body, headers.get("content-type", ""))
        hint = _HINTS.get(status, "").format(key_env=self._key_env, url_env=self._url_env)
        if not hint and status == 429:
            hint = "rate limited: slow down or raise your quota"
        if not hint and status >= 500:
            hint = "the server failed: try again later"
        msg = f"HTTP {status} from {self._url} for model {self.name!r}"
        if detail:
            msg += f": {detail}"
        if hint:
            msg += f" ({hint})"
        kept = detail if detail.startswith("an HTML page") else body[:500]
        return ModelHTTPError(scrub(msg), status_code=status, model=self.name, body=scrub(kept))

    async def _read_json(self, response: httpx2.Response) -> AsyncGenerator[ModelDelta, None]:
        raw = await response.aread()
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("error") and not data.get("choices"):
            detail = error_detail(raw.decode("utf-8", "replace"))
            raise ModelError(scrub(f"{self._url} answered with an error for model {self.name!r}: {detail}"))
        choices = data.get("choices") if isinstance(data, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(data, dict) or not isinstance(first, dict):
            head = scrub(raw[:200].decode("utf-8", "replace"))
            raise ModelError(f"unexpected answer from {self._url} (not a chat completion): {head!r}")
        decoder = ChunkDecoder(self.name, "message")
        # The whole message goes through the streaming path: one reader for both shapes.
        whole = {"message": first.get("message"), "finish_reason": first.get("finish_reason")}
        for delta in decoder.decode({"choices": [whole], "usage": data.get("usage")}):
            yield delta
        for delta in decoder.end():
            yield delta

    async def _read_sse(self, response: httpx2.Response) -> AsyncGenerator[ModelDelta, None]:
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
        for delta in decoder.end():
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
        try:
            payload = json.loads(data)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise ModelError(
                f"malformed server-sent event from {self._url} after {decoder.chunks - 1} chunks: "
                f"{scrub(data[:120])!r} is not a JSON object"
            )
        return decoder.decode(payload)
