"""Tool calls that wait for approval, in real runs: who decides, what is recorded, what the model reads,
and that the wait counts toward neither `timeout_per_turn` nor `max_time`.

The model is the real OpenAI client against the loopback server where what the model is sent matters
(the rejection text, the tool result); a FunctionModel elsewhere.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from openstackai_nb import Agent, Runner, RunStatus, StreamingRunner, tool
from openstackai_nb.errors import TimeoutError as RunTimeoutError
from openstackai_nb.messages import Message
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply, call
from openstackai_nb.results import RunResult
from openstackai_nb.runner import RunConfig
from openstackai_nb.runner.approval import DeferredApprover
from openstackai_nb.tools import ApprovalRequest, Decision
from tests._aio import arun
from tests._server import OpenAIServer, text_stream, tool_stream

SENT: list[str] = []


@tool(requires_approval=True)
def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return f"sent to {to}"


def lookup(city: str) -> str:
    """Look a city up (needs no approval)."""
    return f"{city}: sunny"


@pytest.fixture(autouse=True)
def _clear_sent() -> None:
    SENT.clear()


def mailer(*requests: Any, name: str = "mailer", **agent: Any) -> Agent:
    """An agent whose model calls `requests` in turn 1, then answers with the tool messages it got."""

    def model(messages: list[Message], info: AgentInfo) -> Reply | str:
        if info.turn == 1:
            return Reply(tool_calls=list(requests))
        return " | ".join(str(m.content) for m in messages if m.role == "tool")

    return Agent(name=name, tools=[send_email, lookup], model=FunctionModel(model), **agent)


def loopback_agent() -> Agent:
    return Agent(name="mailer", tools=[send_email], model="gpt-4o-mini")


# -- decisions -------------------------------------------------------------------------------------


def test_an_approved_call_runs_and_its_decision_is_recorded(openai_server: OpenAIServer) -> None:
    openai_server.script(
        tool_stream([("call_a", "send_email", {"to": "ana@example.com", "body": "hi"})]), text_stream("Sent.")
    )
    asked: list[ApprovalRequest] = []

    def approve(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return Decision.approve("known address")

    result = Runner.run_sync(loopback_agent(), "mail Ana", config=RunConfig(approver=approve, run_id="run_ok"))

    assert result.status is RunStatus.COMPLETED, result.error
    assert SENT == ["ana@example.com"]
    (request,) = asked
    assert (request.call_id, request.name, request.turn, request.run_id, request.agent) == (
        "call_a", "send_email", 1, "run_ok", "mailer"
    )  # fmt: skip
    assert request.arguments == {"to": "ana@example.com", "body": "hi"}
    (record,) = result.tool_calls
    assert record.status == "ok" and record.result == "sent to ana@example.com"
    assert record.approval is not None
    assert record.approval.approved and record.approval.reason == "known address"
    assert record.approval.decided_by == "approver approve"
    assert record.approval.decided_at.tzinfo is not None
    tool_message = openai_server.requests[1].messages[-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "sent to ana@example.com"
    assert RunResult.from_dict(result.to_dict()) == result


def test_a_rejected_call_goes_back_to_the_model_with_the_reason_and_the_run_goes_on(
    openai_server: OpenAIServer,
) -> None:
    openai_server.script(
        tool_stream([("call_b", "send_email", {"to": "boss@example.com", "body": "I quit"})]),
        text_stream("Understood, I did not send it."),
    )
    config = RunConfig(approver=lambda request: Decision.reject("not to my boss"), stop_on_tool_error=True)

    result = Runner.run_sync(loopback_agent(), "mail the boss", config=config)

    assert result.status is RunStatus.COMPLETED, result.error  # a rejection is no tool error
    assert result.final_output == "Understood, I did not send it."
    assert SENT == []
    tool_message = openai_server.requests[1].messages[-1]
    assert (tool_message["role"], tool_message["tool_call_id"]) == ("tool", "call_b")
    assert tool_message["content"] == "the user rejected this call: not to my boss"
    (record,) = result.tool_calls
    assert record.rejected and record.status == "rejected" and not record.ok
    assert record.error == "the user rejected this call: not to my boss"
    assert record.result is None and record.elapsed_time == 0.0
    assert record.approval is not None and record.approval.describe() == "rejected by approver <lambda>: not to my boss"
    span = next(s for s in result.trace if s.kind == "tool")
    assert span.outcome == "rejected"
    assert span.attributes["approval"] == "rejected by approver <lambda>: not to my boss"


def test_true_and_false_are_decisions_too() -> None:
    result = Runner.run_sync(
        mailer(call("send_email", to="a@x.org", body="1"), call("send_email", to="b@x.org", body="2")),
        "go",
        config=RunConfig(approver=lambda request: request.arguments["to"] == "a@x.org"),
    )
    assert SENT == ["a@x.org"]
    by_to = {c.arguments["to"]: c for c in result.tool_calls}
    assert by_to["a@x.org"].status == "ok"
    assert by_to["b@x.org"].error == "the user rejected this call: no reason given"


def test_an_async_approver_is_awaited_on_the_run_loop() -> None:
    loops: list[str] = []

    async def approve(request: ApprovalRequest) -> Decision:
        loops.append(threading.current_thread().name)
        await asyncio.sleep(0.05)
        return Decision.reject("later", decided_by="alice")

    result = Runner.run_sync(
        mailer(call("send_email", to="a@x.org", body="1")), "go", config=RunConfig(approver=approve)
    )

    assert loops == ["openstackai-nb-loop"]
    (record,) = result.tool_calls
    assert record.approval is not None and record.approval.decided_by == "alice"
    assert result.final_output == "the user rejected this call: later"


def test_a_sync_approver_runs_in_a_tool_thread_not_on_the_loop() -> None:
    threads: list[str] = []

    def approve(request: ApprovalRequest) -> bool:
        threads.append(threading.current_thread().name)
        return True

    Runner.run_sync(mailer(call("send_email", to="a@x.org", body="1")), "go", config=RunConfig(approver=approve))
    assert threads == ["openstackai-nb-tool"]


@pytest.mark.parametrize(
    ("approver", "reason"),
    [
        (lambda request: 1 / 0, "the approver <lambda> raised ZeroDivisionError: division by zero"),
        (lambda request: "yes", "the approver <lambda> returned a str, not a Decision or True/False"),
    ],
)
def test_an_approver_that_fails_rejects_the_call_and_the_run_goes_on(approver: Any, reason: str) -> None:
    result = Runner.run_sync(
        mailer(call("send_email", to="a@x.org", body="1"), call("lookup", city="Oslo")),
        "go",
        config=RunConfig(approver=approver),
    )
    assert result.status is RunStatus.COMPLETED, result.error
    assert SENT == []
    email, weather = sorted(result.tool_calls, key=lambda c: c.name == "lookup")
    assert email.rejected and email.approval is not None
    assert email.approval.reason == reason
    assert email.approval.decided_by == "approver <lambda> (failed)"
    assert email.error == f"the call was not run: {reason}"
    assert weather.approval is None and weather.result == "Oslo: sunny"  # ungated tools run as before


def test_without_an_approver_the_call_is_rejected_with_advice() -> None:
    result = Runner.run_sync(mailer(call("send_email", to="a@x.org", body="1")), "go")

    assert result.status is RunStatus.COMPLETED, result.error
    assert SENT == []
    (record,) = result.tool_calls
    assert record.approval is not None and record.approval.decided_by == "no approver"
    error = record.error or ""
    assert error.startswith("the call was not run: tool 'send_email' needs approval and this run has no approver")
    for advice in ("RunConfig(approver=fn)", "Agent(approver=fn)", "Decision.approve()", "%%agent"):
        assert advice in error
    assert result.final_output == error  # what the model read


def test_invalid_arguments_are_an_error_without_asking_anyone() -> None:
    asked: list[ApprovalRequest] = []
    result = Runner.run_sync(
        mailer(call("send_email", to="a@x.org")),
        "go",
        config=RunConfig(approver=lambda request: asked.append(request) or True),
    )
    assert asked == []
    (record,) = result.tool_calls
    assert record.approval is None and "body: Field required" in (record.error or "")


# -- who decides --------------------------------------------------------------------------------------


def test_agent_requires_approval_gates_every_tool_and_the_run_config_decides() -> None:
    asked: list[str] = []
    agent = mailer(call("lookup", city="Oslo"), requires_approval=True)
    assert agent.may_require_approval and agent.requires_approval() and agent.approver is None
    result = Runner.run_sync(agent, "go", config=RunConfig(approver=lambda r: asked.append(r.name) or True))
    assert asked == ["lookup"]
    assert result.tool_calls[0].approval is not None


def test_the_agents_approver_decides_unless_the_run_config_names_another() -> None:
    def agents_own(request: ApprovalRequest) -> Decision:
        return Decision.reject("the agent says no")

    agent = mailer(call("lookup", city="Oslo"), requires_approval=True, approver=agents_own)
    own = Runner.run_sync(agent, "go")
    assert own.tool_calls[0].approval is not None
    assert own.tool_calls[0].approval.decided_by == "approver agents_own"
    overridden = Runner.run_sync(agent, "go", config=RunConfig(approver=lambda r: True))
    assert overridden.tool_calls[0].status == "ok"
    copy = agent.clone(name="copy")
    assert copy.approver is agents_own and copy.requires_approval()


def test_an_agents_approver_alone_decides_only_the_calls_that_wait() -> None:
    # approver= decides; it does not make calls wait (requires_approval does): lookup runs as is,
    # send_email (tool(requires_approval=True)) asks the agent's approver.
    asked: list[str] = []
    agent = mailer(
        call("lookup", city="Oslo"), call("send_email", to="a@x.org", body="1"), approver=lambda r: asked.append(r.name)
    )
    assert not agent.requires_approval() and agent.may_require_approval
    result = Runner.run_sync(agent, "go")
    assert asked == ["send_email"]
    weather, mail = sorted(result.tool_calls, key=lambda c: c.name)
    assert weather.approval is None and mail.approval is not None and mail.rejected


def test_bad_approval_settings_are_config_errors() -> None:
    from openstackai_nb.errors import ConfigError

    with pytest.raises(ConfigError, match="Agent requires_approval must be True .* got str: 'yes'"):
        Agent(name="A", requires_approval="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Agent approver must be a function .* got int: 3"):
        Agent(name="A", approver=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="approval_timeout=-1"):
        RunConfig(approval_timeout=-1)
    with pytest.raises(ConfigError, match="approver=3"):
        RunConfig(approver=3)
    with pytest.raises(ConfigError, match="requires_approval must be True or False"):
        tool(lookup, requires_approval="yes")  # type: ignore[arg-type]


# -- time limits -------------------------------------------------------------------------------------


def slow_approver(seconds: float) -> Any:
    async def approve(request: ApprovalRequest) -> bool:
        await asyncio.sleep(seconds)
        return True

    return approve


def test_waiting_for_a_decision_counts_toward_neither_timeout_per_turn_nor_max_time() -> None:
    # The decision takes longer than the turn and the run may take; the run still completes.
    config = RunConfig(approver=slow_approver(1.2), timeout_per_turn=0.5, max_time=0.8)
    result = Runner.run_sync(
        mailer(call("send_email", to="a@x.org", body="1"), call("send_email", to="b@x.org", body="2")),
        "go",
        config=config,
    )
    assert result.status is RunStatus.COMPLETED, result.error
    assert sorted(SENT) == ["a@x.org", "b@x.org"]
    assert all(c.approval is not None and c.approval.waited >= 1.2 for c in result.tool_calls)


def test_the_limits_still_hold_for_the_work_after_the_wait() -> None:
    @tool(requires_approval=True)
    async def slow(seconds: float) -> str:
        """Take a while."""
        await asyncio.sleep(seconds)
        return "done"

    def model(messages: list[Message], info: AgentInfo) -> Reply | str:
        return Reply(tool_calls=[call("slow", seconds=30)]) if info.turn == 1 else "never"

    agent = Agent(name="A", tools=[slow], model=FunctionModel(model))
    limit = r"timeout_per_turn=0.5s exceeded in turn 1 while waiting for tool 'slow'"
    with pytest.raises(RunTimeoutError, match=limit):
        Runner.run_sync(agent, "go", config=RunConfig(approver=slow_approver(0.8), timeout_per_turn=0.5))


def test_approval_timeout_rejects_a_call_nobody_decides() -> None:
    never = threading.Event()

    def blocking(request: ApprovalRequest) -> bool:  # a sync approver that never returns (its thread is left)
        never.wait(30)
        return True

    for approver in (slow_approver(60), blocking):
        result = Runner.run_sync(
            mailer(call("send_email", to="a@x.org", body="1")),
            "go",
            config=RunConfig(approver=approver, approval_timeout=0.2),
        )
        assert result.status is RunStatus.COMPLETED, result.error
        (record,) = result.tool_calls
        assert record.approval is not None and record.approval.decided_by == "approval_timeout"
        assert record.error == "the call was not run: no decision within approval_timeout=0.2s"
    never.set()
    assert SENT == []


# -- events, the live view's approver, cancellation ----------------------------------------------------


def test_events_say_a_call_waits_then_runs_or_is_rejected() -> None:
    async def main() -> list[Any]:
        agent = mailer(call("send_email", to="a@x.org", body="1"), call("send_email", to="b@x.org", body="2"))
        config = RunConfig(approver=lambda r: Decision.approve("ok") if r.arguments["to"] == "a@x.org" else False)
        return [e async for e in StreamingRunner(agent).run("go", config=config) if e.call_id]

    seen = arun(main())
    by_call: dict[str, list[Any]] = {}
    for event in seen:
        by_call.setdefault(event.arguments["to"], []).append(event)
    approved, rejected = by_call["a@x.org"], by_call["b@x.org"]
    assert [e.type for e in approved] == ["approval", "tool_call", "tool_result"]
    assert [e.type for e in rejected] == ["approval", "tool_result"]
    assert approved[0].content == "approver <lambda>" and approved[0].approval is None
    assert approved[1].approval is not None and approved[1].approval.approved
    assert rejected[1].approval is not None and rejected[1].error == "the user rejected this call: no reason given"


def test_a_deferred_approver_takes_decisions_from_another_thread() -> None:
    approver = DeferredApprover(name="you")
    agent = mailer(call("send_email", to="a@x.org", body="1"), call("send_email", to="b@x.org", body="2"))
    handle = Runner.start(agent, "go", config=RunConfig(approver=approver))
    waiting: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(waiting) < 2 and time.monotonic() < deadline:
        for event in handle.next_batch(0.5):
            if event.type == "approval":
                assert event.content == "approver you"
                waiting[event.arguments["to"]] = event.call_id
    assert sorted(approver.waiting) == sorted(waiting.values())
    # decided in the other order than asked
    assert approver.decide(waiting["b@x.org"], Decision.reject("no", decided_by="you (live view)"))
    assert approver.decide(waiting["a@x.org"], Decision.approve(decided_by="you (live view)"))
    assert handle.wait(30)
    result = handle.result()
    assert SENT == ["a@x.org"]
    assert {c.arguments["to"]: c.approval.decided_by for c in result.tool_calls if c.approval} == {
        "a@x.org": "you (live view)", "b@x.org": "you (live view)"
    }  # fmt: skip
    assert not approver.decide(waiting["a@x.org"], Decision.approve())  # decided already


def test_cancelling_a_run_that_waits_for_approval_ends_it_cancelled() -> None:
    approver = DeferredApprover()
    handle = Runner.start(mailer(call("send_email", to="a@x.org", body="1")), "go", config=RunConfig(approver=approver))
    deadline = time.monotonic() + 30
    while not approver.waiting and time.monotonic() < deadline:
        handle.next_batch(0.1)
    handle.cancel()
    assert handle.finished
    result = handle.result()
    assert result.status is RunStatus.CANCELLED
    (record,) = result.tool_calls
    assert record.error == "tool 'send_email' was waiting for approval before the run was cancelled; it never ran"
    assert SENT == []
    assert not approver.waiting
