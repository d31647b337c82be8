"""openstackai-nb: run LLM agents from notebooks.

Import stays light: no pandas, ipywidgets, IPython, httpx2 or mcp until they are needed, and
the public names are made on first use (`__getattr__` below). It installs nothing either: the
history, OpenTelemetry and cassettes watch runs as the runner's default observers
(`runner.observers.DEFAULT_OBSERVERS`), made on the first run.
Every name of `openstackai_nb.runner` but the deprecated ones is also here (that path stays the
documented one), and `__all__` is exactly what this module defines and re-exports
(tests/test_public_api.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import register_secret  # also installs the scrubbing filter of the package's logger
from openstackai_nb._version import __version__

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.comparison import (
        Case,
        DaskScheduler,
        compare,
        diff_runs,
        paired,
        plot_summary,
        set_prices,
        side_by_side,
        summarize,
    )
    from openstackai_nb.mcp import MCPServer
    from openstackai_nb.runner import (
        ApprovalRequest,
        RunConfig,
        RunContext,
        RunHandle,
        Runner,
        RunObserver,
        RunResult,
        RunStatus,
        Span,
        StreamingRunner,
        ToolCall,
        set_default_observers,
    )
    from openstackai_nb.store import RunHistory
    from openstackai_nb.tools import Decision, tool

    history: RunHistory  # the session's history, made on first use by __getattr__ below

__all__ = [
    "Agent",
    "ApprovalRequest",
    "Case",
    "DaskScheduler",
    "Decision",
    "MCPServer",
    "RunConfig",
    "RunContext",
    "RunHandle",
    "RunHistory",
    "RunObserver",
    "RunResult",
    "RunStatus",
    "Runner",
    "Span",
    "StreamingRunner",
    "ToolCall",
    "__version__",
    "compare",
    "diff_runs",
    "history",
    "load_ipython_extension",
    "paired",
    "plot_summary",
    "register_secret",
    "set_default_observers",
    "set_prices",
    "side_by_side",
    "summarize",
    "tool",
    "unload_ipython_extension",
]


_RUNNER = (
    "ApprovalRequest",
    "RunConfig",
    "RunContext",
    "RunHandle",
    "RunObserver",
    "RunResult",
    "RunStatus",
    "Runner",
    "Span",
    "StreamingRunner",
    "ToolCall",
    "set_default_observers",
)
_CORE = frozenset({"Agent", "Decision", "tool", *_RUNNER})
"""Names made on first use (PEP 562), all at once: `import openstackai_nb` stays cheap (pydantic
and asyncio load when a name that needs them is first read), and the import paths are unchanged."""


def _load_core() -> None:
    from openstackai_nb import runner
    from openstackai_nb.agent import Agent
    from openstackai_nb.tools import Decision, tool

    for obj in (
        Agent,
        runner.RunConfig,
        runner.RunContext,
        runner.RunResult,
        runner.RunStatus,
        runner.Runner,
        runner.StreamingRunner,
    ):
        obj.__module__ = "openstackai_nb"
    globals().update({name: getattr(runner, name) for name in _RUNNER}, Agent=Agent, Decision=Decision, tool=tool)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in _CORE:
        _load_core()
        return globals()[name]
    # PEP 562: the session's history is created on first use, never at import.
    if name == "history":
        from openstackai_nb.store.session import get_history

        return get_history()
    if name == "RunHistory":
        from openstackai_nb.store import RunHistory

        return RunHistory
    if name == "MCPServer":  # the mcp SDK is imported when a server is made, never here
        from openstackai_nb.mcp import MCPServer

        return MCPServer
    if name in (
        "Case",
        "DaskScheduler",
        "compare",
        "diff_runs",
        "paired",
        "plot_summary",
        "set_prices",
        "side_by_side",
        "summarize",
    ):
        from openstackai_nb import comparison

        return getattr(comparison, name)
    raise AttributeError(f"module 'openstackai_nb' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext openstackai_nb`: register the %agent / %%agent magics."""
    from openstackai_nb.notebook.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext openstackai_nb`: remove the magics."""
    from openstackai_nb.notebook.magics import unload

    unload(ipython)
