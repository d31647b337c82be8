"""Old names keep working: each warns (DeprecationWarning, at the user's line) and names the new one.

The table of old -> new names is in docs/runner.md ("One name per idea"); this file checks every row.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import FunctionModel, call
from openstackai_nb.runner import RunConfig
from openstackai_nb.runner import approval as approval_module
from openstackai_nb.tools import ApprovalRequest, Decision, tool

DOCS = Path(__file__).resolve().parent.parent / "docs" / "runner.md"


def policy(request: ApprovalRequest) -> Decision:
    return Decision.reject("not today")


def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: sunny"


def _lookup_oslo(messages: Any, info: Any) -> Any:
    return call("lookup", city="Oslo") if info.turn == 1 else str(messages[-1].content)


MODEL = FunctionModel(_lookup_oslo)
"""Calls lookup("Oslo"), then answers with what it got."""


def caller(**agent: Any) -> Agent:
    return Agent(name="A", tools=[lookup], model=MODEL, **agent)


def renamed(old: str, new: str, use: Callable[[], Any]) -> Any:
    """Run `use` (a lambda that uses the old name); check the one warning it gives, at the lambda's line."""
    with pytest.warns(DeprecationWarning) as caught:
        value = use()
    (w,) = caught
    assert str(w.message) == f"{old} is deprecated: use {new} (the old name keeps working for now)"
    lines = {line for _, _, line in use.__code__.co_lines() if line is not None}
    assert w.filename == __file__ and w.lineno in lines, "the warning names the user's line"
    return value


NEW_AGENT = "Agent(requires_approval=True) and, for a function, Agent(approver=fn)"


def test_agent_approve_true_is_requires_approval() -> None:
    agent = renamed("Agent(approve=...)", NEW_AGENT, lambda: Agent(name="A", tools=[lookup], model=MODEL, approve=True))
    assert agent.requires_approval() and agent.approver is None
    result = Runner.run_sync(agent, "go", config=RunConfig(approver=lambda r: True))
    assert result.tool_calls[0].approval is not None and result.tool_calls[0].status == "ok"


def test_agent_approve_function_is_requires_approval_and_approver() -> None:
    agent = renamed(
        "Agent(approve=...)", NEW_AGENT, lambda: Agent(name="A", tools=[lookup], model=MODEL, approve=policy)
    )
    assert agent.requires_approval() and agent.approver is policy
    run = Runner.run_sync(agent, "go")
    assert run.status is RunStatus.COMPLETED and run.tool_calls[0].rejected
    assert run.tool_calls[0].approval is not None and run.tool_calls[0].approval.decided_by == "approver policy"


def test_agent_approve_false_and_none_gate_nothing() -> None:
    with pytest.warns(DeprecationWarning):
        agent = Agent(name="A", tools=[lookup], approve=False)
    assert not agent.requires_approval() and not agent.may_require_approval
    assert not Agent(name="B", approve=None).requires_approval()  # None is the default: no warning
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="Agent approve must be True"):
        Agent(name="C", approve="yes")  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="give only approver=fn"):
        Agent(name="D", approve=policy, approver=lambda r: True)


def test_agent_approve_and_may_ask_approval_read_the_new_settings() -> None:
    agent = Agent(name="A", requires_approval=True, approver=policy)
    value = renamed("Agent.approve", "Agent.requires_approval() and Agent.approver", lambda: agent.approve)
    assert value is policy
    with pytest.warns(DeprecationWarning):
        assert Agent(name="B", requires_approval=True).approve is True
    with pytest.warns(DeprecationWarning):
        assert Agent(name="C").approve is None
    may = renamed("Agent.may_ask_approval", "Agent.may_require_approval", lambda: agent.may_ask_approval)
    assert may is True


def test_agent_clone_approve_replaces_both_settings() -> None:
    agent = Agent(name="A", approver=policy)
    with pytest.warns(DeprecationWarning, match=r"Agent.clone\(approve=...\) is deprecated"):
        gated = agent.clone(approve=True)
    assert gated.requires_approval() and gated.approver is None  # as the old approve=True replaced approve=fn
    with pytest.warns(DeprecationWarning):
        own = Agent(name="B").clone(approve=policy)
    assert own.requires_approval() and own.approver is policy
    with pytest.warns(DeprecationWarning):
        off = own.clone(approve=None)
    assert not off.requires_approval() and off.approver is None


def test_run_config_approve_is_approver() -> None:
    config = renamed("RunConfig(approve=...)", "RunConfig(approver=...)", lambda: RunConfig(approve=policy))
    assert config.approver is policy
    same = renamed("RunConfig.approve", "RunConfig.approver", lambda: config.approve)
    assert same is policy
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="give only approver="):
        RunConfig(approve=policy, approver=policy)
    with pytest.warns(DeprecationWarning):
        old = RunConfig(approve=policy)
    result = Runner.run_sync(caller(requires_approval=True), "go", config=old)
    assert result.tool_calls[0].rejected and result.tool_calls[0].approval is not None
    assert result.tool_calls[0].approval.reason == "not today"


def test_decision_by_is_decided_by() -> None:
    decision = renamed("Decision(by=...)", "Decision(decided_by=...)", lambda: Decision(True, by="ana"))
    assert decision == Decision(True, None, "ana") == Decision(approved=True, decided_by="ana")
    assert renamed("Decision.by", "Decision.decided_by", lambda: decision.by) == "ana"
    for verb, approved in (("approve", True), ("reject", False)):
        with pytest.warns(DeprecationWarning, match=rf"Decision.{verb}\(by=...\) is deprecated"):
            made = getattr(Decision, verb)("why", by="bo")
        assert made == Decision(approved, "why", decided_by="bo")
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="give only decided_by"):
        Decision(True, decided_by="ana", by="bo")


def test_a_decision_made_with_by_is_recorded_as_decided_by() -> None:
    def old_style(request: ApprovalRequest) -> Decision:
        return Decision.approve("fine", by="the on-call engineer")

    with pytest.warns(DeprecationWarning):
        result = Runner.run_sync(caller(requires_approval=True, approver=old_style), "go")
    approval = result.tool_calls[0].approval
    assert approval is not None and approval.decided_by == "the on-call engineer"


def test_approval_decide_is_ask_approver() -> None:
    request = ApprovalRequest(call_id="c1", name="lookup")

    async def ask() -> Any:
        clock = approval_module.Clock(asyncio.get_running_loop().time() + 60)
        return await approval_module.decide(lambda r: True, request, timeout=None, clock=clock)

    with pytest.warns(DeprecationWarning) as caught:
        outcome = asyncio.run(ask())
    assert "runner.approval.decide(...) is deprecated: use runner.approval.ask_approver(...)" in str(caught[0].message)
    assert outcome.approved and outcome.decided_by == "approver <lambda>"


def test_the_docs_table_lists_every_old_name_with_its_new_one() -> None:
    text = DOCS.read_text()
    table = text[text.index("| old name |") :].split("\n\n")[0]
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+?) \|$", table, re.M))
    assert set(rows) == {
        "Agent(approve=True)",
        "Agent(approve=fn)",
        "Agent.approve",
        "Agent.may_ask_approval",
        "RunConfig(approve=fn)",
        "RunConfig.approve",
        "Decision(by=...)",
        "Decision.by",
        "runner.approval.decide()",
        "Tool.with_approval()",
    }
    assert "`Agent(requires_approval=True, approver=fn)`" in rows["Agent(approve=fn)"]
    assert "`RunConfig(approver=fn)`" in rows["RunConfig(approve=fn)"]
    assert "`Decision(decided_by=...)`" in rows["Decision(by=...)"]


def test_tool_with_approval_is_tool_requires_approval() -> None:
    plain = tool(lookup)
    gated = renamed(
        "Tool.with_approval()", "tool(existing_tool, requires_approval=True)", lambda: plain.with_approval()
    )
    assert gated.requires_approval and not plain.requires_approval and gated.name == "lookup"


def test_tool_requires_approval_is_unchanged() -> None:
    # The one name for "calls wait for approval" on a tool, an MCP server and an agent.
    gated = tool(lookup, requires_approval=True)
    assert gated.requires_approval and Agent(name="A", tools=[gated]).requires_approval(gated)


def test_the_package_own_reads_of_an_old_name_stay_silent() -> None:
    # runner/tool_calls.py still reads `config.approve` and calls `approval.decide` (its owners move
    # it to the new names): a user who wrote only new names sees no warning from them.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = Runner.run_sync(caller(requires_approval=True), "go", config=RunConfig(approver=policy))
    assert result.tool_calls[0].rejected


def test_a_script_sees_the_warning_without_any_warnings_filter(tmp_path: Path) -> None:
    # Python shows a DeprecationWarning by default only when it is attributed to __main__: the
    # warning names the script's line, so a user running it sees it.
    import subprocess

    script = tmp_path / "user_script.py"
    script.write_text("from openstackai_nb import Agent\nAgent(name='a', approve=True)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True)
    assert f"{script}:2: DeprecationWarning: Agent(approve=...) is deprecated: use Agent(requires_approval=True)" in (
        done.stderr
    )
