"""The one interface the run loop calls: `Model.stream(messages, params)` -> deltas.

`params` is one frozen `ModelRequestParameters` (pydantic-ai's name): the tools offered, the
deadline retries must not sleep past, the request settings and the typed answer asked for. A
new request parameter is one more field there, not one more keyword copied into every model.
"""

from __future__ import annotations

import abc
import functools
import inspect
import os
import sys
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolDefinition

__all__ = ["Model", "ModelRequestParameters", "WrappedModel"]

_NO_SETTINGS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ModelRequestParameters:
    """What one model call asks for besides the messages: `Model.stream(messages, params)`.

    Frozen and hashable (its hash reads the tools' names, the deadline, the settings' keys and
    the output's name; equality compares everything). The run loop builds one per model call.

    Example:
        >>> params = ModelRequestParameters(settings={"seed": 7})
        >>> params.tools, params.deadline, dict(params.settings), params.output
        ((), None, {'seed': 7}, None)
    """

    tools: Sequence[ToolDefinition] = ()
    """The tools offered to the model (a tuple)."""
    deadline: float | None = None
    """Event-loop time (`loop.time()`) that retries must not sleep past; None: no limit."""
    settings: Mapping[str, Any] = field(default_factory=lambda: _NO_SETTINGS)
    """Extra request fields (temperature, seed...): the agent's `model_settings` with the run's
    over them. Read-only."""
    output: OutputSpec | None = None
    """The typed answer asked for (`Agent(output_type=...)`), None for a text answer."""

    def __post_init__(self) -> None:
        if type(self.tools) is not tuple:
            object.__setattr__(self, "tools", tuple(self.tools))
        if type(self.settings) is not MappingProxyType:
            object.__setattr__(self, "settings", MappingProxyType(dict(self.settings or {})))

    def __hash__(self) -> int:
        return hash(
            (
                tuple(t.name for t in self.tools),
                self.deadline,
                frozenset(self.settings),
                None if self.output is None else self.output.name,
            )
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.tools, self.deadline, dict(self.settings), self.output))


_OLD_KEYWORDS = frozenset({"tools", "deadline", "settings", "output"})


def _old_signature(stream: Any) -> bool:
    """Whether a `stream` was written against the keyword signature of 0.1: (messages, tools, *, deadline...)."""
    try:
        names = set(inspect.signature(stream).parameters)
    except (TypeError, ValueError):
        return False
    return bool(names & _OLD_KEYWORDS)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ABC_FILES = frozenset({abc.__file__, "<frozen abc>"})


def _class_statement_level() -> int:
    """The `stacklevel` that names the class statement of a subclass being defined.

    For `warnings.warn` in `__init_subclass__`: ABCMeta.__new__ (and a subclass's metaclass in the
    package) sit between it and the class statement.
    """
    frame = sys._getframe(2)  # noqa: SLF001 - what called __init_subclass__
    level = 2
    while frame is not None and (
        frame.f_code.co_filename in _ABC_FILES or frame.f_code.co_filename.startswith(_PACKAGE_DIR)
    ):
        frame = frame.f_back
        level += 1
    return level


def _adapt(old: Callable[..., AsyncIterator[ModelDelta]]) -> Callable[..., AsyncIterator[ModelDelta]]:
    """A `stream(messages, params)` that calls a `stream(messages, tools, *, deadline, settings, output)`."""

    @functools.wraps(old)
    def stream(self: Model, messages: Sequence[Message], params: Any = None, /, *args: Any, **kwargs: Any) -> Any:
        if isinstance(params, ModelRequestParameters) and not args and not kwargs:
            # `output` only when asked: a model written before typed answers has no such keyword.
            extra = {"output": params.output} if params.output is not None else {}
            return old(
                self, messages, list(params.tools), deadline=params.deadline, settings=dict(params.settings), **extra
            )
        return old(self, messages, params, *args, **kwargs)  # called the old way: as before

    stream.__wrapped_old_signature__ = True  # type: ignore[attr-defined]
    return stream


class Model(abc.ABC):
    """A chat model behind one method: `stream(messages, params)`.

    Providers stream `ModelDelta`s: text deltas as they arrive, each tool call once complete,
    usage, and retry notices. A non-streaming provider adapts its answer to the same iterator,
    so the loop has a single path. Providers know nothing of the runner: the loop passes plain
    data, a `ModelRequestParameters` whose `deadline` (event-loop time) retries must not sleep past.

    Typed answers: for an agent with an `output_type` the loop sets `params.output` (an
    `OutputSpec`). The provider asks for that answer its own way, and yields it as text (JSON) or
    as a call of the final-answer tool `output.tool_name`; the loop validates either.

    The signature of 0.1, ``stream(self, messages, tools, *, deadline=None, settings=None,
    output=None)``, still works for one release: a subclass whose `stream` has any of those
    keywords gets a DeprecationWarning when it is defined and is called the old way (`output` only
    for a typed answer, as before). Move to ``stream(self, messages, params)`` and read
    `params.tools`, `params.deadline`, `params.settings`, `params.output`.
    """

    name: str
    """The model's name as sent to the endpoint (and shown in history)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("stream")
        if own is not None and _old_signature(own):
            warnings.warn(  # noqa: B028 - the level is computed: the class statement's line
                f"{cls.__qualname__}.stream(messages, tools, *, deadline, settings, output) is the signature "
                "of openstackai-nb 0.1, still called for one release; write stream(self, messages, params) "
                "and read params.tools, params.deadline, params.settings and params.output "
                "(models.base.ModelRequestParameters)",
                DeprecationWarning,
                stacklevel=_class_statement_level(),
            )
            cls.stream = _adapt(own)  # type: ignore[method-assign]

    @abc.abstractmethod
    def stream(self, messages: Sequence[Message], params: ModelRequestParameters) -> AsyncIterator[ModelDelta]:
        """Yield the model's answer to `messages` as deltas (asking for the typed answer `params.output`, if set)."""

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
