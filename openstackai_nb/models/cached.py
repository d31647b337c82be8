"""A response cache at the `Model` interface: `CachedModel` and the key of a model request.

`CachedModel(model, store)` wraps the model a run calls (the runner does it, once per run, when
`RunConfig(cache=...)` or `OPENSTACKAI_NB_CACHE` turns the cache on). On a miss it passes the
model's deltas through as they arrive while collecting them, and stores them once the answer is
complete; on a hit it yields the stored deltas: the text still arrives as several text deltas
(a stream still streams, the live view shows it), tool calls still reach the run loop, which
runs the tools. Only model calls are cached.

Complete means the stream ended normally with finish_reason "stop" or "tool_calls", or
"length" when the request set a token limit (`max_tokens`, `max_completion_tokens`: then the
limit is part of the key). Never stored: an error, a stream cut short (dropped, cancelled, timed
out), a refusal, a content-filtered answer, an answer without a finish reason, and an answer
stopped at a limit nobody asked for.

The key (`request_key`) is a SHA-256 of a canonical JSON of everything that shapes the answer:
the provider and endpoint (base URL; never a key: `Model.endpoint` holds none, and the values of
query parameters that look like credentials are left out), the model's name, its own request
settings (`OpenAIChatModel(settings=...)`), how it asks for a typed answer, the messages
(tool-call ids renumbered, as in cassettes), the tool schemas (and, with tools, whether tool calls
written as text are recovered: `parse_text_tool_calls`), the output schema (`OutputSpec`),
the run's settings (temperature, max_tokens, seed...) and the repeat index (so the repeats of
`compare(..., repeats=N)` are N samples, not one answer N times). The stored deltas pass the
scrubber first.

Offline models (function, scripted, replay: no `endpoint`) are not cached: they cost nothing,
and what they answer is code, not a request. A function or scripted model that stands for an
expensive computation opts in with `cacheable=True`; its key holds its class and name in place of
a provider and endpoint, so it cannot see the function's code: a changed function needs a new
model name, or `openstackai_nb.cache.clear()`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolDefinition
from openstackai_nb.models._cassette import _canonical_messages, delta_from_json, delta_to_json, scrub_split_secrets
from openstackai_nb.models.base import Model, ModelRequestParameters, WrappedModel

__all__ = ["COMPLETE_FINISHES", "CacheMode", "CachedModel", "ResponseStore", "is_complete", "request_key"]

CacheMode = Literal["read", "write"] | bool
"""True: read and write; "read": use stored answers, store nothing; "write": always ask the model
and store its answers (a refresh); False: off."""
COMPLETE_FINISHES = frozenset({"stop", "tool_calls"})
"""Finish reasons of an answer that is stored (plus "length" when a token limit is in the key)."""
_LIMITS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_SECRET_PARAMS = ("key", "token", "secret", "sig", "password", "auth", "credential")
_KEY_VERSION = 1


class ResponseStore(Protocol):
    """Where answers are kept (`openstackai_nb.cache`'s SQLite file is one)."""

    def get(self, key: str, max_age: float | None = None) -> list[dict[str, Any]] | None:
        """The stored deltas of `key` (as `_cassette.delta_to_json` wrote them), or None (a miss)."""
        ...

    def put(self, key: str, deltas: list[dict[str, Any]], model: str) -> None:
        """Store the deltas of one complete answer under `key` (best effort: never raises)."""
        ...


def _endpoint(url: str | None) -> str | None:
    """The endpoint without the values of query parameters that look like credentials."""
    if not url:
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, "" if any(s in k.lower() for s in _SECRET_PARAMS) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def effective_settings(model: Model, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request settings a call sends: the model's own, then the run's (which win)."""
    own = getattr(model, "settings", None)
    merged = dict(own) if isinstance(own, Mapping) else {}
    merged.update(settings or {})
    return merged


def request_key(
    model: Model,
    messages: Sequence[Message],
    tools: Sequence[ToolDefinition],
    *,
    settings: Mapping[str, Any] | None = None,
    output: OutputSpec | None = None,
    repeat: int = 0,
) -> str:
    """The cache key of one model request: a SHA-256 (hex) of a canonical JSON (see the module docs)."""
    data: dict[str, Any] = {
        "v": _KEY_VERSION,
        "provider": getattr(model, "provider", None),
        "endpoint": _endpoint(model.endpoint),
        "model": model.name,
        "settings": effective_settings(model, settings),
        "messages": _canonical_messages(messages),
        "tools": [[t.name, t.description, t.parameters] for t in tools],
        "repeat": repeat,
    }
    if output is not None:
        data["output"] = [output.name, output.schema, output.strict, output.description, output.tool_name]
        data["structured"] = getattr(model, "structured", None)
    if model.endpoint is None:  # an offline model that opted in (`cacheable`): its class stands for the provider
        data["offline"] = type(model).__name__
    if tools and getattr(model, "parse_text_tool_calls", False) is True:
        data["text_tool_calls"] = True  # the stored answer holds the calls recovered from its text
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_complete(finish: str | None, settings: Mapping[str, Any]) -> bool:
    """Whether an answer that ended with `finish` may be stored (see the module docs)."""
    if finish in COMPLETE_FINISHES:
        return True
    return finish == "length" and any(settings.get(k) is not None for k in _LIMITS)


class CachedModel(WrappedModel):
    """Forwards `stream()` to a model, answering from `store` when it can (see the module docs).

    One instance per run: `last_hit` tells whether the latest call was answered from the store
    (a run's model calls never overlap).

    Args:
        inner: the model asked on a miss.
        store: where answers are kept.
        mode: True (read and write), "read" or "write" (see `CacheMode`).
        max_age: seconds a stored answer stays valid (None: no expiry).
        repeat: the repeat index, part of every key.
    """

    def __init__(
        self,
        inner: Model,
        store: ResponseStore,
        *,
        mode: CacheMode = True,
        max_age: float | None = None,
        repeat: int = 0,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.store = store
        self.mode = mode
        self.max_age = max_age
        self.repeat = repeat
        self.last_hit = False
        """Whether the latest call was answered from the store."""

    async def stream(self, messages: Sequence[Message], params: ModelRequestParameters) -> AsyncIterator[ModelDelta]:
        """Yield the stored answer on a hit, else the model's (stored once complete)."""
        self.last_hit = False
        inner, settings = self.inner, params.settings
        key = request_key(inner, messages, params.tools, settings=settings, output=params.output, repeat=self.repeat)
        if self.mode is True or self.mode == "read":
            stored = self.store.get(key, self.max_age)
            if stored is not None:
                self.last_hit = True
                for d in stored:  # the text as the deltas it came in: a replay still streams
                    yield delta_from_json(d)
                return
        recorded: list[dict[str, Any]] = []
        finish: str | None = None
        async with aclosing(inner.stream(messages, params)) as deltas:  # type: ignore[type-var]
            async for d in deltas:
                j = delta_to_json(d)
                if j is not None:
                    recorded.append(j)
                if d.kind == "finish":
                    finish = d.text or None
                yield d
        # Reached only when the answer ended normally (an error or a cut stream raised above).
        if self.mode in (True, "write") and is_complete(finish, effective_settings(inner, settings)):
            self.store.put(key, scrub_split_secrets(recorded), inner.name)
