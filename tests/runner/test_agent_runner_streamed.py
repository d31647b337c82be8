from __future__ import annotations

import asyncio
import dataclasses

import pytest

import openstackai_nb
from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner
from openstackai_nb.events import StreamEvent
from openstackai_nb.models import FunctionModel
from openstackai_nb.runner import RunConfig
from tests._aio import arun


def lookup(key: str) -> str:
    """Look a key up."""
    return f"value of {key}"


def test_event_sequence() -> None:
    agent = Agent(name="S", tools=[lookup], model="scripted")

    async def main() -> list[StreamEvent]:
        return [e async for e in StreamingRunner(agent).run("lookup Alpha")]

    events = arun(main())
    kinds = [e.type for e in events]
    assert kinds[:4] == ["turn", "tool_call", "tool_result", "turn"]
    assert set(kinds[4:-1]) == {"text"} and kinds[-1] == "done"
    call, result = events[1], events[2]
    assert (call.tool_name, call.arguments, call.call_id, call.turn) == ("lookup", {"key": "Alpha"}, result.call_id, 1)
    assert result.result == "value of Alpha" and result.error is None and result.duration is not None
    text = "".join(e.content for e in events if e.type == "text")
    done = events[-1].run_result
    assert done is not None and done.final_output == text and done.status is RunStatus.COMPLETED
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].content = "x"  # type: ignore[misc]


def test_run_stream_yields_text_deltas() -> None:
    agent = Agent(name="S", model="scripted")

    async def main() -> list[str]:
        return [c async for c in Runner.run_stream(agent, "a story in 12 words")]

    chunks = arun(main())
    assert len(chunks) == 12 and len("".join(chunks).split()) == 12


def test_breaking_out_cancels_the_run() -> None:
    agent = Agent(name="S", model="scripted:0.01")

    async def main() -> None:
        async for event in StreamingRunner(agent).run("write 500 words", config=RunConfig(run_id="run_broken_off")):
            if event.type == "text":
                break
        await asyncio.sleep(0)

    arun(main())
    r = next(r for r in openstackai_nb.history if r.run_id == "run_broken_off")
    assert r.status is RunStatus.CANCELLED


def test_timeout_is_raised_after_the_done_event() -> None:
    async def slow(messages, info):  # type: ignore[no-untyped-def]
        await asyncio.sleep(10)
        return "late"

    agent = Agent(name="S", model=FunctionModel(slow))

    async def main() -> list[str]:
        seen: list[str] = []
        with pytest.raises(TimeoutError):
            async for e in StreamingRunner(agent).run("x", config=RunConfig(max_time=0.2)):
                seen.append(e.type)
        return seen

    assert arun(main()) == ["turn", "error", "done"]
