# pyright: strict
"""The one async run loop (`_Run`), made of parts, and the observers it tells what happens.

`_Run.execute()` is the only place that decides how a run starts and ends (its status). The
run is composed of parts, each made in `__init__` and given what it needs:

- the turn loop (`_turns.TurnLoop`): one model call per turn, then its tool calls, until a final
  answer (the typed answer of an agent with an `output_type`: `output.py`);
- the tool executor (`tool_calls.ToolExecutor`): the tool half of a turn, its approvals and
  what a limit cut off;
- the clock and limits (`_limits.RunLimits`): `max_time` and `timeout_per_turn` become one
  deadline per turn, enforced with `asyncio.timeout_at` around everything the turn awaits (HTTP
  reads, tools), so a slow server is cut off at the limit; the deadlines live on an
  `approval.Clock`, which stops while a tool call waits for approval;
- the event sink (`_events.RunEvents`): spans and events, told to the run's observers
  (`RunConfig.observers`, else the session's: history, OpenTelemetry, cassettes) through
  `observers.RunHooks`. The event pump is an observer too (`EventPump`: an asyncio queue in
  `streaming.events`, a thread-safe one in `RunHandle`); events are built only when an observer
  overrides `event` (`run_async` builds none).

What a run is given is checked first, before any part exists (`_prepare`). On timeout the run
raises `errors.TimeoutError` carrying the partial result; on cancellation it ends CANCELLED, emits
"done", and re-raises CancelledError. The entry points are in `api.py`. Views subscribe; the loop
never imports them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from openstackai_nb._secrets import scrub
from openstackai_nb.errors import AgentError, ConfigError
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message
from openstackai_nb.results import RunResult, RunStatus
from openstackai_nb.runner import caching, observers
from openstackai_nb.runner._events import RunEvents
from openstackai_nb.runner._limits import RunLimits, TurnTimeout
from openstackai_nb.runner._turns import ModelRequest, TurnLoop
from openstackai_nb.runner.config import RunConfig
from openstackai_nb.runner.tool_calls import ToolExecutor, ToolLimits
from openstackai_nb.tools import RunContext

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.messages import OutputSpec
    from openstackai_nb.models.base import Model
    from openstackai_nb.runner.caching import RunCache

__all__ = ["HistoryInput"]

HistoryInput = Sequence[Message | dict[str, Any]]
"""A prior conversation to continue: Messages or dicts with role and content."""


def _coerce_history(history: Iterable[object] | None) -> list[Message]:
    out: list[Message] = []
    for i, item in enumerate(history or ()):
        if isinstance(item, Message):
            msg = item
        elif isinstance(item, dict):
            try:
                msg = Message.model_validate(item)
            except (ValueError, TypeError) as exc:  # pydantic.ValidationError is a ValueError
                raise ConfigError(
                    f"history[{i}] is not a chat message ({exc.__class__.__name__}): {item!r:.80}"
                ) from None
        else:
            raise ConfigError(f"history[{i}] must be a Message or a dict with role/content, got {type(item).__name__}")
        if msg.role != "system":
            out.append(msg)
    return out


def _checked_config(agent: object, user_input: object, config: object) -> RunConfig:
    """The run's config, once its arguments are what a run takes (ConfigError otherwise)."""
    from openstackai_nb.agent import Agent

    if not isinstance(agent, Agent):
        raise ConfigError(f"the first argument must be an Agent, got {type(agent).__name__}")
    if not isinstance(user_input, str):
        raise ConfigError(f"input must be a string, got {type(user_input).__name__}")
    if config is None:
        return RunConfig()
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
    return config


class _Prepared(NamedTuple):
    """What a run is made from, once its arguments are checked."""

    config: RunConfig
    context: RunContext
    result: RunResult
    """QUEUED; its `messages` are the conversation (the context's `history` too)."""
    model: Model
    cache: RunCache | None
    spec: OutputSpec | None


def _prepare(
    agent: Agent,
    user_input: str,
    config: RunConfig | None,
    context: RunContext | None,
    history: HistoryInput | None,
) -> _Prepared:
    """Check a run's arguments (ConfigError before anything runs) and build its conversation and result."""
    config = _checked_config(agent, user_input, config)
    cache = caching.for_run(config)  # the response cache, when the run uses it
    model = agent.get_model(cache=cache.wrap if cache is not None else None)
    output = agent.output
    spec = output.spec if output is not None else None  # builds the TypeAdapter: a ConfigError before the run
    context = context if context is not None else RunContext()
    if not context.run_id:
        context.run_id = config.run_id
    messages = [Message(role="system", content=agent.instructions)] if agent.instructions else []
    messages.extend(_coerce_history(history if history is not None else context.history))
    messages.append(Message(role="user", content=user_input))
    context.history = messages
    result = RunResult(
        run_id=context.run_id,
        status=RunStatus.QUEUED,
        agent_name=agent.name,
        model=model.name,
        provider=getattr(model, "provider", None),
        endpoint=model.endpoint,
        input=user_input,
        started_at=datetime.now(UTC),
        metadata=dict(config.metadata),
        output_schema=output.schema if output is not None else None,
    )
    result.messages = messages  # the same list: the loop appends, the result sees it
    return _Prepared(config, context, result, model, cache, spec)


def _tool_limits(agent: Agent, config: RunConfig, run_id: str) -> ToolLimits:
    return ToolLimits(
        max_result_chars=config.max_tool_result_chars,
        approver=config.approver if config.approver is not None else agent.approver,
        approval_timeout=config.approval_timeout,
        run_id=run_id,
        agent=agent.name,
    )


class _Run:  # pyright: ignore[reportUnusedClass] - the entry points (api.py, streaming.py) make it
    """One run: its arguments checked, then its parts (see the module's docstring)."""

    def __init__(
        self,
        agent: Agent,
        user_input: str,
        config: RunConfig | None,
        context: RunContext | None,
        history: HistoryInput | None,
    ) -> None:
        config, self.context, self.result, model, cache, spec = _prepare(agent, user_input, config, context, history)
        self.config, self.agent = config, agent
        context, result, messages = self.context, self.result, self.result.messages
        self.hooks = observers.RunHooks(observers.for_run(config.observers), result)
        self.events = RunEvents(self.hooks, result, config)
        self.limits = RunLimits(config)
        self.tool_calls = ToolExecutor(
            {t.name: t for t in agent.tools},
            agent.requires_approval,
            _tool_limits(agent, config, result.run_id),
            context,
            self.limits.clock,
            self.events,
            result.tool_calls,
            messages,
        )
        # The run's own settings (RunConfig.model_settings, e.g. compare's seed) over the agent's.
        settings = MappingProxyType({**agent.model_settings, **config.model_settings})
        self.turns = TurnLoop(
            ModelRequest(model, tuple(agent.tool_definitions()), settings, spec),
            agent.output,
            messages,
            result,
            context,
            max_turns=config.max_turns,
            stop_on_tool_error=config.stop_on_tool_error,
            cache=cache,
            events=self.events,
            limits=self.limits,
            tool_calls=self.tool_calls,
        )
        self.failure: Exception | None = None
        """The exception that ended the run FAILED (run_stream raises a copy carrying the result)."""

    @property
    def model(self) -> Model:
        """The model the run calls."""
        return self.turns.request.model

    async def execute(self) -> RunResult:
        """Run to the end; return the result (raise TimeoutError / CancelledError as documented)."""
        result, hooks, turns, agent = self.result, self.hooks, self.turns, self.agent
        loop = asyncio.get_running_loop()
        started = self._start(loop)
        raised: BaseException | None = None
        try:
            if agent.mcp_servers:  # their tools: listed once per event loop (openstackai_nb.mcp)
                self.tool_calls.tools = tools = {t.name: t for t in await agent.resolve_tools()}
                turns.request.tools = tuple(t.definition for t in tools.values())
            self.limits.start(loop.time())
            await turns.run()
        except (TurnTimeout, asyncio.CancelledError, Exception) as exc:  # noqa: BLE001 - every end is a status
            raised = self._end_early(exc)
        finally:
            if started is not None:
                started.cancel()
            result.elapsed_time = time.monotonic() - self.events.t0
            if result.status is not RunStatus.COMPLETED:
                result.final_output = result.output_text = turns.partial_output()
            ended = hooks.run_ended(self.failure) if hooks.on_run_ended else None
        # "done" goes out once what the observers' run_ended returned is awaited (the history's
        # group commit): a kernel killed after a run returned has not lost it. Inside
        # `observers.batch()` (compare) the wait moves to the end of the whole batch of runs.
        try:
            if ended:
                await observers.settle_all(ended, result.run_id)
        finally:
            if self.events.listening:
                self.events.send(StreamEvent.done(result))
        if raised is not None:
            raise raised
        return result

    def _start(self, loop: asyncio.AbstractEventLoop) -> asyncio.TimerHandle | None:
        """The run is RUNNING: its clock starts, its observers are told (and may wrap its model)."""
        hooks, turns = self.hooks, self.turns
        self.context._start = self.events.start()  # pyright: ignore[reportPrivateUsage] - the run sets its context's clock
        self.result.status = RunStatus.RUNNING
        if hooks.on_run_started:
            hooks.call(hooks.on_run_started, self.agent)
        if hooks.on_wrap_model:  # e.g. the cassette's RecordingModel, while recording
            turns.request.model = hooks.wrap_model(turns.request.model)
        # Short runs are written once, when they end; a run still going after a quarter second
        # is written as RUNNING then (so a crash mid-run stays visible) at no cost to fast runs.
        return hooks.still_running_later(loop)

    def _end_early(self, exc: BaseException) -> BaseException | None:
        """Set the status a run ends with when its turns did not finish; return what to raise after "done"."""
        result = self.result
        if isinstance(exc, TurnTimeout):
            message = self._fail(self.limits.timeout_message(exc, result.turn_count))
            return RunTimeoutError(message, result=result)
        if isinstance(exc, asyncio.CancelledError):
            self.tool_calls.record_cut_off("before the run was cancelled", "cancelled")
            result.status = RunStatus.CANCELLED
            result.error = "cancelled (interrupted before the run finished)"
            if self.events.listening:
                self.events.send(StreamEvent("error", content="cancelled", error=result.error, turn=result.turn_count))
            return asyncio.CancelledError()
        self.failure = exc if isinstance(exc, Exception) else None  # e.g. a FunctionModel bug: FAILED
        self._fail(str(exc) if isinstance(exc, AgentError) else f"{type(exc).__name__}: {exc}")
        return None

    def _fail(self, message: str) -> str:
        """End the run FAILED with `message` (scrubbed; returned as recorded)."""
        message = scrub(message)
        self.result.status = RunStatus.FAILED
        self.result.error = message
        if self.events.listening:
            first = message.splitlines()[0]
            self.events.send(StreamEvent("error", content=first, error=message, turn=self.result.turn_count))
        return message
