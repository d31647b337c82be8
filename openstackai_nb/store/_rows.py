"""How a RunResult becomes rows of the history store, secrets scrubbed first.

A run is its `runs` row, its full JSON, and its tool-call and turn rows (kept, since schema 6, as
compact JSON in its runs row: `_schema`). A finished run is handed to the store's writer
thread as a snapshot and serialised there (`Rows.later`, `for_writer`). Also: who owns a
RUNNING row (host, pid, process start) and whether that process is gone.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import may_hold_secret, scrub

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult, ToolCall

__all__ = ["Rows", "dumps", "for_writer", "ns", "owner", "process_gone", "snapshot", "turn_rows"]


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


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)
"""One encoder for every cell: `json.dumps` with options builds a new one per call (about 10 us)."""


def dumps(value: Any) -> str:
    """Compact JSON text of `value` (non-ASCII kept; dates as ISO text, other objects as str())."""
    return _ENCODER.encode(value)


class Rows:
    """The rows one RunResult becomes: its runs row, tool-call rows and turn rows (scrubbed).

    `Rows(result, ...)` builds them at once. `Rows.later(result, ...)` is what the run loop hands
    the store for a run that has ended: a snapshot that costs a few microseconds, turned into rows
    (JSON, scrubbing, tuples) by `build()` on the store's writer thread.
    """

    __slots__ = ("_owner", "_source", "details", "finished", "run", "run_id", "schema", "text", "tools", "turns")

    def __init__(self, result: RunResult, owner: tuple[Any, Any, Any], *, finished: bool) -> None:
        self.run_id = result.run_id
        self.finished = finished
        self._owner = owner
        self._source: RunResult | None = result
        self.build()

    @classmethod
    def later(cls, result: RunResult, owner: tuple[Any, Any, Any], *, finished: bool, copy: bool = True) -> Rows:
        """The rows of `result` as it is now, built when `build()` is called (by another thread).

        Taken: the result's own fields and its lists and metadata dict (shallow copies), so the
        caller may go on changing the result; the messages, tool calls and spans in those lists
        must no longer change, which holds once a run has ended (a RUNNING run: use `Rows(...)`).
        copy=False takes no copy, for rows built before the caller goes on (`commit_now`); call
        `detached()` before handing them to another thread.
        """
        rows = cls.__new__(cls)
        rows.run_id = result.run_id
        rows.finished = finished
        rows._owner = owner
        rows._source = snapshot(result) if copy else result
        return rows

    def detached(self) -> Rows:
        """These rows, safe to build on another thread: built already, else built from a snapshot (see `later`)."""
        if self._source is not None:
            self._source = snapshot(self._source)
        return self

    def build(self) -> None:
        """Turn the run into rows (once; later calls do nothing)."""
        result = self._source
        if result is None:
            return
        self.text = text = result.model_dump_json()
        run_id = self.run_id
        output, self.schema = _typed_answer(
            result.final_output if result.typed else None, result.output_schema, result.output_schema is not None
        )
        self.run: tuple[Any, ...] = (
            run_id,
            result.agent_name,
            result.model,
            result.input,
            result.output_text,
            str(result.status),  # a StrEnum: its value
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
            "\n".join(result.warnings) if result.warnings else None,
            result.cached_calls,
            dumps(result.metadata) if result.metadata else "{}",
            *self._owner,
            output,
            self.schema[0] if self.schema else None,
        )
        self.tools: list[tuple[Any, ...]] = []
        self.turns: list[tuple[Any, ...]] = []
        if self.finished:
            self.tools = [_tool_row(run_id, i, c) for i, c in enumerate(result.tool_calls)]
            self.turns = turn_rows(
                run_id,
                result.turn_count,
                [(s.kind, s.turn, s.start, s.duration, s.outcome, s.attributes) for s in result.trace],
                [c.turn for c in result.tool_calls],
            )
        if may_hold_secret(text):  # rare: scrub every string of every row (a key is never split by JSON)
            clean = scrub(text)
            if clean != text:
                self.text = clean
                self.run = _scrubbed(self.run)
                self.tools = [_scrubbed(row) for row in self.tools]
                self.turns = [_scrubbed(row) for row in self.turns]
        # The runs row's compact columns (schema 6): tool rows after idx, turn rows after run_id.
        self.details: tuple[str | None, str | None] = (
            (
                dumps([row[2:] for row in self.tools]) if self.tools else "[]",
                dumps([row[1:] for row in self.turns]) if self.turns else "[]",
            )
            if self.finished
            else (None, None)
        )
        self._source = None


def for_writer(result: RunResult, *, finished: bool, copy: bool = True) -> Rows:
    """What a run hands the writer thread: a finished run's snapshot, serialised there; a RUNNING row now.

    A run still going changes its lists and spans in place, so its RUNNING row is serialised at
    once; a finished run no longer changes them, so only a shallow copy is taken here (a few
    microseconds) and the JSON, the scrubbing and the rows are made on the writer thread.
    copy=False: no copy, for a finished run's rows built at once by the caller's thread (`Rows.later`).
    """
    if finished:
        return Rows.later(result, (None, None, None), finished=True, copy=copy)
    return Rows(result, owner(), finished=False)


def snapshot(result: RunResult) -> RunResult:
    """A copy of a run that has ended, for serialising on another thread (see `Rows.later`)."""
    return result.model_copy(  # its own field dict, and its own lists
        update={
            "messages": list(result.messages),
            "tool_calls": list(result.tool_calls),
            "trace": list(result.trace),
            "warnings": list(result.warnings),
            "metadata": dict(result.metadata),
        }
    )


def _tool_row(run_id: str, index: int, call: ToolCall) -> tuple[Any, ...]:
    approval = None if call.approval is None else call.approval.model_dump_json()
    return (
        run_id,
        index,
        call.call_id,
        call.name,
        dumps(call.arguments),
        dumps(call.result),
        call.error,
        ns(call.started_at),
        call.elapsed_time,
        call.turn,
        approval,
        int(call.parsed_from_text),
    )


def _typed_answer(value: Any, schema: Any, typed: bool) -> tuple[str | None, tuple[str, str] | None]:
    """The runs table's cells of a typed answer: its JSON (None when there is no answer) and (key, schema text)."""
    if not typed:
        return None, None
    from openstackai_nb.output.columns import schema_key
    from openstackai_nb.results import jsonable

    return (None if value is None else dumps(jsonable(value))), schema_key(schema)


def _scrubbed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(scrub(v) if isinstance(v, str) else v for v in row)


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
