"""Approval decisions in the static copy (HTML, markdown, text) and in the live rows: the same row builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openstackai_nb import render
from openstackai_nb.events import StreamEvent
from openstackai_nb.notebook.presenters import Presenter
from openstackai_nb.results import Approval, RunResult, RunStatus, ToolCall
from openstackai_nb.runner.approval import DeferredApprover

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = "sk-test-SECRET-0123456789abcdef"


def _approval(approved: bool, reason: str | None = None, waited: float = 2.5) -> Approval:
    return Approval(approved=approved, decided_by="you (live view)", decided_at=T0, reason=reason, waited=waited)


def _run() -> RunResult:
    approved = ToolCall(
        call_id="call_1", name="pay", arguments={"amount": 5}, result="paid 5", turn=1, elapsed_time=0.25,
        started_at=T0 + timedelta(seconds=2.5), approval=_approval(True),
    )  # fmt: skip
    rejected = ToolCall(
        call_id="call_2", name="pay", arguments={"amount": 500}, error="the user rejected this call: too much",
        turn=1, started_at=T0 + timedelta(seconds=1), approval=_approval(False, "too much", 1.5),
    )  # fmt: skip
    return RunResult(
        run_id="run_0123456789abcdef", status=RunStatus.COMPLETED, final_output="ok", agent_name="A",
        model="scripted", input="pay", turn_count=2, started_at=T0, tool_calls=[rejected, approved],
    )  # fmt: skip


def test_the_static_copy_shows_who_decided_in_the_order_the_calls_were_asked() -> None:
    rows = render.tool_rows(_run().tool_calls)
    assert [(r["call_id"], r["status"]) for r in rows] == [("call_1", "ok"), ("call_2", "rejected")]
    assert rows[0]["note"] == "approved by you (live view) after 2.5 s"
    assert rows[1]["note"] == "rejected by you (live view) after 1.5 s"
    assert rows[1]["duration"] is None and rows[1]["result"] == "the user rejected this call: too much"

    html = render.run_html(_run())
    assert "osnb-tool-rejected" in html and "rejected by you (live view) after 1.5 s" in html
    markdown = render.run_markdown(_run())
    assert "rejected (rejected by you (live view) after 1.5 s)" in markdown
    text = render.run_text(_run())
    assert '[rejected] pay({"amount": 500}) -> the user rejected this call: too much [rejected by' in text
    assert '[ok] pay({"amount": 5}) -> paid 5 (0.25s) [approved by you (live view) after 2.5 s]' in text


def test_a_reason_with_a_key_is_scrubbed_everywhere() -> None:
    from openstackai_nb._secrets import register_secret

    register_secret(KEY)
    run = _run()
    run.tool_calls[0].approval = _approval(False, f"key {KEY}")
    run.tool_calls[0].approval.decided_by = f"bot {KEY}"  # type: ignore[union-attr]
    for copy in (render.run_html(run), render.run_markdown(run), render.run_text(run)):
        assert KEY not in copy


def test_live_rows_go_pending_then_running_or_rejected() -> None:
    presenter = Presenter(approvals=DeferredApprover())
    base = {"tool_name": "pay", "arguments": {"amount": 5}, "call_id": "call_9", "turn": 1}
    presenter.feed([StreamEvent("approval", content="approver you", **base)])  # type: ignore[arg-type]
    assert presenter.rows["call_9"]["status"] == "pending"
    assert presenter.rows["call_9"]["note"] == "waiting for approval"
    assert list(presenter.waiting) == ["call_9"]
    assert render.tool_row_html(presenter.rows["call_9"], False).startswith(
        "<tr class='osnb-tool osnb-tool-pending' data-call-id='call_9'>"
    )
    presenter.feed([StreamEvent("tool_call", approval=_approval(True), **base)])  # type: ignore[arg-type]
    assert presenter.rows["call_9"]["status"] == "running" and not presenter.waiting
    assert presenter.rows["call_9"]["note"] == "approved by you (live view) after 2.5 s"

    other = Presenter()  # an approver other than you: the row says who is asked
    other.feed([StreamEvent("approval", content="approver check", **base)])  # type: ignore[arg-type]
    assert other.rows["call_9"]["note"] == "waiting for approval (approver check)" and not other.waiting
    rejected = _approval(False, "no")
    other.feed(
        [StreamEvent("tool_result", error="the user rejected this call: no", approval=rejected, **base)]  # type: ignore[arg-type]
    )
    assert other.rows["call_9"]["status"] == "rejected" and other.rows["call_9"]["duration"] is None
