"""The runner: RunConfig, RunContext, RunResult, RunStatus, Runner and StreamingRunner."""

from __future__ import annotations

from openstackai_nb.runner.config import RunConfig, RunContext, RunStatus
from openstackai_nb.runner.executor import Runner, RunRecorder, set_recorder
from openstackai_nb.runner.result import RunResult, Span, ToolCall
from openstackai_nb.runner.streaming import StreamingRunner

__all__ = [
    "RunConfig",
    "RunContext",
    "RunRecorder",
    "RunResult",
    "RunStatus",
    "Runner",
    "Span",
    "StreamingRunner",
    "ToolCall",
    "set_recorder",
]
