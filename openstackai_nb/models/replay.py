"""Record model exchanges to a cassette, and replay them offline (`model="replay:PATH"`).

Recording (`recording.py`, re-exported here: `replay.start_recording`, `replay.recording`, ...)
happens at the `Model` interface; the cassette file itself is `_cassette.py`'s.

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
import json
import os
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

from openstackai_nb._secrets import scrub
from openstackai_nb.errors import ConfigError, ReplayMissError
from openstackai_nb.messages import Message, ModelDelta
from openstackai_nb.models._cassette import (
    CASSETTE_FORMAT,
    CASSETTE_VERSION,
    delta_from_json,
    error_from_json,
    last_user,
    parse_header,
    request_key,
    resolve,
    trim,
)
from openstackai_nb.models.base import Model, ModelRequestParameters
from openstackai_nb.models.recording import (
    RECORD_ENV,
    RecordingModel,
    is_recording,
    recording,
    recording_path,
    recording_wrapper,
    start_recording,
    stop_recording,
)

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

_DELAY_ENV = "OPENSTACKAI_NB_REPLAY_DELAY"


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

    replays = True
    """A replay is never recorded again (see `recording_wrapper`)."""

    def __init__(self, path: str | os.PathLike[str], *, delay: float | None = None) -> None:
        self.path = resolve(path)
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
        header = parse_header(lines[0], self.path)
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
                    delta_from_json(d)
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
        shown = trim(last_user(messages), 120)
        prompt = trim(last_user(messages))
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
            f"{len(messages)} messages, last user message {scrub(shown)!r}): {why}. "
            f"Re-record it: run against a real model with OPENSTACKAI_NB_RECORD={self.path} "
            "(or %agent record PATH / start_recording(PATH))"
        )

    async def stream(self, messages: Sequence[Message], params: ModelRequestParameters) -> AsyncIterator[ModelDelta]:
        """Stream the recorded answer to this request; ReplayMissError when it was never recorded."""
        entry = self._next(request_key(messages, params.tools, params.output))
        if entry is None:
            raise self._miss(messages)
        if self.delay:
            for d in entry["deltas"]:
                await asyncio.sleep(self.delay)
                yield delta_from_json(d)
        else:
            for d in entry["deltas"]:
                yield delta_from_json(d)
        error = entry.get("error")
        if isinstance(error, dict):
            raise error_from_json(error, str(entry.get("model", self.name)))

    def __repr__(self) -> str:
        return f"ReplayModel({str(self.path)!r}, exchanges={len(getattr(self, 'exchanges', ()))})"
