# pyright: strict
"""StreamingRunner: every event of a run, as the loop emits it; `events`, the coroutine end of the event pump."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from openstackai_nb.events import StreamEvent
from openstackai_nb.runner.config import RunConfig
from openstackai_nb.runner.executor import HistoryInput, _Run  # pyright: ignore[reportPrivateUsage] - the runner's own
from openstackai_nb.runner.observers import EventPump
from openstackai_nb.tools import RunContext

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent

__all__ = ["StreamingRunner", "events"]


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


_END = object()


async def events(run: _Run) -> AsyncGenerator[StreamEvent, None]:
    """The event pump: execute `run` as a task and yield its events until "done".

    Leaving the iteration early cancels the run (recorded CANCELLED). After "done", what the run
    raised (TimeoutError, CancelledError) is raised here.
    """
    queue: asyncio.Queue[object] = asyncio.Queue()
    run.hooks.add(EventPump(queue.put_nowait))
    task = asyncio.ensure_future(run.execute())
    task.add_done_callback(lambda _: queue.put_nowait(_END))
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            yield item  # type: ignore[misc]
        await task
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
