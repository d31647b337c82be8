"""StreamingRunner: every event of a run, as the loop emits it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from openstackai_nb.events import StreamEvent
from openstackai_nb.runner.config import RunConfig
from openstackai_nb.runner.executor import HistoryInput, _Run, events
from openstackai_nb.tools import RunContext

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent

__all__ = ["StreamingRunner"]


class StreamingRunner:
    """Run an agent and yield its `StreamEvent`s: text, reasoning, tool_call, tool_result, turn, error, done.

    Example:
        >>> async def main():
        ...     async for event in StreamingRunner(agent).run("Write a poem"):
        ...         if event.type == "text":
        ...             print(event.content, end="")

    Breaking out of the loop cancels the run (recorded CANCELLED). A failed run ends with an
    "error" event, then "done" carrying the FAILED result (nothing is raised). A timeout is
    raised after the "done" event, as `errors.TimeoutError` with the partial result.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def run(
        self,
        input: str,  # noqa: A002 - the documented name
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Start the run and yield its events until "done" (arguments are checked at this call)."""
        return events(_Run(self.agent, input, config, context, history))
