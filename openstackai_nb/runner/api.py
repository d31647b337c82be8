# pyright: strict
"""`Runner`: the entry points, each a thin view of the one run loop (`executor`).

- `run_async` awaits the loop; `run_sync` runs it on the private loop thread and waits
  (`loop.run_blocking`), works inside Jupyter;
- `run_stream` yields the text events of the loop's event pump and raises if the run did not
  complete; `StreamingRunner` (streaming.py) yields every event of the same pump;
- `start` starts a run on the private loop and returns a `RunHandle` that synchronous code
  (the notebook's live view) reads the same events from, through a thread-safe queue.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import AgentError, ModelError
from openstackai_nb.events import StreamEvent
from openstackai_nb.results import RunResult, RunStatus
from openstackai_nb.runner import loop
from openstackai_nb.runner.config import RunConfig
from openstackai_nb.runner.executor import HistoryInput, _Run  # pyright: ignore[reportPrivateUsage] - the runner's own
from openstackai_nb.runner.observers import EventPump
from openstackai_nb.runner.streaming import events
from openstackai_nb.tools import RunContext

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent

__all__ = ["RunHandle", "Runner"]


def _stream_failure(run: _Run) -> AgentError:
    """The error run_stream raises for a run that ended FAILED: the run's own, carrying its result."""
    result = run.result
    message = result.error or f"the run ended {result.status.value}"
    if isinstance(run.failure, AgentError):
        return run.failure.replace(result=result, message=message)
    return ModelError(message).replace(result=result)


class Runner:
    """Entry points to run an agent. All of them are thin views of one async loop.

    Example:
        >>> from openstackai_nb import Agent, Runner
        >>> result = Runner.run_sync(Agent(name="A", model="scripted"), "Hello!")
        >>> result.status
        <RunStatus.COMPLETED: 'COMPLETED'>
    """

    @staticmethod
    async def run_async(
        agent: Agent,
        input: str,  # noqa: A002 - the documented name
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> RunResult:
        """Run the agent on `input` and return its RunResult.

        A failure inside the run ends it FAILED and is returned (see `result.error`).

        Raises:
            ConfigError: bad arguments, before anything runs.
            openstackai_nb.errors.TimeoutError: max_time or timeout_per_turn ran out (`.result`).
            asyncio.CancelledError: the task was cancelled (the run is recorded CANCELLED).
        """
        return await _Run(agent, input, config, context, history).execute()

    @staticmethod
    def run_sync(
        agent: Agent,
        input: str,  # noqa: A002
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> RunResult:
        """Run the agent and block until it ends; works in scripts and inside Jupyter.

        On KeyboardInterrupt (a kernel interrupt) the run is cancelled and recorded CANCELLED
        before the interrupt propagates.
        """
        run = _Run(agent, input, config, context, history)
        return loop.run_blocking(run.execute())

    @staticmethod
    def start(
        agent: Agent,
        input: str,  # noqa: A002
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> RunHandle:
        """Start the run on the private run loop and return at once, with a handle to follow it.

        For synchronous code that shows a run while it goes (the notebook's live view): read its
        events with `handle.next_batch(timeout)`, stop it with `handle.cancel()`, get the
        RunResult from the "done" event or `handle.result()`.

        Raises:
            ConfigError: bad arguments, before anything runs.
            UsageError: called from code running on the run loop (use `run_async` there).
        """
        run = _Run(agent, input, config, context, history)
        return RunHandle(run)

    @staticmethod
    async def run_stream(
        agent: Agent,
        input: str,  # noqa: A002
        *,
        config: RunConfig | None = None,
        context: RunContext | None = None,
        history: HistoryInput | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the answer's text deltas as they arrive; raise once they stop if the run did not complete.

        A stream never ends silently on a truncated answer: after yielding what arrived, a run
        that did not end COMPLETED raises. Text already yielded is never taken back; a provider
        may retry a stream that broke before any text reached you (the caller sees one answer).
        Reasoning ("thinking") text is not yielded: use StreamingRunner for "reasoning" events.

        Raises:
            ConfigError: bad arguments, before anything runs.
            openstackai_nb.errors.TimeoutError: max_time or timeout_per_turn ran out (`.result`).
            AgentError: the run ended FAILED: the run's own error (`ModelError`, `ModelHTTPError`,
                `ToolError`, `MaxTurnsExceeded`...; a `ModelError` for a model function's bug),
                with `.result` the FAILED RunResult (error, partial output).
            asyncio.CancelledError: the task was cancelled (the run is recorded CANCELLED).
        """
        run = _Run(agent, input, config, context, history)
        async with aclosing(events(run)) as stream:
            async for event in stream:
                if event.type == "text":
                    yield event.content
        if run.result.status is not RunStatus.COMPLETED:
            raise _stream_failure(run) from (None if isinstance(run.failure, AgentError) else run.failure)


class RunHandle(loop.LoopTask[StreamEvent, RunResult]):
    """A run going on the private run loop, followed from another thread (`Runner.start`).

    The run's `EventPump` puts each event straight into this handle's thread-safe queue: no hop
    through the loop, so an event reaches the reader even while the loop itself is blocked (an
    `async def` tool calling `time.sleep`). Cancelling cancels the run, which still emits its
    "error" and "done" (CANCELLED, partial output kept) before it ends.

    Example:
        >>> handle = Runner.start(Agent(name="A", model="scripted"), "Hello!")
        >>> handle.wait(30)
        True
        >>> handle.result().status
        <RunStatus.COMPLETED: 'COMPLETED'>
    """

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.run_id = run.result.run_id
        """The run's id."""
        self.model = run.model.name
        """The model's name (as the status line shows it)."""
        self.agent = run.agent.name
        """The agent's name."""
        super().__init__(self._start)

    def _start(self, put: Callable[[StreamEvent], None]) -> Coroutine[Any, Any, RunResult]:
        self._run.hooks.add(EventPump(put))  # this handle's view of the run: its event pump
        return self._run.execute()

    def result(self) -> RunResult:
        """The RunResult once the run has ended (CANCELLED/FAILED and timed-out results too; after `wait`)."""
        if not self.finished:
            raise RuntimeError("the run has not ended: wait() first")
        return self._run.result
