"""RunHistory: the durable run store (SQLite, WAL) and its queries.

Every run (API, magic, compare) is written here by the run loop: once when it starts (status
RUNNING) and once when it ends. `openstackai_nb.history` is the session's `RunHistory`, created
on first use (`get_history()`); `RunHistory(path)` opens any other store file.

Where the session's store lives:

- ``OPENSTACKAI_NB_HISTORY=/some/file.sqlite``: that file (an error if it cannot be written);
- ``OPENSTACKAI_NB_HISTORY=off``: in memory only, gone when the process ends;
- otherwise ``.openstackai_nb/history.sqlite`` in the working directory (the notebook's folder);
  when that folder cannot be written, the user's data directory
  (``~/.local/share/openstackai-nb/history.sqlite`` on Linux) with a one-line warning.

Layout and writing: `store._schema` (the tables), `store._sqlite` and `store._writer` (the
transactions; the writer thread with group commit) and `store._rows` (a RunResult as rows,
secrets scrubbed before anything is written). A finished run is committed before `run_sync`/`run_async` return.

Interrupted runs: a RUNNING row remembers the host, pid and process start time of its owner.
When a store is opened or read and that process no longer exists, the run is marked FAILED
with the error ``"interrupted: ..."`` (its input and partial row are kept). Rows owned by a live
process, or by another host, stay RUNNING.

A file that is not an SQLite database raises `HistoryError` naming the file and what to do; a
file deleted, replaced or damaged while open is handled as `store._sqlite_file` says. A single
unreadable row is skipped with a warning, so one bad run never hides the others. When the
session's store cannot be opened at all, see `store.session`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from openstackai_nb._warnings import warn
from openstackai_nb.errors import HistoryError, HistoryWarning
from openstackai_nb.store._details import detail_rows
from openstackai_nb.store._query import Where
from openstackai_nb.store._rows import Rows, dumps, for_writer, owner, process_gone
from openstackai_nb.store._schema import OUTPUT_COLUMNS, PUT_RESULT, RUN_COLUMNS, write_rows
from openstackai_nb.store._sqlite import Store
from openstackai_nb.store._sqlite_file import ENV_VAR

if TYPE_CHECKING:
    import pandas as pd

    from openstackai_nb.results import RunResult

__all__ = ["RunHistory", "UnavailableHistory", "default_path"]

logger = logging.getLogger("openstackai_nb")

_OFF = {"off", ":memory:", "none", "false", "0", "no"}
_RESULT = "(SELECT b.result FROM results b WHERE b.run_id = runs.run_id)"


# -- where the store lives ---------------------------------------------------------------------


def default_path() -> Path | None:
    """The session store's file from `OPENSTACKAI_NB_HISTORY` or the default; None means memory."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env.lower() in _OFF:
        return None
    if env:
        return Path(env).expanduser()
    return Path.cwd() / ".openstackai_nb" / "history.sqlite"


class RunHistory:
    """Runs recorded in a store file (or in memory): a sequence of RunResults, newest last.

    `openstackai_nb.history` is the session's instance; every run of the process lands in it.
    `RunHistory(path)` opens another store file (created if missing); `RunHistory(":memory:")`
    an empty one in memory.

    Args:
        path: the store file; None = `OPENSTACKAI_NB_HISTORY` or `.openstackai_nb/history.sqlite`.

    Raises:
        HistoryError: the file is not a readable SQLite database, or cannot be written.

    Example:
        >>> from openstackai_nb import history
        >>> df = history.to_dataframe()                      # one row per run
        >>> failed = history.filter(status="FAILED")
        >>> history.export("runs.jsonl")
    """

    _store: Store
    _where: Where

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            resolved, explicit = default_path(), bool(os.environ.get(ENV_VAR, "").strip())
        elif str(path).strip().lower() in _OFF:
            resolved, explicit = None, True
        else:
            resolved, explicit = Path(path).expanduser(), True
        self._store = Store(resolved, explicit=explicit)
        self._where = Where()
        self._reap()

    @classmethod
    def _view(cls, store: Store, where: Where) -> RunHistory:
        view = cls.__new__(cls)
        view._store, view._where = store, where
        return view

    # -- where ----------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The store file (None when the history is in memory only)."""
        return self._store.path

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        part = " (filtered)" if self._where.clauses else ""
        return f"RunHistory({len(self)} runs{part}, {where})"

    # -- recording ------------------------------------------------------------------------------
    def add(self, result: RunResult, *, finished: bool = True, wait: bool = True) -> Future[None] | None:
        """Insert or update a run (keyed by run_id). The run loop records every run this way.

        Args:
            result: the run, as it is now: later changes to its fields and lists are not
                recorded (with wait=False a shallow copy is serialised by the writer thread, so
                the objects in its lists, its tool calls and messages, must not change meanwhile).
            finished: False when the run has just started (its row is marked as owned by this
                process, so a crash can be detected later).
            wait: commit before returning. False hands the write to the store's writer thread
                (the run loop's way: a commit never stalls the loop); reads of this store wait
                for such writes, so they are always seen.

        Returns:
            With wait=False, a future that resolves once the write is committed.
        """
        if wait:
            self._store.write(Rows(result, owner() if not finished else (None, None, None), finished=finished))
            return None
        return self._store.submit(for_writer(result, finished=finished))

    def add_async(self, result: RunResult, *, finished: bool, wait: bool = True) -> asyncio.Future[None] | None:
        """`add(wait=False)` from the running event loop (the session's history observer calls it).

        For a finished run (and `wait`), returns an asyncio future resolved once it is committed
        (the writer wakes the loop once per batch); else None.
        """
        return self._store.submit_async(for_writer(result, finished=finished), wait=finished and wait)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every run recorded so far is committed to the store file."""
        return self._store.flush(timeout)

    def add_many(self, results: Iterable[RunResult]) -> int:
        """Insert or update finished runs in one transaction (imports); returns how many."""
        batch = [Rows(result, (None, None, None), finished=True) for result in results]

        def write(c: sqlite3.Connection) -> None:
            write_rows(c, batch)

        self._store.write(write)
        return len({r.run_id for r in batch})

    def _reap(self) -> None:
        """Mark RUNNING rows whose process has ended as FAILED ("interrupted: ...")."""
        rows = self._store.read("SELECT run_id, owner_host, owner_pid, owner_start FROM runs WHERE status='RUNNING'")
        dead = [r for r in rows if process_gone(r[1], r[2], r[3])]
        if not dead:
            return

        def write(c: sqlite3.Connection) -> None:
            for run_id, _host, pid, _start in dead:
                error = (
                    f"interrupted: the process that ran it (pid {pid}) ended before the run finished "
                    "(kernel restarted or killed?)"
                )
                got = c.execute(f"SELECT {_RESULT} FROM runs WHERE run_id=? AND status='RUNNING'", (run_id,)).fetchone()
                if got is None:
                    continue  # another process reaped it first
                try:
                    data = json.loads(got[0])
                    data["status"], data["error"] = "FAILED", error
                    c.execute(PUT_RESULT, (run_id, dumps(data)))
                except (TypeError, ValueError):
                    pass  # an unreadable record stays as it is; the row below still says FAILED
                c.execute(
                    "UPDATE runs SET status='FAILED', error=?, owner_host=NULL, owner_pid=NULL,"
                    " owner_start=NULL WHERE run_id=? AND status='RUNNING'",
                    (error, run_id),
                )

        self._store.write(write)

    # -- reading --------------------------------------------------------------------------------
    def _select(self, columns: str, tail: str = "", params: Sequence[Any] = ()) -> list[Any]:
        self._reap()
        return self._store.read(f"SELECT {columns} FROM runs{self._where.sql()}{tail}", (*self._where.params, *params))

    def __len__(self) -> int:
        return int(self._store.read(f"SELECT COUNT(*) FROM runs{self._where.sql()}", self._where.params)[0][0])

    def __bool__(self) -> bool:
        return True

    def _results(self, rows: Iterable[Sequence[Any]]) -> list[RunResult]:
        from openstackai_nb.results import RunResult

        out: list[RunResult] = []
        for run_id, text in rows:
            try:
                out.append(RunResult.from_dict(json.loads(text)))
            except Exception as exc:  # noqa: BLE001 - one bad row must not hide the others
                warn(
                    f"openstackai_nb: skipped run {run_id} in {self.path}: its record cannot be read ({exc})",
                    HistoryWarning,
                )
        return out

    def __iter__(self) -> Iterator[RunResult]:
        # Pages of 500 so iterating a large store does not hold every result at once.
        last = -1
        while True:
            tail = f"{' AND' if self._where.clauses else ' WHERE'} seq > ? ORDER BY seq LIMIT 500"
            rows = self._select(f"seq, run_id, {_RESULT}", tail, (last,))
            if not rows:
                return
            last = rows[-1][0]
            yield from self._results((r[1], r[2]) for r in rows)

    @overload
    def __getitem__(self, key: int | str) -> RunResult: ...
    @overload
    def __getitem__(self, key: slice) -> list[RunResult]: ...
    def __getitem__(self, key: int | str | slice) -> RunResult | list[RunResult]:
        """`history[-1]` is the newest run, `history["run_..."]` a run by id, `history[-5:]` a list."""
        if isinstance(key, str):
            rows = self._select(
                f"run_id, {_RESULT}", f"{' AND' if self._where.clauses else ' WHERE'} run_id = ?", (key,)
            )
            got = self._results(rows)
            if not got:
                raise KeyError(f"no run {key!r} in {self!r}")
            return got[0]
        if isinstance(key, slice):
            ids = self._ids()[key]
            return [self[i] for i in ids]
        if not isinstance(key, int):
            raise TypeError(f"RunHistory indices must be int, str (run_id) or slice, not {type(key).__name__}")
        n = len(self)
        index = key + n if key < 0 else key
        if not 0 <= index < n:
            raise IndexError(f"run index {key} out of range ({n} runs)")
        rows = self._select(f"run_id, {_RESULT}", " ORDER BY seq LIMIT 1 OFFSET ?", (index,))
        got = self._results(rows)
        if not got:
            raise IndexError(f"run {key} cannot be read")
        return got[0]

    def _ids(self) -> list[str]:
        return [r[0] for r in self._select("run_id", " ORDER BY seq")]

    @property
    def run_ids(self) -> list[str]:
        """The run ids, oldest first."""
        return self._ids()

    def last(self, n: int = 1) -> list[RunResult]:
        """The `n` newest runs, oldest first."""
        rows = self._select(f"seq, run_id, {_RESULT}", " ORDER BY seq DESC LIMIT ?", (max(0, int(n)),))
        return self._results((r[1], r[2]) for r in reversed(rows))

    # -- queries --------------------------------------------------------------------------------
    def filter(
        self,
        predicate: Callable[[RunResult], bool] | None = None,
        *,
        agent: str | Sequence[str] | None = None,
        model: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        run_ids: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RunHistory:
        """The runs matching every given condition, as a RunHistory view on the same store.

        Args:
            predicate: a function of a RunResult (evaluated here, over the runs left by the rest).
            agent: an agent name, or several.
            model: a model name, or several.
            status: "COMPLETED", "FAILED", "CANCELLED", "RUNNING" (or a RunStatus), or several.
            since: runs started at or after this time (a datetime, UTC if naive, or ISO text).
            until: runs started before this time.
            run_ids: only these runs.
            metadata: runs whose metadata has these key/value pairs.

        Example:
            >>> history.filter(agent="Planner", status="FAILED").to_dataframe()
        """
        where = self._where.matching(
            agent=agent, model=model, status=status, since=since, until=until, run_ids=run_ids, metadata=metadata
        )
        view = RunHistory._view(self._store, where)
        if predicate is not None:
            keep = [r.run_id for r in view if predicate(r)]
            kept = where.matching(run_ids=keep)
            view = RunHistory._view(self._store, kept)
        return view

    def clear(self) -> int:
        """Delete the runs of this history from its store (for a filtered view, only those); returns how many."""
        cond = self._where.sql()
        params = self._where.params

        def write(c: sqlite3.Connection) -> int:
            sub = f"SELECT run_id FROM runs{cond}"
            c.execute(f"DELETE FROM tool_calls WHERE run_id IN ({sub})", params)
            c.execute(f"DELETE FROM turns WHERE run_id IN ({sub})", params)
            c.execute(f"DELETE FROM results WHERE run_id IN ({sub})", params)
            return c.execute(f"DELETE FROM runs{cond}", params).rowcount

        return int(self._store.write(write))

    # -- DataFrames -----------------------------------------------------------------------------
    def to_dataframe(self, *, metadata: bool = True, cost: bool = False) -> pd.DataFrame:
        """One row per run, oldest first.

        Columns: run_id, agent, model, input, final_output, status, turn_count, elapsed_time,
        prompt_tokens, completion_tokens, n_tool_calls, error, started_at (datetime64[ns, UTC]),
        finish_reason (the last model call's: stop, length, content_filter, refusal...), provider and
        endpoint (who served the model), warnings (`RunResult.warnings`, one a line); with ``cost=True``
        prompt_cost, completion_cost, cost_usd (USD) and cost_source, as in `compare()`: your
        `set_prices` first, then genai-prices, NaN for models nobody prices (offline, local); for
        typed answers (an agent's `output_type`) one column per field, ``output.<field>`` (nested
        fields dotted, lists kept as lists, dtypes from the schema: see `store.outputs`), with
        final_output holding the answer's JSON text; then one column per metadata key (named
        ``metadata.<key>`` if it clashes with a column).

        Args:
            metadata: add the metadata columns.
            cost: add the cost columns (see `openstackai_nb.prices`).
        """
        from openstackai_nb.store import frames

        with frames.gc_paused():
            rows = self._select(", ".join((*RUN_COLUMNS, "metadata", *OUTPUT_COLUMNS)), " ORDER BY seq")
            schemas = dict(self._store.read("SELECT key, schema FROM output_schemas"))
            return frames.runs_frame(rows, metadata=metadata, schemas=schemas, cost=cost)

    def tool_calls_dataframe(self) -> pd.DataFrame:
        """One row per tool call (join with `to_dataframe()` on run_id).

        Columns: run_id, index, call_id, name, arguments, result, error, ok, started_at,
        elapsed_time, turn, and for calls that needed approval (else missing values): approval
        ("approved" or "rejected"), decided_by, approval_reason, approval_wait (seconds); and
        parsed_from_text (True for a call the model wrote as text, recovered by its provider).
        """
        from openstackai_nb.store import frames

        with frames.gc_paused():
            return frames.tool_calls_frame(self._detail_rows("tool_calls", frames.TOOL_CALL_COLUMNS, "idx"))

    def turns_dataframe(self) -> pd.DataFrame:
        """One row per turn (join with `to_dataframe()` on run_id).

        Columns: run_id, turn, start, duration, outcome, model_time, retries, n_tool_calls,
        tool_time, error, finish_reason, reasoning.
        """
        from openstackai_nb.store import frames

        with frames.gc_paused():
            columns = (
                "turn, start, duration, outcome, model_time, retries, n_tool_calls, tool_time, error, finish_reason, "
                "reasoning"
            )
            return frames.turns_frame(self._detail_rows("turns", columns, "turn"))

    def _detail_rows(self, table: str, columns: str, order: str) -> list[Any]:
        """run_id plus `columns` of a detail table, for the runs of this view, in run order."""
        self._reap()
        return detail_rows(self._store, self._where, table, columns, order)

    # -- files ----------------------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the runs to a JSON lines file and return its path.

        One `RunResult.to_dict()` per line, secrets scrubbed, never pickle. Load it back with
        `RunHistory.load(path)`.
        """
        from openstackai_nb.store import export

        return export.write_jsonl(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunHistory:
        """A RunHistory in memory holding the runs of a JSON lines export (or a copy of a store file)."""
        from openstackai_nb.store import export

        source = Path(path).expanduser()
        try:
            with open(source, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise HistoryError(f"cannot read the run export {source}: {exc.strerror or exc}") from None
        history = cls(":memory:")
        history.add_many(cls(source) if head == b"SQLite format 3\x00" else export.read_jsonl(source))
        return history

    def to_html(self, path: str | os.PathLike[str], runs: Iterable[RunResult] | None = None, **options: Any) -> Path:
        """Write one self-contained HTML report of `runs` (default: every run of this history).

        Delegates to `openstackai_nb.render.report.write_report` (options such as ``title=`` and
        ``figures=`` are passed on); model text is escaped and secrets scrubbed there.
        """
        from openstackai_nb.render import report

        return Path(report.write_report(list(self) if runs is None else list(runs), path, **options))


class UnavailableHistory(RunHistory):
    """The session's history when its store cannot be opened: every use raises the error.

    What `openstackai_nb.history` is then, so importing it never raises; `repr` says why.
    """

    def __init__(self, error: HistoryError) -> None:
        self.error = error
        """Why the store could not be opened."""
        self._where = Where()

    @property
    def _store(self) -> Store:  # type: ignore[override]
        raise HistoryError(self.error.message)

    def __repr__(self) -> str:
        return f"RunHistory(unavailable: {self.error.message.splitlines()[0]})"
