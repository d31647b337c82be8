"""Record runs against the real loopback server, stop it, replay them offline: same results."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner
from openstackai_nb.errors import ConfigError, ReplayMissError
from openstackai_nb.messages import Message
from openstackai_nb.models import ModelRequestParameters, replay, resolve_model
from openstackai_nb.models.function import FunctionModel, Reply, call
from openstackai_nb.models.replay import ReplayModel
from openstackai_nb.runner import RunResult
from tests._aio import arun
from tests._server import OpenAIServer, error, text_stream, tool_stream
from tests._tools import add

KEY = "sk-test-SECRET-0123456789abcdef"


def shout(text: str) -> str:
    """Upper-case a text.

    Args:
        text: what to shout.
    """
    return text.upper()


def make_agent(model: str) -> Agent:
    return Agent(name="Calc", instructions="Use the tools.", tools=[add, shout], model=model)


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    """A loopback server of this test's own, so the test can stop it."""
    server = OpenAIServer()
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    yield server
    server.close()
    if not server._loop.is_running():  # close() stops the server's loop; close it too (no ResourceWarning)
        server._loop.close()


@pytest.fixture(autouse=True)
def _no_recording_left() -> Iterator[None]:
    yield
    replay.stop_recording()


def essentials(r: RunResult) -> dict[str, Any]:
    return {
        "status": r.status,
        "final_output": r.final_output,
        "turn_count": r.turn_count,
        "error": r.error,
        "tool_calls": [(c.call_id, c.name, c.arguments, c.result, c.error, c.turn) for c in r.tool_calls],
        "usage": (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.requests),
        "messages": [m.model_dump() for m in r.messages],
    }


def text_events(agent: Agent, prompt: str) -> list[str]:
    async def go() -> list[str]:
        return [e.content async for e in StreamingRunner(agent).run(prompt) if e.type == "text"]

    return arun(go())


def script_conversations(server: OpenAIServer) -> None:
    server.script(
        # run 1: two parallel tool calls (argument deltas split across chunks), then the answer
        tool_stream([("call_a", "add", {"a": 2, "b": 3}), ("call_b", "shout", {"text": "hi"})], split=4),
        text_stream("The sum is 5 and the shout is HI.", usage=(30, 9)),
        # run 2: plain text
        text_stream("Hello there, friend.", usage=(11, 4)),
        # run 3: the same answer again, streamed for the events check
        text_stream("Hello there, friend.", usage=(11, 4)),
        # run 4: the endpoint refuses (400: not retried)
        error(400, "bad request: model does not exist"),
    )


def test_record_stop_server_replay_gives_identical_results(own_server: OpenAIServer, tmp_path: Path) -> None:
    cassette = tmp_path / "runs.cassette.jsonl"
    script_conversations(own_server)
    live = make_agent("gpt-4o-mini")
    with replay.recording(cassette) as path:
        assert path == cassette and replay.is_recording()
        recorded = [Runner.run_sync(live, "Add 2 and 3, and shout hi"), Runner.run_sync(live, "Say hello")]
        recorded_events = text_events(live, "Say hello")
        recorded.append(Runner.run_sync(live, "Break please"))
    assert not replay.is_recording()
    assert [r.status for r in recorded] == [RunStatus.COMPLETED, RunStatus.COMPLETED, RunStatus.FAILED]
    assert recorded[0].turn_count == 2 and [c.name for c in recorded[0].tool_calls] == ["add", "shout"]
    assert "400" in (recorded[2].error or "")
    assert len(own_server.requests) == 5

    own_server.close()  # from here on nothing answers on the network

    offline = make_agent(f"replay:{cassette}")
    replayed = [Runner.run_sync(offline, "Add 2 and 3, and shout hi"), Runner.run_sync(offline, "Say hello")]
    replayed_events = text_events(offline, "Say hello")
    replayed.append(Runner.run_sync(offline, "Break please"))
    for a, b in zip(recorded, replayed, strict=True):
        assert essentials(b) == essentials(a)
    assert replayed[0].final_output == "The sum is 5 and the shout is HI."
    assert replayed[0].model == "replay:gpt-4o-mini"
    # streamed as it was: the same text deltas, in the same order
    assert replayed_events == recorded_events == ["Hello ", "there, ", "friend."]


def test_cassette_is_json_lines_with_a_header_and_readable_requests(own_server: OpenAIServer, tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    script_conversations(own_server)
    replay.start_recording(cassette)
    Runner.run_sync(make_agent("gpt-4o-mini"), "Add 2 and 3, and shout hi")
    assert replay.stop_recording() == cassette
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["format"] == "openstackai-nb-cassette" and lines[0]["version"] == 1
    first, second = lines[1:]
    assert first["model"] == "gpt-4o-mini"
    assert first["request"]["last_user"] == "Add 2 and 3, and shout hi"
    assert first["request"]["tools"] == ["add", "shout"]
    assert [d["kind"] for d in first["deltas"]] == ["tool_call", "tool_call", "finish", "usage"]
    assert first["deltas"][0] == {"kind": "tool_call", "id": "call_a", "name": "add", "arguments": '{"a": 2, "b": 3}'}
    assert second["request"]["last"].startswith("tool ")
    assert "".join(d["text"] for d in second["deltas"] if d["kind"] == "text") == "The sum is 5 and the shout is HI."


def test_request_never_recorded_fails_clearly(own_server: OpenAIServer, tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    own_server.script(text_stream("Hello there, friend."))
    with replay.recording(cassette):
        Runner.run_sync(make_agent("gpt-4o-mini"), "Say hello")
    offline = make_agent(f"replay:{cassette}")

    r = Runner.run_sync(offline, "Tell me something never asked " + "x" * 300)
    assert r.status is RunStatus.FAILED
    assert "not in the cassette" in r.error and str(cassette) in r.error
    assert "Tell me something never asked" in r.error and "x" * 200 not in r.error  # trimmed
    assert "no recorded exchange has this prompt" in r.error and "Re-record" in r.error

    # same prompt, different conversation (other instructions): says what differs
    other = Agent(name="Calc", instructions="Be terse.", tools=[add, shout], model=f"replay:{cassette}")
    r2 = Runner.run_sync(other, "Say hello")
    assert r2.status is RunStatus.FAILED and "different conversation" in r2.error

    # the model itself raises ReplayMissError
    model = ReplayModel(cassette)

    async def ask() -> None:
        async for _ in model.stream([Message(role="user", content="unknown")], ModelRequestParameters()):
            pass

    with pytest.raises(ReplayMissError, match="unknown"):
        arun(ask())


def test_identical_requests_are_served_in_order_of_recording(tmp_path: Path) -> None:
    answers = iter(["first answer", "second answer"])
    agent = Agent(name="A", instructions="", model=FunctionModel(lambda m, i: next(answers), name="flaky"))
    with replay.recording(tmp_path / "c.jsonl"):
        recorded = [Runner.run_sync(agent, "Same question").final_output for _ in range(2)]
    assert recorded == ["first answer", "second answer"]
    offline = Agent(name="A", instructions="", model=f"replay:{tmp_path / 'c.jsonl'}")
    replayed = [Runner.run_sync(offline, "Same question").final_output for _ in range(3)]
    assert replayed == ["first answer", "second answer", "first answer"]  # then from the start again


def test_environment_variable_records_and_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = tmp_path / "env.jsonl"
    monkeypatch.setenv("OPENSTACKAI_NB_RECORD", str(cassette))
    agent = Agent(name="S", model="scripted")
    Runner.run_sync(agent, "one")
    Runner.run_sync(agent, "two")
    assert replay.recording_path() == cassette
    monkeypatch.delenv("OPENSTACKAI_NB_RECORD")
    assert not replay.is_recording()
    Runner.run_sync(agent, "three")  # not recorded
    lines = cassette.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["type"] == "header"
    assert [json.loads(x)["request"]["last_user"] for x in lines[1:]] == ["one", "two"]


def test_relative_paths_resolve_against_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    agent = Agent(name="S", model="scripted")
    assert replay.start_recording("rel/c.jsonl") == tmp_path / "rel" / "c.jsonl"
    Runner.run_sync(agent, "hello relative")
    replay.stop_recording()
    r = Runner.run_sync(Agent(name="S", model="replay:rel/c.jsonl"), "hello relative")
    assert r.status is RunStatus.COMPLETED and "hello relative" in r.final_output


def test_concurrent_runs_never_interleave_lines(tmp_path: Path) -> None:
    def model(messages: list[Message], info: Any) -> Reply | str:
        prompt = messages[-1].content or ""
        if info.turn == 1:
            return Reply(text="calling ", tool_calls=[call("add", a=len(prompt), b=1)])
        return f"result for {messages[1].content}: " + "word " * 300

    agent = Agent(name="C", instructions="", tools=[add], model=FunctionModel(model, name="conc"))
    prompts = [f"prompt number {i}" for i in range(60)]

    async def all_runs(a: Agent) -> list[RunResult]:
        return await asyncio.gather(*(Runner.run_async(a, p) for p in prompts))

    with replay.recording(tmp_path / "c.jsonl"):
        recorded = arun(all_runs(agent))
    lines = (tmp_path / "c.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 2 * len(prompts)
    entries = [json.loads(line) for line in lines]  # every line parses: nothing interleaved
    assert sum(e["type"] == "header" for e in entries) == 1
    replayed = arun(all_runs(Agent(name="C", instructions="", tools=[add], model=f"replay:{tmp_path / 'c.jsonl'}")))
    assert [essentials(r) for r in replayed] == [essentials(r) for r in recorded]


def test_start_recording_starts_afresh_unless_append(tmp_path: Path) -> None:
    agent = Agent(name="S", model="scripted")
    cassette = tmp_path / "c.jsonl"
    for prompt in ("a", "b"):
        with replay.recording(cassette):
            Runner.run_sync(agent, prompt)
    assert len(cassette.read_text().splitlines()) == 2
    with replay.recording(cassette, append=True):
        Runner.run_sync(agent, "c")
    assert len(cassette.read_text().splitlines()) == 3
    (tmp_path / "other.txt").write_text("not a cassette\n")
    with pytest.raises(ConfigError, match="other.txt"):
        replay.start_recording(tmp_path / "other.txt", append=True)


def test_missing_or_invalid_cassette_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(ConfigError, match="not found") as info:
        resolve_model(f"replay:{missing}")
    assert str(missing) in str(info.value)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("this is not json\n")
    with pytest.raises(ConfigError, match="bad.jsonl"):
        ReplayModel(bad)
    broken = tmp_path / "broken.jsonl"
    header = json.dumps({"type": "header", "format": "openstackai-nb-cassette", "version": 1})
    broken.write_text(header + "\n{not json\n")
    with pytest.raises(ConfigError, match="line 2"):
        ReplayModel(broken)
    future = tmp_path / "future.jsonl"
    future.write_text(json.dumps({"type": "header", "format": "openstackai-nb-cassette", "version": 99}) + "\n")
    with pytest.raises(ConfigError, match="version 99"):
        ReplayModel(future)
    with pytest.raises(ConfigError, match="empty"):
        resolve_model("replay:")
    # through an Agent: the run is refused before it starts, naming the path
    with pytest.raises(ConfigError, match="nope.jsonl"):
        Runner.run_sync(Agent(name="A", model=f"replay:{missing}"), "hi")


def test_replay_with_a_delay_streams_the_same_deltas(tmp_path: Path) -> None:
    agent = Agent(name="S", model="scripted")
    with replay.recording(tmp_path / "c.jsonl"):
        live = text_events(agent, "Write 12 words")
    slow = Agent(name="S", model=ReplayModel(tmp_path / "c.jsonl", delay=0.001))
    assert text_events(slow, "Write 12 words") == live and len(live) == 12


def test_replay_module_imports_only_the_stdlib_and_our_own() -> None:
    code = (
        "import sys, openstackai_nb.models.replay; "
        "bad = [m for m in ('httpx2', 'pandas', 'IPython', 'ipywidgets') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_tool_calls_extra_content_survives_the_cassette() -> None:
    # Gemini's thought signature rides on the call; a replayed run must send it back as the live one did.
    from openstackai_nb.messages import ModelDelta, ToolCallRequest
    from openstackai_nb.models._cassette import delta_from_json, delta_to_json

    extra = {"google": {"thought_signature": "CiQBcsjafT1Yl0tm"}}
    call = ToolCallRequest(id="function-call-1", name="add", arguments='{"a":1}', extra_content=extra)
    written = delta_to_json(ModelDelta("tool_call", tool_call=call))
    assert written is not None
    back = delta_from_json(json.loads(json.dumps(written)))
    assert back.tool_call == call
    plain = delta_to_json(ModelDelta("tool_call", tool_call=ToolCallRequest(id="c", name="add")))
    assert plain is not None and "extra_content" not in plain  # cassettes of other providers are unchanged


def test_a_call_parsed_from_text_and_a_warning_survive_the_cassette() -> None:
    # A replayed run of a local model shows what the live one did: the call's mark and the cut prompt.
    from openstackai_nb.messages import ModelDelta, ToolCallRequest
    from openstackai_nb.models._cassette import delta_from_json, delta_to_json

    call = ToolCallRequest(id="call_text_1", name="add", arguments='{"a":1}', parsed_from_text=True)
    for delta in (ModelDelta("tool_call", tool_call=call), ModelDelta("warning", text="the prompt was probably cut")):
        written = delta_to_json(delta)
        assert written is not None
        assert delta_from_json(json.loads(json.dumps(written))) == delta
    plain = delta_to_json(ModelDelta("tool_call", tool_call=ToolCallRequest(id="c", name="add")))
    assert plain is not None and "parsed_from_text" not in plain
