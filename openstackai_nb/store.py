"""RunHistory: the session's run store (placeholder: in memory until the durable store lands)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openstackai_nb.runner.result import RunResult

__all__ = ["RunHistory", "get_history", "record"]


class RunHistory:
    """Every run of the session, newest last."""

    def __init__(self) -> None:
        self._runs: dict[str, RunResult] = {}

    def add(self, result: RunResult) -> None:
        """Insert or update a run."""
        self._runs[result.run_id] = result

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[RunResult]:
        return iter(list(self._runs.values()))

    def __getitem__(self, index: int) -> RunResult:
        return list(self._runs.values())[index]


_history: RunHistory | None = None


def get_history() -> RunHistory:
    """The session's RunHistory (created on first use)."""
    global _history
    if _history is None:
        _history = RunHistory()
    return _history


def record(result: RunResult, *, finished: bool) -> None:
    """Record a run that started or finished."""
    get_history().add(result)
