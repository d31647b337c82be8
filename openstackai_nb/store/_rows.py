"""How a RunResult becomes rows of the history store, secrets scrubbed first.

A run is its `runs` row, its full JSON, and its tool-call and turn rows. Also: who owns a
RUNNING row (host, pid, process start) and whether that process is gone.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["Rows", "dumps", "may_hold_secret", "ns", "owner", "process_gone", "turn_rows"]


def ns(value: Any) -> int:
    """ISO-8601 text or datetime -> nanoseconds since the epoch (UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    return 0


def _json_default(value: Any) -> Any:
    # The same text pydantic writes in the result JSON: ISO dates, else str().
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


_KEY_MARKERS = ("bearer", "sk-", "pk-", "rk-", "ak-", "ghp_", "gho_", "xox", "hf_")
_SECRET_SUFFIXES = ("API_KEY", "_TOKEN", "_SECRET", "PASSWORD")


def may_hold_secret(text: str) -> bool:
    """A fast, conservative pre-check for `_secrets.scrub` (which costs ~1 ms on a run's JSON).

    True when the text contains a key-shaped prefix or a secret the process knows (registered
    keys and `*_API_KEY`/`*_TOKEN`/... variables, read without decoding all of os.environ).
    """
    from openstackai_nb import _secrets

    low = text.lower()
    if any(m in low for m in _KEY_MARKERS):
        return True
    for secret in _secrets._known:
        if secret in text:
            return True
    raw = getattr(os.environ, "_data", None)
    if isinstance(raw, dict):
        for key in _secret_env_keys(raw):
            v = raw.get(key)
            if v is not None and len(v) >= 6:
                value = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                if value in text:
                    return True
        return False
    return True  # unknown platform layout: let scrub decide


_env_keys_cache: tuple[int, list[Any]] = (0, [])


def _secret_env_keys(raw: dict[Any, Any]) -> list[Any]:
    """The secret-named keys of the environment, recomputed only when the set of names changes."""
    global _env_keys_cache
    fingerprint = hash(tuple(raw))
    if fingerprint != _env_keys_cache[0]:
        keys = [
            k
            for k in raw
            if (k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)).upper().endswith(_SECRET_SUFFIXES)
        ]
        _env_keys_cache = (fingerprint, keys)
    return _env_keys_cache[1]


class Rows:
    """The rows one RunResult becomes: its runs row, tool-call rows and turn rows (scrubbed)."""

    __slots__ = ("finished", "run", "run_id", "text", "tools", "turns")

    def __init__(self, result: RunResult, owner: tuple[Any, Any, Any], *, finished: bool) -> None:
        self.finished = finished
        text = result.model_dump_json()
        if may_hold_secret(text):
            from openstackai_nb._secrets import scrub

            clean = scrub(text)
            if clean != text:
                self._from_data(json.loads(clean), clean, owner)
                return
        self.run_id = run_id = result.run_id
        self.run = (
            run_id,
            result.agent_name,
            result.model,
            result.input,
            result.final_output,
            str(result.status.value),
            result.turn_count,
            float(result.elapsed_time),
            result.usage.prompt_tokens,
            result.usage.completion_tokens,
            len(result.tool_calls),
            result.error,
            ns(result.started_at),
            result.finish_reason,
            result.provider,
            result.endpoint,
            dumps(result.metadata) if result.metadata else "{}",
            *owner,
        )
        self.text = text
        if not self.finished:
            self.tools, self.turns = [], []
            return
        self.tools = [
            (run_id, i, c.call_id, c.name, dumps(c.arguments), dumps(c.result), c.error, ns(c.started_at),
             c.elapsed_time, c.turn)
            for i, c in enumerate(result.tool_calls)
        ]  # fmt: skip
        self.turns = turn_rows(
            run_id,
            result.turn_count,
            [(s.kind, s.turn, s.start, s.duration, s.outcome, s.attributes) for s in result.trace],
            [c.turn for c in result.tool_calls],
        )

    def _from_data(self, data: dict[str, Any], text: str, owner: tuple[Any, Any, Any]) -> None:
        usage = data.get("usage") or {}
        calls = data.get("tool_calls") or []
        self.run_id = run_id = data["run_id"]
        self.run = (
            run_id,
            data.get("agent_name") or "",
            data.get("model") or "",
            data.get("input") or "",
            data.get("final_output"),
            data.get("status") or "QUEUED",
            int(data.get("turn_count") or 0),
            float(data.get("elapsed_time") or 0.0),
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            len(calls),
            data.get("error"),
            ns(data.get("started_at")),
            data.get("finish_reason"),
            data.get("provider"),
            data.get("endpoint"),
            dumps(data.get("metadata") or {}),
            *owner,
        )
        self.text = text
        if not self.finished:
            self.tools, self.turns = [], []
            return
        self.tools = [
            (run_id, i, c.get("call_id"), c.get("name"), dumps(c.get("arguments")), dumps(c.get("result")),
             c.get("error"), ns(c.get("started_at")), c.get("elapsed_time"), c.get("turn"))
            for i, c in enumerate(calls)
        ]  # fmt: skip
        spans = [
            (s.get("kind"), s.get("turn"), s.get("start"), s.get("duration"), s.get("outcome"), s.get("attributes"))
            for s in data.get("trace") or ()
        ]
        self.turns = turn_rows(run_id, int(data.get("turn_count") or 0), spans, [c.get("turn") for c in calls])


def turn_rows(
    run_id: str, turn_count: int, spans: Sequence[tuple[Any, ...]], call_turns: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """One row per turn: from the trace's spans, else from turn_count and the tool calls."""
    turns: dict[int, list[Any]] = {}

    def row(turn: int) -> list[Any]:
        if turn not in turns:
            # start, duration, outcome, model_time, retries, n_tool_calls, tool_time, error, finish_reason,
            # reasoning
            turns[turn] = [None, None, None, None, 0, 0, 0.0 if spans else None, None, None, None]
        return turns[turn]

    for kind, turn, start, duration, outcome, attributes in spans:
        attrs = attributes or {}
        r = row(int(turn or 0))
        if kind == "turn":
            r[0], r[1], r[2] = start, duration, outcome
        elif kind == "model":
            r[3] = (r[3] or 0.0) + float(duration or 0.0)
            r[4] += len(attrs.get("retries") or ())
            if attrs.get("error") and not r[7]:
                r[7] = str(attrs["error"])
            if attrs.get("finish_reason"):
                r[8] = str(attrs["finish_reason"])
            if attrs.get("reasoning"):
                r[9] = f"{r[9]}\n\n{attrs['reasoning']}" if r[9] else str(attrs["reasoning"])
        elif kind == "tool":
            r[6] += float(duration or 0.0)
    for turn in call_turns:
        row(int(turn or 0))[5] += 1
    for turn in range(1, turn_count + 1):
        row(turn)
    return [(run_id, turn, *r) for turn, r in sorted(turns.items())]


# -- who owns a RUNNING row --------------------------------------------------------------------


def _proc_start(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses: split after the last ")".
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


_HOST = socket.gethostname()
_owner_cache: tuple[int, str | None] | None = None


def owner() -> tuple[str, int, str | None]:
    """(host, pid, process start) of this process: who owns the RUNNING rows it writes."""
    global _owner_cache
    pid = os.getpid()
    if _owner_cache is None or _owner_cache[0] != pid:
        _owner_cache = (pid, _proc_start(pid))
    return _HOST, pid, _owner_cache[1]


def process_gone(host: str | None, pid: int | None, start: str | None) -> bool:
    """True only when we can tell the owner process no longer exists."""
    if host != _HOST or not pid:
        return False
    if pid == os.getpid():
        return start is not None and start != owner()[2]
    if os.path.isdir("/proc/self"):
        now = _proc_start(pid)
        return now is None or (start is not None and now != start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
