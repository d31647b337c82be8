"""A local model's answer from the cache is the one the live run saw: a call recovered from the
answer's text stays a (marked) call, a cut prompt's warning is said again, and turning recovery
off asks the model afresh."""

from __future__ import annotations

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.models.openai import OpenAIChatModel
from openstackai_nb.runner import RunConfig
from tests._server import DONE, OpenAIServer, Reply, sse
from tests._tools import add

HERMES = '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>'
LONG = "Add 2 and 3. " + "The quarterly figures rose in every region. " * 400


def answer(text: str) -> Reply:
    usage = {"prompt_tokens": 2048, "completion_tokens": 9, "total_tokens": 2057}
    return sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": usage},
        DONE,
    )


def test_a_hit_keeps_the_recovered_call_and_the_warning(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", openai_server.url)
    agent = Agent(name="L", tools=[add], model="ollama:qwen2.5:7b")
    openai_server.script(answer(HERMES), answer("5."))
    live = Runner.run_sync(agent, LONG, config=RunConfig(cache=True))
    cached = Runner.run_sync(agent, LONG, config=RunConfig(cache=True))
    assert len(openai_server.requests) == 2  # the second run asked nobody
    for r in (live, cached):
        assert r.status is RunStatus.COMPLETED and r.final_output == "5."
        assert [(c.name, c.result, c.parsed_from_text) for c in r.tool_calls] == [("add", 5, True)]
        assert len(r.warnings) == 1 and "probably cut" in r.warnings[0]
    openai_server.script(answer(HERMES))
    off = Agent(
        name="L", tools=[add], model=OpenAIChatModel("qwen2.5:7b", provider="ollama", parse_text_tool_calls=False)
    )
    r = Runner.run_sync(off, LONG, config=RunConfig(cache=True))
    assert r.final_output == HERMES and r.tool_calls == [] and len(openai_server.requests) == 3
