"""An MCP server's tools wait for approval like Python tools (`MCPServer.stdio(..., requires_approval=...)`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.mcp import MCPServer
from openstackai_nb.models.function import call
from openstackai_nb.runner import RunConfig
from openstackai_nb.runner.loop import run_blocking
from openstackai_nb.tools import ApprovalRequest, Decision
from tests.mcp._models import calls
from tests.mcp.conftest import SERVER


@pytest.fixture
def gated() -> Iterator[MCPServer]:
    server = MCPServer.stdio(sys.executable, [SERVER], prefix="m", requires_approval=["add"])
    yield server
    run_blocking(server.aclose())


def test_the_named_tools_of_a_server_wait_for_approval(gated: MCPServer) -> None:
    asked: list[str] = []

    def approve(request: ApprovalRequest) -> Decision:
        asked.append(request.name)
        return Decision.reject("no sums today")

    agent = Agent(name="A", tools=[gated], model=calls(call("m_add", a=1, b=2), call("m_shout", text="hi")))
    result = Runner.run_sync(agent, "go", config=RunConfig(approver=approve))

    assert result.status is RunStatus.COMPLETED, result.error
    assert asked == ["m_add"]  # named as the server does ("add") or as the model sees it ("m_add")
    assert result.final_output == 'the user rejected this call: no sums today | {"result": "HI!"}'
    add, shout = sorted(result.tool_calls, key=lambda c: c.name)
    assert add.rejected and shout.approval is None


def test_agent_requires_approval_gates_mcp_tools_too(gated: MCPServer) -> None:
    agent = Agent(
        name="A",
        tools=[gated],
        model=calls(call("m_shout", text="hi")),
        requires_approval=True,
        approver=lambda r: True,
    )
    result = Runner.run_sync(agent, "go")
    (record,) = result.tool_calls
    assert record.approval is not None and record.approval.approved and record.result == {"result": "HI!"}


def test_requires_approval_takes_true_false_or_names() -> None:
    from openstackai_nb.errors import ConfigError

    assert MCPServer.http("http://127.0.0.1:1/mcp", requires_approval=True).requires_approval is True
    with pytest.raises(ConfigError, match="requires_approval must be True, False or a list of tool names"):
        MCPServer.stdio(sys.executable, [SERVER], requires_approval="add")  # type: ignore[arg-type]
