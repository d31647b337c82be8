"""Recording model exchanges to a cassette: `start_recording`, `recording`, `RecordingModel`.

Recording happens at the `Model` interface: every run's model passes through
`recording_wrapper()` (the runner's `CassetteObserver.wrap_model` calls it as the run starts),
which returns the model unchanged unless recording is on for that run, else a `RecordingModel`
that forwards `stream()` and appends one cassette entry per model request. Because it sees
`ModelDelta`s, not HTTP, it works for every provider and never sees a header, let alone an
Authorization one.

Which runs: those started inside `with recording(path):` (a ContextVar, so a run started
concurrently elsewhere, e.g. a `compare()` in another task, is not recorded there); else, for the
whole session, while `start_recording(path)` is active (`%agent record PATH`; `%agent record
stop` calls `stop_recording`); else when `OPENSTACKAI_NB_RECORD=PATH` is set (read at each run).
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openstackai_nb.errors import AgentError
from openstackai_nb.messages import Message, ModelDelta
from openstackai_nb.models._cassette import (
    Cassette,
    delta_to_json,
    error_to_json,
    request_key,
    resolve,
    scrub_split_secrets,
    summary,
)
from openstackai_nb.models.base import Model, ModelRequestParameters, WrappedModel

__all__ = [
    "RECORD_ENV",
    "RecordingModel",
    "is_recording",
    "recording",
    "recording_path",
    "recording_wrapper",
    "start_recording",
    "stop_recording",
]

RECORD_ENV = "OPENSTACKAI_NB_RECORD"
"""Environment variable: record every run's model exchanges to this path."""


_state_lock = threading.Lock()
_active: Cassette | None = None  # guarded by _state_lock: the session's switch (`%agent record`), for every run
_env_cassettes: dict[Path, Cassette] = {}  # guarded by _state_lock: one Cassette per OPENSTACKAI_NB_RECORD path
_scoped: contextvars.ContextVar[Cassette | None] = contextvars.ContextVar("openstackai_nb_cassette", default=None)
"""The cassette of the `recording()` block a run was started in (per context, not per process)."""


def start_recording(path: str | os.PathLike[str], *, append: bool = False) -> Path:
    """Record the model exchanges of every following run to the cassette at `path`.

    Args:
        path: the cassette file (JSON lines); relative to the current directory.
        append: keep the exchanges already in the file (default: start it afresh).

    Returns:
        The cassette's absolute path.

    Raises:
        ConfigError: `append=True` and the file exists but is not a cassette.
    """
    global _active
    cassette = Cassette(resolve(path))
    if append:
        cassette.check()
    else:
        cassette.reset()
    with _state_lock:
        _active = cassette
    return cassette.path


def stop_recording() -> Path | None:
    """Stop recording started by `start_recording`; return the cassette's path (None if none)."""
    global _active
    with _state_lock:
        cassette, _active = _active, None
    return cassette.path if cassette is not None else None


@contextmanager
def recording(path: str | os.PathLike[str], *, append: bool = False) -> Iterator[Path]:
    """Record the runs started inside the `with` block (in this context) to `path`.

    Only those: a run started meanwhile in another task or thread (a concurrent `compare()`)
    is not recorded here. `append` as in `start_recording`.

    Example:
        >>> with recording("demo.cassette.jsonl"):  # doctest: +SKIP
        ...     Runner.run_sync(agent, "Hello!")
    """
    cassette = Cassette(resolve(path))
    if append:
        cassette.check()
    else:
        cassette.reset()
    token = _scoped.set(cassette)
    try:
        yield cassette.path
    finally:
        _scoped.reset(token)


def _current() -> Cassette | None:
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    active = _active  # one read: start/stop_recording rebind it under the lock
    if active is not None:
        return active
    env = os.environ.get(RECORD_ENV, "").strip()
    if not env or env.lower() in ("0", "off", "false", "no"):
        return None
    path = resolve(env)
    with _state_lock:
        cassette = _env_cassettes.get(path)
        if cassette is None:
            cassette = _env_cassettes[path] = Cassette(path)
    cassette.check()
    return cassette


def recording_path() -> Path | None:
    """The cassette runs are recorded to right now (API or OPENSTACKAI_NB_RECORD), or None."""
    cassette = _current()
    return cassette.path if cassette is not None else None


def is_recording() -> bool:
    """True when runs are being recorded."""
    return recording_path() is not None


def recording_wrapper(model: Model) -> Model:
    """Return `model`, wrapped so its exchanges are recorded when recording is on.

    The runner's `CassetteObserver` calls this for every run. Replay models (`replays = True`) are never re-recorded.
    """
    if isinstance(model, RecordingModel) or getattr(model, "replays", False):
        return model
    cassette = _current()
    if cassette is None:
        return model
    return RecordingModel(model, cassette)


class RecordingModel(WrappedModel):
    """Forwards `stream()` to a model and appends each finished exchange to a cassette.

    An exchange is written once the model's answer has ended; an answer cut short (cancelled,
    timed out) is not written. A model error is written too, so a replay fails the same way.
    """

    def __init__(self, inner: Model, cassette: Cassette | str | os.PathLike[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette(resolve(cassette))

    async def stream(self, messages: Sequence[Message], params: ModelRequestParameters) -> AsyncIterator[ModelDelta]:
        """Stream the wrapped model's answer, then record it."""
        tools = params.tools
        key = request_key(messages, tools, params.output)
        entry: dict[str, Any] = {
            "type": "exchange",
            "key": key,
            "model": self.inner.name,
            "request": summary(messages, tools),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        recorded: list[dict[str, Any]] = []
        inner = self.inner.stream(messages, params)
        try:
            async with aclosing(inner) as deltas:  # type: ignore[type-var]
                async for d in deltas:
                    j = delta_to_json(d)
                    if j is not None:
                        recorded.append(j)
                    yield d
        except AgentError as exc:
            entry["deltas"] = scrub_split_secrets(recorded)
            entry["error"] = error_to_json(exc)
            self.cassette.append(entry)
            raise
        entry["deltas"] = scrub_split_secrets(recorded)
        self.cassette.append(entry)
