"""run_async / run_sync semantics with offline models (HTTP lives in tests/models)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

import openstackai_nb
from openstackai_nb import Agent, Runner, RunResult, RunStatus
from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import Message
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply, call
from openstackai_nb.runner import RunConfig


def echo_model(messages: list[Message], info: AgentInfo) -> str:
    return f"echo: {messages[-1].content}"


def test_result_fields_and_round_trip() -> None:
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    def model(messages: list[Message], info: AgentInfo) -> Reply:
        if messages[-1].role == "user":
            return Reply(text="Let me add. ", tool_calls=[call("add", a=1, b=2)])
        return Reply(text=f"The sum is {messages[-1].content}.")

    agent = Agent(name="Calc", instructions="Add.", tools=[add], model=FunctionModel(model, name="fn"))
    r = Runner.run_sync(agent, "1+2?", config=RunConfig(metadata={"k": "v"}, run_id="run_fixed"))
    assert (r.status, r.final_output, r.turn_count, r.run_id) == (RunStatus.COMPLETED, "The sum is 3.", 2, "run_fixed")
    assert (r.agent_name, r.model, r.input, r.metadata, r.error) == ("Calc", "fn", "1+2?", {"k": "v"}, None)
    assert r.usage.requests == 2 and r.usage.completion_tokens > 0
    tc = r.tool_calls[0]
    assert (tc.name, tc.arguments, tc.result, tc.turn, tc.ok) == ("add", {"a": 1, "b": 2}, 3, 1, True)
    assert [m.role for m in r.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert [(s.kind, s.turn, s.outcome) for s in r.trace] == [
        ("model", 1, "ok"), ("tool", 1, "ok"), ("turn", 1, "ok"), ("model", 2, "ok"), ("turn", 2, "ok"),
    ]  # fmt: skip
    back = RunResult.from_dict(r.to_dict())
    assert back == r and RunResult.model_validate_json(r.to_json()) == r
    expected = f"RunResult(status=COMPLETED, turns=2, time={r.elapsed_time:.2f}s, tool_calls=1, output='The sum is 3.')"
    assert repr(r) == expected


def test_trace_disabled() -> None:
    r = Runner.run_sync(Agent(name="E", model=FunctionModel(echo_model)), "x", config=RunConfig(trace_enabled=False))
    assert r.trace == [] and r.final_output == "echo: x"


def test_bad_arguments_raise_before_anything_runs() -> None:
    agent = Agent(name="E", model=FunctionModel(echo_model))
    before = len(openstackai_nb.history)
    with pytest.raises(ConfigError, match="input must be a string"):
        Runner.run_sync(agent, 42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be an Agent"):
        Runner.run_sync("agent", "hi")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="config must be a RunConfig"):
        Runner.run_sync(agent, "hi", config={"max_turns": 2})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"history\[0\]"):
        Runner.run_sync(agent, "hi", history=[42])  # type: ignore[list-item]
    assert len(openstackai_nb.history) == before


def test_multi_turn_history_from_dicts() -> None:
    seen: list[list[str]] = []

    def model(messages: list[Message], info: AgentInfo) -> str:
        seen.append([f"{m.role}:{m.content}" for m in messages])
        return "ok"

    agent = Agent(name="C", instructions="sys", model=FunctionModel(model))
    old = [
        {"role": "system", "content": "old"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "hi"},
    ]
    Runner.run_sync(agent, "second", history=old)
    assert seen[0] == ["system:sys", "user:first", "assistant:hi", "user:second"]  # old system message dropped


def test_run_sync_inside_a_running_event_loop() -> None:
    """What a notebook cell does: call run_sync while the kernel's loop is running."""
    agent = Agent(name="E", model=FunctionModel(echo_model))

    async def cell() -> RunResult:
        return Runner.run_sync(agent, "from a cell")

    assert asyncio.run(cell()).final_output == "echo: from a cell"


def test_nested_run_sync_in_a_sync_tool_works() -> None:
    inner = Agent(name="Inner", model=FunctionModel(echo_model))

    def ask_inner(q: str) -> str:
        """Ask another agent."""
        return Runner.run_sync(inner, q).final_output or ""

    outer = Agent(name="Outer", tools=[ask_inner], model="scripted")
    r = Runner.run_sync(outer, "Please ask_inner about Paris")
    assert r.tool_calls[0].result == "echo: Paris"


def test_run_sync_from_an_async_tool_is_a_clear_tool_error() -> None:
    inner = Agent(name="Inner", model=FunctionModel(echo_model))

    async def ask_inner(q: str) -> str:
        """Ask another agent (wrongly, with run_sync)."""
        return Runner.run_sync(inner, q).final_output or ""

    r = Runner.run_sync(Agent(name="Outer", tools=[ask_inner], model="scripted"), "ask_inner about Paris")
    assert "use `await Runner.run_async(...)` there instead" in (r.tool_calls[0].error or "")


def test_keyboard_interrupt_cancels_the_run_and_records_it() -> None:
    started = threading.Event()

    async def slow_model(messages: list[Message], info: AgentInfo) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    agent = Agent(name="Slow", model=FunctionModel(slow_model))
    threading.Thread(target=lambda: (started.wait(10), time.sleep(0.05), os.kill(os.getpid(), signal.SIGINT))).start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        Runner.run_sync(agent, "hi", config=RunConfig(run_id="run_interrupted"))
    assert time.monotonic() - t0 < 20
    r = next(r for r in openstackai_nb.history if r.run_id == "run_interrupted")
    assert r.status is RunStatus.CANCELLED and r.error


def test_model_function_error_fails_the_run() -> None:
    def broken(messages: list[Message], info: AgentInfo) -> str:
        raise RuntimeError("model bug")

    r = Runner.run_sync(Agent(name="B", model=FunctionModel(broken)), "x")
    assert r.status is RunStatus.FAILED and r.error == "RuntimeError: model bug"
