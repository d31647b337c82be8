"""The observer interface (runner/observers.py): which hooks a run calls, when, and what a failing observer costs."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message
from openstackai_nb.models import FunctionModel, replay
from openstackai_nb.models.base import Model
from openstackai_nb.models.function import AgentInfo, Reply, call
from openstackai_nb.results import RunResult, Span
from openstackai_nb.runner import RunConfig, observers
from openstackai_nb.runner.executor import _Run
from openstackai_nb.runner.observers import RunObserver
from openstackai_nb.store import RunHistory
from tests._aio import arun


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _adds_then_answers(messages: list[Message], info: AgentInfo) -> Reply | str:
    if info.turn == 1:
        return Reply(tool_calls=[call("add", a=2, b=3)])
    return f"the sum is {messages[-1].content}"


def _agent() -> Agent:
    return Agent(name="Adder", model=FunctionModel(_adds_then_answers, name="adder"), tools=[add])


class Every(RunObserver):
    """Overrides every hook of a run and writes down each call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def run_started(self, run: RunResult, agent: Agent) -> None:
        self.calls.append(f"run_started {run.status.value} {agent.name}")

    def wrap_model(self, run: RunResult, model: Model) -> Model:
        self.calls.append("wrap_model")
        return model

    def span_started(self, run: RunResult, span: Span) -> None:
        self.calls.append(f"span_started {span.kind}")

    def span_ended(self, run: RunResult, span: Span) -> None:
        self.calls.append(f"span_ended {span.kind} {span.outcome}")

    def event(self, run: RunResult, event: StreamEvent) -> None:
        if event.type != "text":  # text deltas: one per word
            self.calls.append(f"event {event.type}")

    def run_ended(self, run: RunResult, failure: BaseException | None) -> None:
        self.calls.append(f"run_ended {run.status.value}")


def test_hooks_in_the_order_of_a_run_with_a_tool_call() -> None:
    seen = Every()
    result = Runner.run_sync(_agent(), "add 2 and 3", config=RunConfig(observers=[seen]))
    assert result.status is RunStatus.COMPLETED and result.final_output == "the sum is 5"
    assert seen.calls == [
        "run_started RUNNING Adder",
        "wrap_model",
        "event turn",
        "span_started turn",
        "span_started model",
        "span_ended model ok",
        "span_started tool",
        "event tool_call",
        "span_ended tool ok",
        "event tool_result",
        "span_ended turn ok",
        "event turn",
        "span_started turn",
        "span_started model",
        "span_ended model ok",
        "span_ended turn ok",
        "run_ended COMPLETED",
        "event done",
    ]


class OnlyEnd(RunObserver):
    def __init__(self) -> None:
        self.ended: list[RunResult] = []

    def run_ended(self, run: RunResult, failure: BaseException | None) -> None:
        self.ended.append(run)


def test_only_overridden_hooks_are_bound_and_no_event_is_built_without_a_view() -> None:
    only = OnlyEnd()
    run = _Run(_agent(), "add 2 and 3", RunConfig(observers=[only]), None, None)
    hooks = run.hooks
    assert hooks.on_run_ended and not any(
        (hooks.on_run_started, hooks.on_wrap_model, hooks.on_span_started, hooks.on_span_ended, hooks.on_event)
    )  # nobody overrides `event`: the loop builds no StreamEvent
    result = Runner.run_sync(_agent(), "add 2 and 3", config=RunConfig(observers=[only]))
    assert only.ended == [result]


class Broken(RunObserver):
    def span_ended(self, run: RunResult, span: Span) -> None:
        raise RuntimeError("observer bug")

    def run_ended(self, run: RunResult, failure: BaseException | None) -> None:
        raise ValueError("another observer bug")


def test_a_raising_observer_never_breaks_a_run_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "openstackai_nb")
    after = OnlyEnd()
    config = RunConfig(observers=[Broken(), after])
    results = [Runner.run_sync(_agent(), "add 2 and 3", config=config) for _ in range(2)]
    assert [r.status for r in results] == [RunStatus.COMPLETED] * 2 and after.ended == results
    said = [r.getMessage() for r in caplog.records if "observer Broken failed" in r.getMessage()]
    assert len(said) == 2, said  # once per hook, however many runs and spans
    assert any("in span_ended" in m and "RuntimeError: observer bug" in m for m in said)
    assert any("in run_ended" in m and "ValueError: another observer bug" in m for m in said)


def test_observers_empty_records_nothing_in_the_history(session_history: RunHistory) -> None:
    quiet = Runner.run_sync(_agent(), "add 2 and 3", config=RunConfig(observers=[]))
    loud = Runner.run_sync(_agent(), "add 2 and 3")
    assert quiet.status is loud.status is RunStatus.COMPLETED
    assert [r.run_id for r in session_history] == [loud.run_id]


def test_session_defaults_replaced_and_restored(session_history: RunHistory) -> None:
    mine = OnlyEnd()
    previous = observers.set_default_observers([mine])
    try:
        first = Runner.run_sync(_agent(), "add 2 and 3")
        own = OnlyEnd()
        second = Runner.run_sync(_agent(), "add 2 and 3", config=RunConfig(observers=[own]))  # the run's own win
    finally:
        observers.set_default_observers(previous)
    third = Runner.run_sync(_agent(), "add 2 and 3")
    assert mine.ended == [first] and own.ended == [second]
    assert [r.run_id for r in session_history] == [third.run_id]


def test_observers_must_be_observers() -> None:
    from openstackai_nb.errors import ConfigError

    with pytest.raises(ConfigError, match="observers"):
        RunConfig(observers=[print])
    assert "observers" not in RunConfig(observers=[OnlyEnd()]).model_dump()


def test_a_view_is_an_observer_of_its_run_only() -> None:
    seen = Every()

    async def go() -> list[str]:
        stream = StreamingRunner(_agent()).run("add 2 and 3", config=RunConfig(observers=[seen]))
        return [e.type async for e in stream if e.type != "text"]

    types = arun(go())
    assert types == ["turn", "tool_call", "tool_result", "turn", "done"]
    assert [c for c in seen.calls if c.startswith("event")] == [f"event {t}" for t in types]


def test_importing_the_package_installs_nothing() -> None:
    code = (
        "import sys, openstackai_nb\n"
        "from openstackai_nb.runner import observers, caching\n"
        "mods = ['openstackai_nb.store', 'openstackai_nb.store.session', 'openstackai_nb.tracing',\n"
        "        'openstackai_nb.cache', 'openstackai_nb.models.recording', 'openstackai_nb.runner.cassette']\n"
        "print([m for m in mods if m in sys.modules], observers._session, caching._opener is caching._UNSET)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[] None True", out.stderr


def _echo_later(messages: list[Message], info: AgentInfo) -> str:
    return f"echo {messages[-1].content}"


def test_recording_captures_exactly_the_runs_started_inside_it(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    agent = Agent(name="Echo", model=FunctionModel(_echo_later, name="echo", delay=0.01))

    async def go() -> tuple[RunResult, RunResult]:
        gate = asyncio.Event()

        async def elsewhere() -> RunResult:  # another task, made before the block: not recorded
            await gate.wait()
            return await Runner.run_async(agent, "outside the block")

        other = asyncio.create_task(elsewhere())
        with replay.recording(cassette):
            gate.set()
            inside = await Runner.run_async(agent, "inside the block")
            outside = await other  # ran concurrently, while the block was open
        return inside, outside

    inside, outside = arun(go())
    assert inside.status is outside.status is RunStatus.COMPLETED
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    asked = [e["request"]["last_user"] for e in lines if e["type"] == "exchange"]
    assert asked == ["inside the block"]


def test_recording_in_a_thread_follows_runs_started_there(tmp_path: Path) -> None:
    """`with recording():` around run_sync: the run is started on the private loop in the block's context."""
    cassette = tmp_path / "c.jsonl"
    agent = Agent(name="Echo", model=FunctionModel(_echo_later, name="echo"))
    with replay.recording(cassette):
        Runner.run_sync(agent, "recorded")
    Runner.run_sync(agent, "not recorded")
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert [e["request"]["last_user"] for e in lines if e["type"] == "exchange"] == ["recorded"]


class Slow(RunObserver):
    """Its record is stored a little after the run ended (as the history's writer thread does)."""

    def __init__(self) -> None:
        self.stored: list[str] = []

    def run_ended(self, run: RunResult, failure: BaseException | None) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def store() -> None:
            self.stored.append(run.run_id)
            done.set_result(None)

        loop.call_later(0.05, store)
        return done


def test_run_ended_awaitable_is_awaited_before_the_run_returns() -> None:
    slow = Slow()
    result = Runner.run_sync(_agent(), "add 2 and 3", config=RunConfig(observers=[slow]))
    assert slow.stored == [result.run_id]


def test_inside_a_batch_the_wait_moves_to_its_end() -> None:
    slow = Slow()
    config = RunConfig(observers=[slow])

    async def go() -> tuple[list[str], list[str]]:
        async with observers.batch([]):
            result = await Runner.run_async(_agent(), "add 2 and 3", config=config)
            during = list(slow.stored)
        return during, [result.run_id]

    during, ran = arun(go())
    assert during == [] and slow.stored == ran


def test_deprecated_recorder_shims_warn_and_work(session_history: RunHistory) -> None:
    from openstackai_nb.runner import RunRecorder, recorder, set_recorder

    class Collect(RunRecorder):
        def __init__(self) -> None:
            self.runs: list[RunResult] = []

        def finished(self, result: RunResult) -> None:
            self.runs.append(result)

    collect = Collect()
    with pytest.warns(DeprecationWarning, match="set_recorder is deprecated"):
        previous = set_recorder(collect)
    try:
        mine = Runner.run_sync(_agent(), "add 2 and 3")
        with pytest.warns(DeprecationWarning):
            assert recorder.get_recorder() is collect

        async def batched() -> None:
            with pytest.warns(DeprecationWarning, match="commits_deferred"):
                async with recorder.commits_deferred():
                    await Runner.run_async(_agent(), "add 2 and 3")

        arun(batched())
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            set_recorder(previous)
    back = Runner.run_sync(_agent(), "add 2 and 3")
    assert collect.runs[0] is mine and len(collect.runs) == 2
    assert [r.run_id for r in session_history] == [back.run_id]  # the history's observer is back
