"""Runner.start: a run on the private loop followed from this thread, through the one event pump."""

from __future__ import annotations

import threading
import time

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.runner import RunHandle


def _events_until_done(handle: RunHandle) -> list:
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch = handle.next_batch(0.5)
        seen.extend(batch)
        if any(e.type == "done" for e in batch):
            return seen
    raise AssertionError(f"no done event: {seen}")


def test_start_streams_the_same_events_as_streaming_runner() -> None:
    handle = Runner.start(Agent(name="A", model="scripted"), "say 5 words")
    assert isinstance(handle, RunHandle) and handle.model == "scripted" and handle.agent == "A"
    events = _events_until_done(handle)
    assert handle.wait(10) and handle.finished
    kinds = [e.type for e in events]
    assert kinds[0] == "turn" and kinds[-1] == "done" and "text" in kinds
    result = handle.result()
    assert result.status is RunStatus.COMPLETED and result.run_id == handle.run_id
    assert "".join(e.content for e in events if e.type == "text") == result.final_output
    assert handle.outcome() is None


def test_cancel_delivers_the_cancelled_done_event() -> None:
    started = threading.Event()

    async def slow(messages, info):
        import asyncio

        started.set()
        await asyncio.sleep(30)
        return "never"

    handle = Runner.start(Agent(name="S", model=FunctionModel(slow)), "wait")
    assert started.wait(10)
    handle.cancel()
    assert handle.finished
    done = [e for e in handle.next_batch(1.0) if e.type == "done"]
    assert done and done[0].run_result is not None
    assert done[0].run_result.status is RunStatus.CANCELLED
    assert handle.result().status is RunStatus.CANCELLED


def test_bad_arguments_raise_before_anything_runs() -> None:
    with pytest.raises(ConfigError):
        Runner.start(Agent(name="A", model="scripted"), 42)  # type: ignore[arg-type]


def test_result_before_the_end_is_an_error() -> None:
    gate = threading.Event()

    def waits(messages, info):
        gate.wait(10)
        return "ok"

    handle = Runner.start(Agent(name="W", model=FunctionModel(waits)), "x")
    try:
        with pytest.raises(RuntimeError, match="wait"):
            handle.result()
    finally:
        gate.set()
    assert handle.wait(10) and handle.result().final_output == "ok"
