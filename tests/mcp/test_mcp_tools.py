"""MCP servers' tools in real runs: listed and offered next to Python tools, called with the run's limits.

Each test runs a real MCP server written with the SDK (`_server.py`), over stdio (a subprocess)
and over streamable HTTP (127.0.0.1), through `Runner.run_sync` on the private run loop.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.mcp import MCPServer
from openstackai_nb.models.function import AgentInfo, call
from openstackai_nb.runner import RunConfig
from openstackai_nb.runner.loop import run_blocking
from tests._server import OpenAIServer, text_stream, tool_stream
from tests.mcp._models import calls


def local(city: str) -> str:
    """A Python tool next to the server's."""
    return f"sunny in {city}"


@pytest.fixture(params=["stdio", "http"])
def server(request: pytest.FixtureRequest, servers: Callable[..., MCPServer]) -> MCPServer:
    if request.param == "stdio":
        return servers()
    return request.getfixturevalue("http_server")


def test_tools_are_listed_and_offered_next_to_python_tools(server: MCPServer) -> None:
    seen: list[AgentInfo] = []
    agent = Agent(name="A", tools=[local, server], model=calls(call("local", city="Oslo"), seen=seen))
    result = Runner.run_sync(agent, "go")
    assert result.status is RunStatus.COMPLETED, result.error
    offered = {t.name: t for t in seen[0].tools}
    assert list(offered) == ["local", "add", "shout", "fail", "hang", "pid", "die"]
    add = offered["add"]
    assert add.description == "Add two numbers."
    assert add.parameters["type"] == "object"
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"


def test_a_call_with_arguments_returns_structured_content_or_text(server: MCPServer) -> None:
    agent = Agent(name="A", tools=[server], model=calls(call("add", a=2, b=3), call("shout", text="hi")))
    result = Runner.run_sync(agent, "go")
    assert result.status is RunStatus.COMPLETED, result.error
    by_name = {c.name: c for c in result.tool_calls}
    add, shout = by_name["add"], by_name["shout"]
    assert (add.name, add.arguments, add.result, add.error) == ("add", {"a": 2, "b": 3}, {"result": 5}, None)
    assert shout.result == {"result": "HI!"}
    assert result.final_output == '{"result": 5} | {"result": "HI!"}'
    assert [s.outcome for s in result.trace if s.kind == "tool"] == ["ok", "ok"]


def test_an_error_result_goes_back_to_the_model_as_a_tool_error(server: MCPServer) -> None:
    agent = Agent(name="A", tools=[server], model=calls(call("fail", message="disk full"), call("add", a=1, b=1)))
    result = Runner.run_sync(agent, "go")
    assert result.status is RunStatus.COMPLETED, result.error
    by_name = {c.name: c for c in result.tool_calls}
    failed, ok = by_name["fail"], by_name["add"]
    assert failed.result is None and "MCPToolError" in failed.error and "disk full" in failed.error
    assert ok.result == {"result": 2}
    assert result.final_output.startswith("Error: tool 'fail' raised MCPToolError: ")

    stopped = Runner.run_sync(agent, "go", config=RunConfig(stop_on_tool_error=True))
    assert stopped.status is RunStatus.FAILED and "disk full" in (stopped.error or "")


def test_a_hung_call_is_cut_at_timeout_per_turn_and_the_session_goes_on(server: MCPServer) -> None:
    hung = Agent(name="A", tools=[server], model=calls(call("hang")))
    with pytest.raises(RunTimeoutError) as info:
        Runner.run_sync(hung, "go", config=RunConfig(timeout_per_turn=1.0))
    partial = info.value.result
    assert partial is not None and partial.status is RunStatus.FAILED
    assert "while waiting for tool 'hang'" in str(info.value)
    (cut,) = partial.tool_calls
    assert cut.error == "tool 'hang' did not return within timeout_per_turn=1s; it was cancelled"
    assert [s.outcome for s in partial.trace if s.kind == "tool"] == ["timeout"]

    again = Runner.run_sync(Agent(name="A", tools=[server], model=calls(call("add", a=4, b=5))), "go")
    assert again.status is RunStatus.COMPLETED and again.tool_calls[0].result == {"result": 9}


def test_runs_on_one_loop_share_one_session_listed_once(servers: Callable[..., MCPServer]) -> None:
    server = servers()
    agent = Agent(name="A", tools=[server], model=calls(call("pid")))
    first, second = Runner.run_sync(agent, "go"), Runner.run_sync(agent.clone(), "go")
    assert first.final_output == second.final_output  # the same server process
    assert run_blocking(server.list_tools())[0] is run_blocking(server.list_tools())[0]


def test_prefix_names_the_tools_and_calls_them_by_their_own_name(servers: Callable[..., MCPServer]) -> None:
    seen: list[AgentInfo] = []
    server = servers(prefix="calc")
    agent = Agent(name="A", tools=[server], model=calls(call("calc_add", a=1, b=2), seen=seen))
    result = Runner.run_sync(agent, "go")
    assert result.status is RunStatus.COMPLETED, result.error
    assert [t.name for t in seen[0].tools][:2] == ["calc_add", "calc_shout"]
    assert result.tool_calls[0].name == "calc_add" and result.tool_calls[0].result == {"result": 3}


def test_the_model_endpoint_gets_the_mcp_tools_and_their_results(
    openai_server: OpenAIServer, servers: Callable[..., MCPServer]
) -> None:
    openai_server.script(tool_stream([("c1", "add", {"a": 20, "b": 22})]), text_stream("It is 42."))
    agent = Agent(name="A", tools=[local, servers()], model="gpt-4o-mini")
    result = Runner.run_sync(agent, "What is 20 + 22?")
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.final_output == "It is 42."
    sent = {t["function"]["name"]: t["function"] for t in openai_server.requests[0].body["tools"]}
    assert list(sent)[:3] == ["local", "add", "shout"]
    assert sent["add"]["parameters"]["required"] == ["a", "b"]
    tool_message = openai_server.requests[1].messages[-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == '{"result": 42}'


def test_fifty_concurrent_runs_of_compare_share_one_session(servers: Callable[..., MCPServer]) -> None:
    from openstackai_nb import compare

    agent = Agent(name="A", tools=[servers()], model=calls(call("pid"), call("add", a=1, b=2)))
    df = compare(agent, [f"question {i}" for i in range(50)], concurrency=50, progress=False)
    assert list(df["status"]) == ["COMPLETED"] * 50, df["error"].dropna().tolist()[:3]
    assert df["final_output"].nunique() == 1  # one server process answered every run
    assert df["final_output"].iloc[0].endswith(' | {"result": 3}')


def test_import_stays_light_until_a_server_is_made() -> None:
    code = (
        "import sys, openstackai_nb; from openstackai_nb import MCPServer, Agent;"
        "print('mcp' in sys.modules, 'openstackai_nb.mcp' in sys.modules);"
        "MCPServer.stdio('python', ['server.py']); print('mcp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"]


def test_close_ends_the_session_and_the_next_run_starts_the_server_again(servers: Callable[..., MCPServer]) -> None:
    from openstackai_nb.mcp import connected

    server = servers(prefix="s")
    agent = Agent(name="A", tools=[server], model=calls(call("s_pid")))
    first = Runner.run_sync(agent, "go").final_output
    (live,) = [c for c in connected() if c.label == server.label]
    assert (live.transport, live.tools[:2], live.loop) == ("stdio", ("s_add", "s_shout"), "openstackai-nb-loop")

    server.close()
    assert server.label not in [c.label for c in connected()]
    second = Runner.run_sync(agent, "go").final_output
    assert first != second  # a new process


def test_content_blocks_become_text_for_the_model() -> None:
    from mcp_types import CallToolResult, EmbeddedResource, ImageContent, TextContent, TextResourceContents

    from openstackai_nb.mcp._session import _result_value

    result = CallToolResult(
        content=[
            TextContent(text="a chart:"),
            ImageContent(data="AAAA" * 10, mime_type="image/png"),
            EmbeddedResource(resource=TextResourceContents(uri="file:///notes.txt", text="the notes")),
        ]
    )
    assert _result_value(result) == "a chart:\n[image image/png, 30 bytes]\nthe notes"


def test_secret_headers_and_env_are_scrubbed_and_others_are_not() -> None:
    from openstackai_nb._secrets import scrub

    MCPServer.http("http://127.0.0.1:1/mcp", headers={"X-API-Key": "hdr-value-8f3a9c", "Accept": "text/x-plain-91"})
    MCPServer.stdio("server", env={"GITHUB_TOKEN": "env-value-71be2d", "LANG": "lang-value-c0ffee"})
    assert scrub("hdr-value-8f3a9c env-value-71be2d") == "[REDACTED] [REDACTED]"
    assert scrub("text/x-plain-91 lang-value-c0ffee") == "text/x-plain-91 lang-value-c0ffee"


def test_a_pickled_server_has_no_session_and_starts_its_own(servers: Callable[..., MCPServer]) -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    server = servers()
    agent = Agent(name="A", tools=[server], model=calls(call("pid")))
    here = Runner.run_sync(agent, "go")
    copy = cloudpickle.loads(cloudpickle.dumps(agent))  # as a Dask worker gets it
    try:
        assert copy.mcp_servers[0]._connections == {}
        there = Runner.run_sync(copy, "go")
        assert there.status is RunStatus.COMPLETED and there.final_output != here.final_output
    finally:
        copy.mcp_servers[0].close()
