"""The runner: one async run loop (`executor`) and the thin views of it.

`Runner.run_sync / run_async / run_stream`, `StreamingRunner`, `RunConfig` (the limits), the
one way to watch runs (`RunObserver`; the session's observers: `set_default_observers`; the old
recorder seam, `RunRecorder` and `set_recorder`, is deprecated), and the records a run
produces (`RunResult`, `ToolCall`, `Span`, `RunStatus`: defined in `openstackai_nb.results`,
re-exported here), `RunContext` (defined with the tools, which receive it), and what an approver
of tool calls receives and returns (`ApprovalRequest`, `Decision`: tools.py; see `runner.approval`).
"""

from __future__ import annotations

from openstackai_nb.results import RunResult, RunStatus, Span, ToolCall
from openstackai_nb.runner.api import RunHandle, Runner
from openstackai_nb.runner.config import RunConfig
from openstackai_nb.runner.observers import RunObserver, set_default_observers
from openstackai_nb.runner.recorder import RunRecorder, set_recorder
from openstackai_nb.runner.streaming import StreamingRunner
from openstackai_nb.tools import ApprovalRequest, Decision, RunContext

__all__ = [
    "ApprovalRequest",
    "Decision",
    "RunConfig",
    "RunContext",
    "RunHandle",
    "RunObserver",
    "RunRecorder",
    "RunResult",
    "RunStatus",
    "Runner",
    "Span",
    "StreamingRunner",
    "ToolCall",
    "set_default_observers",
    "set_recorder",
]
