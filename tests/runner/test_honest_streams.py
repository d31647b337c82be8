"""run_stream never ends silently; reasoning and finish reasons through the offline models;
the seed's constructors accept exactly the keywords the seed shows."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

import openstackai_nb
from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner
from openstackai_nb.errors import MaxTurnsExceeded, ModelError, ToolError
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.events import StreamEvent
from openstackai_nb.messages import Message, ModelDelta
from openstackai_nb.models import FunctionModel, Model
from openstackai_nb.models.base import ModelRequestParameters
from openstackai_nb.models.function import Reply, call
from openstackai_nb.render import run_text
from openstackai_nb.runner import RunConfig, RunContext, RunResult
from tests._aio import arun


async def stream_all(agent: Agent, prompt: str = "go", **kw: Any) -> tuple[list[str], BaseException | None]:
    chunks: list[str] = []
    try:
        async for piece in Runner.run_stream(agent, prompt, **kw):
            chunks.append(piece)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return chunks, exc
    return chunks, None


def fails(x: int) -> int:
    """A tool that fails."""
    raise ValueError("no")


def test_run_stream_raises_the_runs_own_error_with_its_result() -> None:
    agent = Agent(name="T", tools=[fails], model=FunctionModel(lambda m, i: call("fails", x=1)))
    chunks, exc = arun(stream_all(agent, config=RunConfig(stop_on_tool_error=True)))
    assert chunks == [] and isinstance(exc, ToolError) and "stop_on_tool_error=True" in str(exc)
    assert exc.result is not None and exc.result.status is RunStatus.FAILED and exc.result.error == str(exc)

    chunks, exc = arun(stream_all(agent, config=RunConfig(max_turns=2)))
    assert isinstance(exc, MaxTurnsExceeded) and exc.result is not None and exc.result.turn_count == 2
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is MaxTurnsExceeded and again.result == exc.result


def test_run_stream_raises_a_model_error_for_a_model_functions_bug() -> None:
    def buggy(messages: list[Message], info: Any) -> str:
        return 1 / 0  # type: ignore[return-value]

    chunks, exc = arun(stream_all(Agent(name="B", model=FunctionModel(buggy))))
    assert isinstance(exc, ModelError) and "ZeroDivisionError" in str(exc)
    assert isinstance(exc.__cause__, ZeroDivisionError)  # the user's traceback is kept
    assert exc.result is not None and exc.result.status is RunStatus.FAILED


def test_run_stream_keeps_partial_text_then_raises() -> None:
    class Breaks(Model):
        name = "breaks"

        async def stream(
            self, messages: Sequence[Message], params: ModelRequestParameters
        ) -> AsyncIterator[ModelDelta]:
            yield ModelDelta("text", text="half an ")
            raise ModelError("the connection dropped")

    chunks, exc = arun(stream_all(Agent(name="P", model=Breaks())))
    assert chunks == ["half an "] and isinstance(exc, ModelError)
    assert exc.result is not None and exc.result.final_output == "half an "


def test_run_stream_timeout_and_completed_runs_are_unchanged() -> None:
    async def slow(messages: list[Message], info: Any) -> str:
        await asyncio.sleep(10)
        return "late"

    chunks, exc = arun(stream_all(Agent(name="S", model=FunctionModel(slow)), config=RunConfig(max_time=0.2)))
    assert isinstance(exc, RunTimeoutError) and exc.result is not None
    chunks, exc = arun(stream_all(Agent(name="S", model="scripted"), "say 5 words"))
    assert exc is None and len("".join(chunks).split()) == 5


def test_a_model_that_yields_non_text_fails_the_run() -> None:
    class ListText(Model):
        name = "list-text"

        async def stream(
            self, messages: Sequence[Message], params: ModelRequestParameters
        ) -> AsyncIterator[ModelDelta]:
            yield ModelDelta("text", text=[{"type": "text", "text": "x"}])  # type: ignore[arg-type]

    async def main() -> list[StreamEvent]:
        return [e async for e in StreamingRunner(Agent(name="L", model=ListText())).run("go")]

    events = arun(main())
    assert all(e.type != "text" for e in events)
    done = events[-1].run_result
    assert done is not None and done.status is RunStatus.FAILED and "not a str" in (done.error or "")

    r = Runner.run_sync(Agent(name="L", model=FunctionModel(lambda m, i: Reply(text=["a"]))), "go")  # type: ignore[arg-type]
    assert r.status is RunStatus.FAILED and "Reply.text must be a str" in (r.error or "")


def test_function_model_reasoning_and_finish_reason() -> None:
    def thinker(messages: list[Message], info: Any) -> Reply:
        return Reply(text="Cut sho", reasoning="Let me count the words.", finish_reason="length")

    async def main() -> list[StreamEvent]:
        return [e async for e in StreamingRunner(Agent(name="R", model=FunctionModel(thinker))).run("go")]

    events = arun(main())
    kinds = [e.type for e in events]
    assert kinds.index("reasoning") < kinds.index("text")
    r = events[-1].run_result
    assert r is not None and r.status is RunStatus.COMPLETED
    assert (r.final_output, r.reasoning, r.finish_reason) == ("Cut sho", "Let me count the words.", "length")
    assert "cut at the token limit" in run_text(r)
    assert RunResult.from_dict(r.to_dict()) == r
    turns = openstackai_nb.history.turns_dataframe()
    row = turns[turns["run_id"] == r.run_id].iloc[0]
    assert row["reasoning"] == "Let me count the words." and row["finish_reason"] == "length"


def test_reasoning_of_every_turn_is_kept() -> None:
    def model(messages: list[Message], info: Any) -> Reply:
        if info.turn == 1:
            return Reply(reasoning="I need the tool.", tool_calls=[call("fails", x=1)])
        return Reply(text="It failed.", reasoning="The tool failed.")

    r = Runner.run_sync(Agent(name="R", tools=[fails], model=FunctionModel(model)), "go")
    assert r.reasoning == "I need the tool.\n\nThe tool failed." and r.final_output == "It failed."
    assert r.finish_reason == "stop"
    spans = [s.attributes for s in r.trace if s.kind == "model"]
    assert [(a["reasoning"], a["finish_reason"]) for a in spans] == [
        ("I need the tool.", "tool_calls"),
        ("The tool failed.", "stop"),
    ]


def test_a_failed_model_call_leaves_no_earlier_finish_reason() -> None:
    def model(messages: list[Message], info: Any) -> Reply:
        if info.turn == 1:
            return Reply(tool_calls=[call("fails", x=1)])
        raise RuntimeError("the second call broke")

    r = Runner.run_sync(Agent(name="F", tools=[fails], model=FunctionModel(model)), "go")
    assert r.status is RunStatus.FAILED and r.finish_reason is None


def test_scripted_runs_finish_with_stop() -> None:
    r = Runner.run_sync(Agent(name="S", model="scripted"), "Hello!")
    assert r.finish_reason == "stop" and r.reasoning is None


# -- the seed's constructors -------------------------------------------------------------------
def test_seed_run_context() -> None:
    ctx = RunContext(run_id="run-123", turn_count=0, variables={"user": "Alice"}, history=[])
    assert (ctx.run_id, ctx.turn_count, ctx.variables, ctx.history) == ("run-123", 0, {"user": "Alice"}, [])
    r = Runner.run_sync(Agent(name="C", model="scripted"), "Hi", context=ctx)
    assert r.run_id == "run-123" and ctx.turn_count == 1
    assert [m.role for m in ctx.history] == ["system", "user", "assistant"]


def test_run_context_history_is_the_conversation_so_far() -> None:
    def model(messages: list[Message], info: Any) -> str:
        return " | ".join(m.content or "" for m in messages if m.role == "user")

    ctx = RunContext(history=[{"role": "user", "content": "My name is Ada."}, {"role": "assistant", "content": "Hi"}])
    r = Runner.run_sync(Agent(name="C", model=FunctionModel(model)), "Who am I?", context=ctx)
    assert r.final_output == "My name is Ada. | Who am I?"
    with pytest.raises(openstackai_nb.errors.ConfigError, match="turn_count"):
        RunContext(turn_count=-1)


def test_seed_constructors_accept_the_documented_keywords() -> None:
    def fn(city: str) -> str:
        """A tool."""
        return city

    agent = Agent(name="Assistant", instructions="You are helpful.", tools=[fn], model="scripted")
    config = RunConfig(
        max_turns=10, max_time=300.0, timeout_per_turn=60.0, stop_on_tool_error=False, verbose=False,
        trace_enabled=True, run_id="run_seed_keywords", metadata={},
    )  # fmt: skip
    context = RunContext(run_id="run_seed_keywords", turn_count=0, variables={"user": "Alice"}, history=[])
    result = Runner.run_sync(agent, "Hello!", config=config, history=[], context=context)
    assert result.status is RunStatus.COMPLETED

    async def main() -> None:
        r = await Runner.run_async(agent, "Hello!", config=RunConfig(), history=[], context=RunContext())
        assert r.status is RunStatus.COMPLETED
        async for _ in Runner.run_stream(agent, "Tell me a story", config=RunConfig(), history=[], context=None):
            pass
        async for _ in StreamingRunner(agent).run("Write a poem", config=RunConfig(), history=[], context=None):
            pass

    arun(main())
