"""Kept for the import path `openstackai_nb.runner.result`: the run's records live in `openstackai_nb.results`."""

from __future__ import annotations

from openstackai_nb.results import RunResult, RunStatus, Span, ToolCall, jsonable

__all__ = ["RunResult", "RunStatus", "Span", "ToolCall", "jsonable"]
