"""The cassette file: its format, request keys, deltas as JSON, one writer per file.

Shared by recording (`recording.py`) and replay (`replay.py`); the format is described in
`replay.py`'s docstring. Every string is scrubbed (`_secrets.scrub_data`) before it is written,
lines are written whole under a lock (and `flock` between processes).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openstackai_nb._files import open_private
from openstackai_nb._secrets import scrub, scrub_data
from openstackai_nb._version import __version__
from openstackai_nb.errors import AgentError, ConfigError, ModelError, ModelHTTPError
from openstackai_nb.messages import Message, ModelDelta, OutputSpec, ToolCallRequest, ToolDefinition, Usage

try:  # POSIX: a lock between processes appending to one cassette.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CASSETTE_FORMAT",
    "CASSETTE_VERSION",
    "Cassette",
    "delta_from_json",
    "delta_to_json",
    "error_from_json",
    "error_to_json",
    "parse_header",
    "request_key",
    "resolve",
    "scrub_split_secrets",
    "last_user",
    "summary",
    "trim",
]

CASSETTE_FORMAT = "openstackai-nb-cassette"
"""The `format` field of a cassette's header line."""
CASSETTE_VERSION = 1
"""The cassette format version this module writes and reads."""
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


def trim(text: str | None, limit: int = _TRIM) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def last_user(messages: Sequence[Message]) -> str:
    return next((m.content or "" for m in reversed(messages) if m.role == "user"), "")


def summary(messages: Sequence[Message], tools: Sequence[ToolDefinition]) -> dict[str, Any]:
    last = messages[-1] if messages else None
    summary: dict[str, Any] = {
        "messages": len(messages),
        "tools": [t.name for t in tools],
        "last_user": trim(last_user(messages)),
    }
    if last is not None and last.role != "user":
        label = f"tool {last.name}" if last.role == "tool" else last.role
        summary["last"] = f"{label}: {trim(last.content, 120)}"
    return summary


# -- deltas <-> JSON -------------------------------------------------------------------------------
def delta_to_json(d: ModelDelta) -> dict[str, Any] | None:
    if d.kind in ("text", "reasoning", "finish", "warning"):
        return {"kind": d.kind, "text": d.text}
    if d.kind == "tool_call" and d.tool_call is not None:
        tc = d.tool_call
        out: dict[str, Any] = {"kind": "tool_call", "id": tc.id, "name": tc.name, "arguments": tc.arguments}
        if tc.extra_content:
            out["extra_content"] = tc.extra_content
        if tc.parsed_from_text:
            out["parsed_from_text"] = True
        return out
    if d.kind == "usage" and d.usage is not None:
        u = d.usage
        return {
            "kind": "usage",
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "requests": u.requests,
        }
    return None  # retries are not recorded


def delta_from_json(d: Mapping[str, Any]) -> ModelDelta:
    kind = d.get("kind")
    if kind in ("text", "reasoning", "finish", "warning"):
        return ModelDelta(kind, text=str(d.get("text", "")))
    if kind == "tool_call":
        extra = d.get("extra_content")
        call = ToolCallRequest(
            id=str(d["id"]),
            name=str(d["name"]),
            arguments=str(d.get("arguments", "{}")),
            extra_content=extra if isinstance(extra, dict) else None,
            parsed_from_text=d.get("parsed_from_text") is True,
        )
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
    return {
        "type": "header",
        "format": CASSETTE_FORMAT,
        "version": CASSETTE_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "openstackai_nb": __version__,
    }


def _dumps(entry: dict[str, Any]) -> str:
    return json.dumps(scrub_data(entry), ensure_ascii=False, separators=(",", ":")) + "\n"


class Cassette:
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
            parse_header(first, self.path)
        self._checked = True

    def _write(self, line: str, *, truncate: bool) -> None:
        data = line.encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Private (0600) when created: a cassette holds every prompt and answer (_files).
            with open_private(self.path, "wb" if truncate else "ab") as f:
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
def resolve(path: str | os.PathLike[str]) -> Path:
    text = os.fspath(path).strip() if isinstance(path, str) else os.fspath(path)
    if not text:
        raise ConfigError("a cassette path is needed, got an empty string (e.g. 'runs.cassette.jsonl')")
    return Path(text).expanduser().absolute()


def scrub_split_secrets(deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def error_to_json(exc: AgentError) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(exc).__name__, "message": scrub(str(exc))}
    if isinstance(exc, ModelHTTPError):
        out["status_code"] = exc.status_code
    return out


def error_from_json(data: Mapping[str, Any], model: str) -> AgentError:
    message = str(data.get("message", "the recorded model request failed"))
    if data.get("type") == "ModelHTTPError" and "status_code" in data:
        return ModelHTTPError(message, status_code=int(data["status_code"]), model=model)
    return ModelError(message)


def parse_header(line: bytes | str, path: Path) -> dict[str, Any]:
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
