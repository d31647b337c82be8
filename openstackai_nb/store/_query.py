"""Conditions on the runs table: what `RunHistory.filter` builds and every query of a view uses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from openstackai_nb.store._rows import dumps, ns

__all__ = ["Where"]


class Where:
    """A SQL condition on the runs table (and its parameters), combined with AND."""

    __slots__ = ("clauses", "params")

    def __init__(self, clauses: tuple[str, ...] = (), params: tuple[Any, ...] = ()) -> None:
        self.clauses = clauses
        self.params = params

    def and_(self, clause: str, *params: Any) -> Where:
        """This condition AND `clause` (`@` stands for the runs table's prefix)."""
        return Where((*self.clauses, clause), (*self.params, *params))

    def sql(self, prefix: str = "") -> str:
        """The WHERE clause ("" when there is no condition), columns prefixed with `prefix`."""
        if not self.clauses:
            return ""
        return " WHERE " + " AND ".join(f"({c.replace('@', prefix)})" for c in self.clauses)

    def matching(
        self,
        *,
        agent: str | Sequence[str] | None = None,
        model: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        run_ids: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Where:
        """This condition AND the filters of `RunHistory.filter` (see its docs)."""
        where = self
        for column, value in (("agent", agent), ("model", model), ("status", status)):
            if value is not None:
                values = [value] if isinstance(value, str) else list(value)
                values = [str(getattr(v, "value", v)) for v in values]
                where = where.and_(f"@{column} IN ({','.join('?' * len(values))})" if values else "0", *values)
        if since is not None:
            where = where.and_("@started_at >= ?", ns(since))
        if until is not None:
            where = where.and_("@started_at < ?", ns(until))
        if run_ids is not None:
            where = where.and_("@run_id IN (SELECT value FROM json_each(?))", dumps(list(run_ids)))
        for key, value in (metadata or {}).items():
            where = where.and_("json_extract(@metadata, ?) IS ?", "$." + json.dumps(str(key)), _sql_value(value))
        return where


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, int | float | str):
        return value
    return dumps(value)
