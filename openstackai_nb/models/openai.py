"""OpenAI-compatible chat completions over HTTP (OpenAI, Ollama, vLLM, llama.cpp, LM Studio...).

One pooled httpx2 client per event loop (`_http.py`), SSE streaming with tool-call argument
deltas assembled by index, retries with exponential backoff and jitter on 429/5xx and
connection errors (Retry-After honoured) that never sleep past the run's deadline.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import register_secret, scrub
from openstackai_nb.errors import ConfigError, ModelError, ModelHTTPError
from openstackai_nb.messages import Message, ModelDelta, ToolCallRequest, ToolDefinition, Usage
from openstackai_nb.models import _http
from openstackai_nb.models._sse import SSEParser
from openstackai_nb.models.base import Model

if TYPE_CHECKING:
    import httpx2

__all__ = ["DEFAULT_BASE_URL", "OpenAIChatModel"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
_HINTS = {
    400: "the request was rejected: check the model name and the message/tool format",
    401: "the API key was refused: check OPENAI_API_KEY (or api_key=...)",
    403: "access denied: check the key's permissions for this model",
    404: "not found: check the base URL (OPENAI_BASE_URL) and the model name",
    422: "the request was rejected: check the model name and parameters",
}


class OpenAIChatModel(Model):
    """A model served by an OpenAI-compatible `/chat/completions` endpoint.

    Args:
        name: the model name sent to the endpoint, e.g. "gpt-4o-mini" or "llama3.2".
        base_url: the API root; default `OPENAI_BASE_URL`, else the OpenAI API.
        api_key: the key; default `OPENAI_API_KEY`. Not needed for local endpoints.
        stream: use server-sent events (True) or one JSON answer (False).
        max_retries: retries on 429/5xx/connection errors (within the run's time limits).
        settings: extra body fields sent with every request (temperature, max_tokens...).

    Raises:
        ConfigError: no key for a remote endpoint.
    """

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
    ) -> None:
        if not name:
            raise ConfigError("model name is empty: pass e.g. model='gpt-4o-mini'")
        self.name = name
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key and not _http.is_local_url(self.base_url):
            raise ConfigError(
                f"OPENAI_API_KEY is not set for {self.base_url}: export it, pass api_key=..., "
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
        self._url = self.base_url + "/chat/completions"
        self._parsed_url: httpx2.URL | None = None  # parsed on the first request (saves ~30 us per request)
        headers = {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        self._headers = headers

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
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: Mapping[str, Any] | None
    ) -> bytes:
        body: dict[str, Any] = {"model": self.name, "messages": [m.to_openai() for m in messages]}
        if tools:
            body["tools"] = [t.to_openai() for t in tools]
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
    ) -> AsyncIterator[ModelDelta]:
        """POST the conversation and yield the answer as deltas (retrying when allowed)."""
        import httpx2

        _http.check_host_allowed(self._url)
        content = self._body(messages, tools, settings)
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
                    last_error: Exception = ModelError(
                        f"could not reach {self.base_url} for model {self.name!r} ({retry_reason}); "
                        "check OPENAI_BASE_URL and that the server is running"
                    )
                else:
                    try:
                        if response.status_code >= 400:
                            body = (await response.aread()).decode("utf-8", "replace")
                            last_error = self._http_error(response.status_code, body)
                            if response.status_code not in RETRY_STATUSES:
                                raise last_error
                            retry_reason = f"HTTP {response.status_code}"
                            retry_after = _retry_after(response)
                        else:
                            if self.stream_mode and "text/event-stream" in response.headers.get("content-type", ""):
                                deltas = self._read_sse(response)
                            else:
                                deltas = self._read_json(response)
                            async with aclosing(deltas):
                                async for delta in deltas:
                                    yield delta
                            return
                    finally:
                        await response.aclose()
            if attempt >= self.max_retries:
                raise last_error
            delay = retry_after if retry_after is not None else self.backoff * (2**attempt) * random.uniform(0.5, 1.5)
            delay = min(delay, 60.0)
            if deadline is not None and asyncio.get_running_loop().time() + delay >= deadline:
                raise ModelError(f"{last_error} (not retried: waiting {delay:.1f}s would pass the run's time limit)")
            attempt += 1
            yield ModelDelta("retry", text=retry_reason or "retry", delay=delay)
            await asyncio.sleep(delay)

    def _http_error(self, status: int, body: str) -> ModelHTTPError:
        detail = _error_detail(body)
        hint = _HINTS.get(status) or ("rate limited: slow down or raise your quota" if status == 429 else "")
        if not hint and status >= 500:
            hint = "the server failed: try again later"
        msg = f"HTTP {status} from {self._url} for model {self.name!r}"
        if detail:
            msg += f": {detail}"
        if hint:
            msg += f" ({hint})"
        return ModelHTTPError(scrub(msg), status_code=status, model=self.name, body=scrub(body[:500]))

    async def _read_json(self, response: httpx2.Response) -> AsyncGenerator[ModelDelta, None]:
        raw = await response.aread()
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            message = choice["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            head = scrub(raw[:200].decode("utf-8", "replace"))
            raise ModelError(f"unexpected answer from {self._url} (not a chat completion): {head!r}") from None
        if message.get("content"):
            yield ModelDelta("text", text=message["content"])
        for i, call in enumerate(message.get("tool_calls") or ()):
            fn = call.get("function") or {}
            yield ModelDelta(
                "tool_call",
                tool_call=ToolCallRequest(
                    id=call.get("id") or f"call_{i}", name=fn.get("name", ""), arguments=fn.get("arguments") or "{}"
                ),
            )
        yield ModelDelta("usage", usage=_usage(data.get("usage")))

    async def _read_sse(self, response: httpx2.Response) -> AsyncGenerator[ModelDelta, None]:
        import httpx2

        parser = SSEParser()
        calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        finished = False
        done = False
        usage: Usage | None = None
        chunks = 0
        try:
            async for raw in response.aiter_raw():
                for data in parser.feed(raw):
                    if data == "[DONE]":
                        done = True
                        continue
                    chunks += 1
                    try:
                        payload = json.loads(data)
                    except ValueError:
                        raise ModelError(
                            f"malformed server-sent event from {self._url} after {chunks - 1} chunks: "
                            f"{scrub(data[:120])!r} is not JSON"
                        ) from None
                    if not isinstance(payload, dict):
                        raise ModelError(f"malformed server-sent event from {self._url}: {scrub(data[:120])!r}")
                    if "error" in payload:
                        err = payload["error"]
                        text = err.get("message", err) if isinstance(err, dict) else err
                        raise ModelError(f"the endpoint reported an error mid-stream: {scrub(str(text))[:300]}")
                    if payload.get("usage"):
                        usage = _usage(payload["usage"])
                    for choice in payload.get("choices") or ():
                        delta = choice.get("delta") or {}
                        text = delta.get("content")
                        if text:
                            yield ModelDelta("text", text=text)
                        for tc in delta.get("tool_calls") or ():
                            slot = calls.setdefault(tc.get("index", len(calls)), ["", "", ""])
                            if tc.get("id"):
                                slot[0] = tc["id"]
                            fn = tc.get("function") or {}
                            if fn.get("name"):
                                slot[1] += fn["name"]
                            if fn.get("arguments"):
                                slot[2] += fn["arguments"]
                        if choice.get("finish_reason"):
                            finished = True
        except httpx2.TransportError as exc:
            raise ModelError(
                f"the connection to {self.base_url} dropped mid-stream after {chunks} chunks "
                f"({type(exc).__name__}); the answer is incomplete"
            ) from None
        if not (finished or done):
            raise ModelError(
                f"the stream from {self._url} ended after {chunks} chunks without finish_reason or [DONE]; "
                "the answer would be truncated"
            )
        for index in sorted(calls):
            call_id, name, args = calls[index]
            yield ModelDelta(
                "tool_call", tool_call=ToolCallRequest(id=call_id or f"call_{index}", name=name, arguments=args or "{}")
            )
        yield ModelDelta("usage", usage=usage or Usage(requests=1))


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage(requests=1)
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        requests=1,
    )


def _error_detail(body: str) -> str:
    try:
        data = json.loads(body)
        err = data.get("error", data) if isinstance(data, dict) else data
        text = err.get("message", "") if isinstance(err, dict) else str(err)
    except ValueError:
        text = body
    text = " ".join(str(text).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _retry_after(response: httpx2.Response) -> float | None:
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
