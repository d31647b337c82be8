"""Runs stopped halfway against a real llama-server: cancelled by us, or the server killed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.runner import RunConfig, RunHandle, StreamingRunner
from tests._aio import arun
from tests.local_model._llama import LlamaServer
from tests.local_model.conftest import require_local_model

pytestmark = pytest.mark.local_model

LONG = "Write a very long story about a dragon, a knight and a village, with many details."
SETTINGS = {"temperature": 0, "seed": 42}


def agent(max_tokens: int) -> Agent:
    return Agent(name="local", model="llamacpp:smollm2", model_settings={**SETTINGS, "max_tokens": max_tokens})


def _text_until(handle: RunHandle, pieces: int) -> list[str]:
    """Follow the run until `pieces` text deltas arrived (or it ended)."""
    texts: list[str] = []
    deadline = time.monotonic() + 60
    while len(texts) < pieces and not handle.finished and time.monotonic() < deadline:
        texts += [e.content for e in handle.next_batch(0.5) if e.type == "text"]
    return texts


def test_cancel_a_run_handle_mid_stream_keeps_the_text_and_the_server_answers_next(llamacpp: LlamaServer) -> None:
    handle = Runner.start(agent(max_tokens=400), LONG)
    seen = _text_until(handle, 5)
    assert len(seen) >= 5 and not handle.finished, "the answer ended before it could be cancelled"
    handle.cancel()
    result = handle.result()
    assert result.status is RunStatus.CANCELLED
    assert result.final_output and result.final_output.startswith("".join(seen))  # partial text kept
    assert result.usage.completion_tokens < 400
    after = Runner.run_sync(agent(max_tokens=8), "Hi!")
    assert after.status is RunStatus.COMPLETED and after.final_output, after.error


def test_cancel_the_task_of_a_stream(llamacpp: LlamaServer) -> None:
    async def main() -> tuple[list[str], object]:
        seen: list[str] = []
        done: list[object] = []

        async def consume() -> None:
            async for event in StreamingRunner(agent(max_tokens=400)).run(
                LONG, config=RunConfig(run_id="run_local_cancel")
            ):
                if event.type == "text":
                    seen.append(event.content or "")
                elif event.type == "done":
                    done.append(event.run_result)

        task = asyncio.create_task(consume())
        while len(seen) < 5 and not task.done():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The connection was closed cleanly: the next run on this loop is answered.
        after = await Runner.run_async(agent(max_tokens=8), "Hi!")
        return seen, after

    seen, after = arun(main())
    assert len(seen) >= 5
    assert after.status is RunStatus.COMPLETED, after.error  # type: ignore[attr-defined]

    import openstackai_nb

    cancelled = next(r for r in openstackai_nb.history if r.run_id == "run_local_cancel")
    assert cancelled.status is RunStatus.CANCELLED
    assert cancelled.final_output and cancelled.final_output.startswith("".join(seen))


@pytest.fixture
def private_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LlamaServer]:
    """A second llama-server of this test's own (one slot), to be killed."""
    require_local_model()
    server = LlamaServer.start(slots=1, ctx_size=1024)
    monkeypatch.setenv("LLAMACPP_BASE_URL", server.url)
    yield server
    server.stop()


def test_server_killed_mid_answer_fails_clearly_without_hanging(private_server: LlamaServer) -> None:
    handle = Runner.start(agent(max_tokens=600), LONG, config=RunConfig(max_time=60, timeout_per_turn=30))
    seen = _text_until(handle, 5)
    assert len(seen) >= 5 and not handle.finished, "the answer ended before the server could be killed"
    private_server.kill()
    assert handle.wait(45), "the run hangs after its server died"
    result = handle.result()
    assert result.status is RunStatus.FAILED
    error = result.error or ""
    assert f"the connection to {private_server.url} dropped mid-stream" in error, error
    assert result.final_output and result.final_output.startswith("".join(seen))  # what streamed is kept
