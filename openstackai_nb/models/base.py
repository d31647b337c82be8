"""The one interface the run loop calls: `Model.stream(messages, tools, ...)` -> deltas."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolDefinition

__all__ = ["Model", "WrappedModel"]


class Model(abc.ABC):
    """A chat model behind one method.

    Providers stream `ModelDelta`s: text deltas as they arrive, each tool call once complete,
    usage, and retry notices. A non-streaming provider adapts its answer to the same iterator,
    so the loop has a single path. Providers know nothing of the runner: the loop passes plain
    arguments, including a `deadline` (event-loop time) that retries must not sleep past.

    Typed answers: for an agent with an `output_type` the loop passes `output=OutputSpec(...)`
    (and only then: a Model written before it existed still runs text agents). The provider asks
    for that answer its own way, and yields it as text (JSON) or as a call of the final-answer tool
    `output.tool_name`; the loop validates either.
    """

    name: str
    """The model's name as sent to the endpoint (and shown in history)."""

    @abc.abstractmethod
    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        *,
        deadline: float | None = None,
        settings: Mapping[str, Any] | None = None,
        output: OutputSpec | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """Yield the model's answer to `messages` as deltas (asking for the typed answer `output`, if given)."""

    @property
    def endpoint(self) -> str | None:
        """Where requests go (None for offline models); never includes a key."""
        return None

    cacheable: bool = False
    """Whether the response cache may answer this model although it has no endpoint: an offline
    model that opts in (`FunctionModel(fn, cacheable=True)`). A model with an endpoint is cached
    whatever this says; a replayed cassette never is."""

    _secret_attributes: tuple[str, ...] = ("_api_key", "api_key")
    """Attributes that hold a key (not a key's variable name, such as a provider's `api_key_env`)."""

    def __setstate__(self, state: Any) -> None:
        """Unpickled in another process (a Dask worker, a subprocess): its key joins that scrubber.

        So do the credentials of its base URL's query string (``?api-key=...``).
        """
        from openstackai_nb._secrets import register_secret, register_url_secrets

        attributes, slots = state if isinstance(state, tuple) else (state, None)
        for name, value in {**(attributes or {}), **(slots or {})}.items():
            setattr(self, name, value)
            if name in self._secret_attributes and isinstance(value, str):
                register_secret(value)
            elif name == "base_url" and isinstance(value, str):
                register_url_secrets(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class WrappedModel(Model, abc.ABC):
    """A model that wraps another: recording to a cassette, answering from the cache.

    Its endpoint, and any attribute the wrapper lacks (a provider's base_url...), are the wrapped model's.
    """

    inner: Model
    """The wrapped model."""

    @property
    def endpoint(self) -> str | None:
        """The wrapped model's endpoint."""
        return self.inner.endpoint

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes the wrapper lacks. "inner" itself raises, so an object being
        # unpickled (before its __dict__ is set) does not recurse.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
