"""Record model exchanges to a cassette, and replay them offline (`model="replay:PATH"`).

Recording happens at the `Model` interface: every run's model passes through
`recording_wrapper()` (the run loop calls it), which returns the model unchanged unless recording
is on, else a `RecordingModel` that forwards `stream()` and appends one cassette entry per model
request. Because it sees `ModelDelta`s, not HTTP, it works for every provider and never sees a
header, let alone an Authorization one.

Recording is on while `start_recording(path)` is active (or inside `with recording(path):`), or,
failing that, when `OPENSTACKAI_NB_RECORD=PATH` is set (read at each run). `%agent record PATH`
calls `start_recording`, `%agent record stop` calls `stop_recording`.

The cassette is JSON lines: a header line, then one line per exchange::

    {"type": "header", "format": "openstackai-nb-cassette", "version": 1, ...}
    {"type": "exchange", "key": "<sha256>", "model": "gpt-4o-mini",
     "request": {"messages": 3, "tools": ["get_weather"], "last_user": "...", "last": "..."},
     "deltas": [{"kind": "reasoning", "text": "Think"}, {"kind": "text", "text": "Hel"},
                {"kind": "tool_call", "id": ..., "name": ..., "arguments": "{...}"},
                {"kind": "finish", "text": "tool_calls"}, {"kind": "usage", "prompt_tokens": 9, ...}]}

Reasoning and finish deltas were added to version 1 without a version bump: cassettes recorded
before them still replay (their runs have no finish_reason), but an older openstackai-nb
rejects a cassette that holds them ("unknown delta kind").

Every string is scrubbed (`_secrets.scrub_data`) before it is written, lines are written whole
under a lock (and `flock` between processes), so concurrent runs never interleave.

The request key is a SHA-256 of the scrubbed messages and tool definitions (and the typed
answer asked for, when there is one) in canonical JSON,
with tool-call ids renumbered in order of appearance (providers mint fresh ids on every call).
It leaves the model's name out on purpose: `replay:PATH` does not know which model recorded the
cassette, and one cassette may hold several. The name is kept in each entry and shown by the
replay model (`replay:gpt-4o-mini`). Retry notices are not recorded.

`ReplayModel(path)` serves each request by its key, streaming the recorded deltas in order
(`delay` seconds apart, default `OPENSTACKAI_NB_REPLAY_DELAY` or 0). A request recorded several
times is answered in order of recording, starting again from the first once all were served.
A request never recorded raises `ReplayMissError` naming it. No network, no clock: deterministic.

This module is imported at the first run of every process: stdlib and our own modules only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openstackai_nb._secrets import scrub, scrub_data
from openstackai_nb.errors import AgentError, ConfigError, ModelError, ModelHTTPError, ReplayMissError
from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolCallRequest, ToolDefinition, Usage
from openstackai_nb.models.base import Model

try:  # POSIX: a lock between processes appending to one cassette.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CASSETTE_FORMAT",
    "CASSETTE_VERSION",
    "RECORD_ENV",
    "RecordingModel",
    "ReplayModel",
    "is_recording",
    "recording",
    "recording_path",
    "recording_wrapper",
    "request_key",
    "start_recording",
    "stop_recording",
]

CASSETTE_FORMAT = "openstackai-nb-cassette"
"""The `format` field of a cassette's header line."""
CASSETTE_VERSION = 1
"""The cassette format version this module writes and reads."""
RECORD_ENV = "OPENSTACKAI_NB_RECORD"
"""Environment variable: record every run's model exchanges to this path."""
_DELAY_ENV = "OPENSTACKAI_NB_REPLAY_DELAY"
_TRIM = 200


# -- request keys ----------------------------------------------------------------------------------
def _canonical_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    ids: dict[str, str] = {}

    def renumber(call_id: str | None) -> str | None:
        if call_id is None:
            return None
        if call_id not in ids:
            ids[call_id] = f"call_{len(ids) + 1}"
        return ids[call_id]

    out = []
    for m in messages:
        d: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            d["tool_calls"] = [[renumber(c.id), c.name, c.arguments] for c in m.tool_calls]
        if m.tool_call_id is not None:
            d["tool_call_id"] = renumber(m.tool_call_id)
        if m.name is not None and m.role == "tool":
            d["name"] = m.name
        out.append(d)
    return out


def request_key(messages: Sequence[Message], tools: Sequence[ToolDefinition], output: OutputSpec | None = None) -> str:
    """Return the stable key of one model request: a SHA-256 of its messages, tools and typed answer.

    Strings are scrubbed first, so a request replayed from a scrubbed cassette has the same key
    as the one recorded; tool-call ids are renumbered in order of appearance. The typed answer
    asked for (`output`) counts only when there is one, so keys of text runs did not change.
    """
    data: dict[str, Any] = {
        "messages": _canonical_messages(messages),
        "tools": [[t.name, t.description, t.parameters] for t in tools],
    }
    if output is not None:
        data["output"] = [output.name, output.schema]
    text = json.dumps(scrub_data(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _trim(text: str | None, limit: int = _TRIM) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _last_user(messages: Sequence[Message]) -> str:
    return next((m.content or "" for m in reversed(messages) if m.role == "user"), "")


def _summary(messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> dict[str, Any]:
    last = messages[-1] if messages else None
    summary: dict[str, Any] = {
        "messages": len(messages),
        "tools": [t.name for t in tools],
        "last_user": _trim(_last_user(messages)),
    }
    if last is not None and last.role != "user":
        label = f"tool {last.name}" if last.role == "tool" else last.role
        summary["last"] = f"{label}: {_trim(last.content, 120)}"
    return summary


# -- deltas <-> JSON -------------------------------------------------------------------------------
def _delta_to_json(d: ModelDelta) -> dict[str, Any] | None:
    if d.kind in ("text", "reasoning", "finish"):
        return {"kind": d.kind, "text": d.text}
    if d.kind == "tool_call" and d.tool_call is not None:
        tc = d.tool_call
        return {"kind": "tool_call", "id": tc.id, "name": tc.name, "arguments": tc.arguments}
    if d.kind == "usage" and d.usage is not None:
        u = d.usage
        return {
            "kind": "usage",
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "requests": u.requests,
        }
    return None  # retries are not recorded


def _delta_from_json(d: Mapping[str, Any]) -> ModelDelta:
    kind = d.get("kind")
    if kind in ("text", "reasoning", "finish"):
        return ModelDelta(kind, text=str(d.get("text", "")))
    if kind == "tool_call":
        call = ToolCallRequest(id=str(d["id"]), name=str(d["name"]), arguments=str(d.get("arguments", "{}")))
        return ModelDelta("tool_call", tool_call=call)
    if kind == "usage":
        usage = Usage(
            prompt_tokens=int(d.get("prompt_tokens", 0)),
            completion_tokens=int(d.get("completion_tokens", 0)),
            requests=int(d.get("requests", 1)),
        )
        return ModelDelta("usage", usage=usage)
    raise ValueError(f"unknown delta kind {kind!r}")


# -- the cassette writer ---------------------------------------------------------------------------
def _header() -> dict[str, Any]:
    from openstackai_nb._version import __version__

    return {
        "type": "header",
        "format": CASSETTE_FORMAT,
        "version": CASSETTE_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "openstackai_nb": __version__,
    }


def _dumps(entry: dict[str, Any]) -> str:
    return json.dumps(scrub_data(entry), ensure_ascii=False, separators=(",", ":")) + "\n"


class _Cassette:
    """Appends whole lines to one cassette file (thread- and process-safe)."""

    _locks: dict[Path, threading.Lock] = {}
    _locks_guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._locks_guard:
            self.lock = self._locks.setdefault(path, threading.Lock())
        self._checked = False

    def reset(self) -> None:
        """Start the cassette afresh: header only."""
        with self.lock:
            self._write(_dumps(_header()), truncate=True)
            self._checked = True

    def append(self, entry: dict[str, Any]) -> None:
        """Append one exchange (the header first when the file is new or empty)."""
        line = _dumps(entry)
        with self.lock:
            self._write(line, truncate=False)

    def check(self) -> None:
        """ConfigError when the file exists, is not empty, and is not a cassette."""
        if self._checked:
            return
        try:
            with self.path.open("rb") as f:
                first = f.readline()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ConfigError(f"cannot read the recording cassette {self.path}: {exc}") from None
        if first.strip():
            _parse_header(first, self.path)
        self._checked = True

    def _write(self, line: str, *, truncate: bool) -> None:
        data = line.encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("wb" if truncate else "ab") as f:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                try:
                    if not truncate and f.tell() == 0:
                        data = _dumps(_header()).encode("utf-8") + data
                    f.write(data)
                    f.flush()
                finally:
                    if fcntl is not None:
                        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        except OSError as exc:
            raise ModelError(f"could not write the recording cassette {self.path}: {exc}") from None


# -- recording state -------------------------------------------------------------------------------
_state_lock = threading.Lock()
_active: _Cassette | None = None
_env_cassettes: dict[Path, _Cassette] = {}


def _resolve(path: str | os.PathLike[str]) -> Path:
    text = os.fspath(path).strip() if isinstance(path, str) else os.fspath(path)
    if not text:
        raise ConfigError("a cassette path is needed, got an empty string (e.g. 'runs.cassette.jsonl')")
    return Path(text).expanduser().absolute()


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
    cassette = _Cassette(_resolve(path))
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
    """Record the runs inside the `with` block to `path` (see `start_recording`).

    Example:
        >>> with recording("demo.cassette.jsonl"):  # doctest: +SKIP
        ...     Runner.run_sync(agent, "Hello!")
    """
    global _active
    with _state_lock:
        previous = _active
    cassette_path = start_recording(path, append=append)
    try:
        yield cassette_path
    finally:
        with _state_lock:
            _active = previous


def _current() -> _Cassette | None:
    if _active is not None:
        return _active
    env = os.environ.get(RECORD_ENV, "").strip()
    if not env or env.lower() in ("0", "off", "false", "no"):
        return None
    path = _resolve(env)
    with _state_lock:
        cassette = _env_cassettes.get(path)
        if cassette is None:
            cassette = _env_cassettes[path] = _Cassette(path)
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

    The run loop calls this for every run. Replay models are never re-recorded.
    """
    if isinstance(model, ReplayModel | RecordingModel):
        return model
    cassette = _current()
    if cassette is None:
        return model
    return RecordingModel(model, cassette)


class RecordingModel(Model):
    """Forwards `stream()` to a model and appends each finished exchange to a cassette.

    An exchange is written once the model's answer has ended; an answer cut short (cancelled,
    timed out) is not written. A model error is written too, so a replay fails the same way.
    """

    def __init__(self, inner: Model, cassette: _Cassette | str | os.PathLike[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.cassette = cassette if isinstance(cassette, _Cassette) else _Cassette(_resolve(cassette))

    @property
    def endpoint(self) -> str | None:
        """The wrapped model's endpoint."""
        return self.inner.endpoint

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes RecordingModel lacks (e.g. a provider's base_url).
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        *,
        deadline: float | None = None,
        settings: Mapping[str, Any] | None = None,
        output: OutputSpec | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """Stream the wrapped model's answer, then record it."""
        key = request_key(messages, tools, output)
        entry: dict[str, Any] = {
            "type": "exchange",
            "key": key,
            "model": self.inner.name,
            "request": _summary(messages, tools),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        recorded: list[dict[str, Any]] = []
        extra = {"output": output} if output is not None else {}  # a Model written before typed answers
        inner = self.inner.stream(messages, tools, deadline=deadline, settings=settings, **extra)
        try:
            async with aclosing(inner) as deltas:  # type: ignore[type-var]
                async for d in deltas:
                    j = _delta_to_json(d)
                    if j is not None:
                        recorded.append(j)
                    yield d
        except AgentError as exc:
            entry["deltas"] = _scrub_split_secrets(recorded)
            entry["error"] = _error_to_json(exc)
            self.cassette.append(entry)
            raise
        entry["deltas"] = _scrub_split_secrets(recorded)
        self.cassette.append(entry)


def _scrub_split_secrets(deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge a run of text (or reasoning) deltas into one when a secret spans their boundaries.

    Each string is scrubbed on its own when written, which misses a key streamed in pieces
    ("sk-test-" then "SECRET..."): scrub each run of consecutive deltas of one kind as a whole,
    and where that finds something, keep the run as a single scrubbed delta.
    """
    out: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []

    def flush() -> None:
        if len(run) > 1:
            joined = "".join(d["text"] for d in run)
            cleaned = scrub(joined)
            if cleaned != joined and "".join(scrub(d["text"]) for d in run) != cleaned:
                out.append({"kind": run[0]["kind"], "text": cleaned})
                run.clear()
                return
        out.extend(run)
        run.clear()

    for d in deltas:
        if d["kind"] in ("text", "reasoning"):
            if run and run[0]["kind"] != d["kind"]:
                flush()
            run.append(d)
        else:
            flush()
            out.append(d)
    flush()
    return out


def _error_to_json(exc: AgentError) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(exc).__name__, "message": scrub(str(exc))}
    if isinstance(exc, ModelHTTPError):
        out["status_code"] = exc.status_code
    return out


def _error_from_json(data: Mapping[str, Any], model: str) -> AgentError:
    message = str(data.get("message", "the recorded model request failed"))
    if data.get("type") == "ModelHTTPError" and "status_code" in data:
        return ModelHTTPError(message, status_code=int(data["status_code"]), model=model)
    return ModelError(message)


# -- replay ----------------------------------------------------------------------------------------
def _parse_header(line: bytes | str, path: Path) -> dict[str, Any]:
    hint = "record one with OPENSTACKAI_NB_RECORD=PATH, %agent record PATH or start_recording(PATH)"
    try:
        header = json.loads(line)
    except ValueError:
        raise ConfigError(f"{path} is not a cassette (its first line is not JSON): {hint}") from None
    if not isinstance(header, dict) or header.get("format") != CASSETTE_FORMAT:
        raise ConfigError(f"{path} is not an openstackai-nb cassette (no header line): {hint}")
    version = header.get("version")
    if version != CASSETTE_VERSION:
        raise ConfigError(
            f"{path} is a cassette of format version {version!r}; this openstackai-nb reads version "
            f"{CASSETTE_VERSION}: re-record it or upgrade openstackai-nb"
        )
    return header


class ReplayModel(Model):
    """Serve the exchanges of a recorded cassette offline (`model="replay:PATH"`).

    Args:
        path: the cassette (JSON lines, written by recording); relative to the current directory.
        delay: seconds between streamed deltas; default `OPENSTACKAI_NB_REPLAY_DELAY` or 0.

    Raises:
        ConfigError: the cassette is missing, unreadable or not a cassette (the path is named).

    The model's name is `replay:<recorded model>` when the cassette holds one model's
    exchanges, else `replay:<file name>`.
    """

    def __init__(self, path: str | os.PathLike[str], *, delay: float | None = None) -> None:
        self.path = _resolve(path)
        env = os.environ.get(_DELAY_ENV, "")
        try:
            self.delay = float(delay if delay is not None else (env or 0.0))
        except ValueError:
            raise ConfigError(f"{_DELAY_ENV} must be a number of seconds, got {env!r}") from None
        if self.delay < 0:
            raise ConfigError(f"replay delay must be >= 0 seconds, got {self.delay:g}")
        self.header, self.exchanges = self._load()
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        for entry in self.exchanges:
            self._by_key.setdefault(entry["key"], []).append(entry)
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        models = sorted({str(e.get("model", "")) for e in self.exchanges} - {""})
        self.models = models
        self.name = f"replay:{models[0]}" if len(models) == 1 else f"replay:{self.path.name}"

    def _load(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        hint = "record one with OPENSTACKAI_NB_RECORD=PATH, %agent record PATH or start_recording(PATH)"
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"replay cassette not found: {self.path}; {hint}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the replay cassette {self.path}: {exc}") from None
        lines = text.splitlines()
        if not lines or not lines[0].strip():
            raise ConfigError(f"replay cassette {self.path} is empty; {hint}")
        header = _parse_header(lines[0], self.path)
        exchanges: list[dict[str, Any]] = []
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict) or entry.get("type") != "exchange":
                    continue  # room for other line types in later versions
                if not isinstance(entry.get("key"), str) or not isinstance(entry.get("deltas"), list):
                    raise ValueError("an exchange needs a key and a list of deltas")
                for d in entry["deltas"]:
                    _delta_from_json(d)
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"replay cassette {self.path}, line {number}, is not valid: {exc}") from None
            exchanges.append(entry)
        return header, exchanges

    def _next(self, key: str) -> dict[str, Any] | None:
        entries = self._by_key.get(key)
        if not entries:
            return None
        with self._lock:
            i = self._served.get(key, 0)
            self._served[key] = i + 1
        return entries[i % len(entries)]

    def _miss(self, messages: Sequence[Message]) -> ReplayMissError:
        last_user = _trim(_last_user(messages), 120)
        prompt = _trim(_last_user(messages))
        same_prompt = [e for e in self.exchanges if e.get("request", {}).get("last_user") == prompt]
        if same_prompt:
            why = (
                f"{len(same_prompt)} recorded exchange(s) have this prompt but a different conversation: the "
                "instructions, tools, history or a tool's result differ from the recording"
            )
        else:
            why = "no recorded exchange has this prompt"
        recorded = ", ".join(sorted(self.models)) or "no model"
        return ReplayMissError(
            f"replay: request not in the cassette {self.path} (model {self.name}, recorded from {recorded}; "
            f"{len(messages)} messages, last user message {scrub(last_user)!r}): {why}. "
            f"Re-record it: run against a real model with OPENSTACKAI_NB_RECORD={self.path} "
            "(or %agent record PATH / start_recording(PATH))"
        )

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        *,
        deadline: float | None = None,
        settings: Mapping[str, Any] | None = None,
        output: OutputSpec | None = None,
    ) -> AsyncIterator[ModelDelta]:
        """Stream the recorded answer to this request; ReplayMissError when it was never recorded."""
        entry = self._next(request_key(messages, tools, output))
        if entry is None:
            raise self._miss(messages)
        if self.delay:
            for d in entry["deltas"]:
                await asyncio.sleep(self.delay)
                yield _delta_from_json(d)
        else:
            for d in entry["deltas"]:
                yield _delta_from_json(d)
        error = entry.get("error")
        if isinstance(error, dict):
            raise _error_from_json(error, str(entry.get("model", self.name)))

    def __repr__(self) -> str:
        return f"ReplayModel({str(self.path)!r}, exchanges={len(getattr(self, 'exchanges', ()))})"
