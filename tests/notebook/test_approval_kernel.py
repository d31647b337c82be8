"""Approval in a real kernel: the live view's Approve / Reject, driven through the widget's comm messages
(what the front end sends on a click), an interrupt while a call waits, and the prompt where no
click can arrive.

First, what makes it possible (measured here, explained in `notebook/approvals.py`): ipykernel
handles a comm message from the front end while a cell *awaits*, never while a cell blocks.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.notebook._kernel import Execution, Kernel, kernel_env

pytestmark = pytest.mark.kernel

SETUP = '''
%load_ext openstackai_nb
import asyncio
from openstackai_nb import Agent, tool
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import Reply, call

SENT = []

@tool(requires_approval=True)
def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return f"sent to {to}"

def model(messages, info):
    if info.turn == 1:
        return Reply(tool_calls=[call("send_email", to="ana@example.com", body="hi"),
                                 call("send_email", to="boss@example.com", body="I quit")])
    return "done: " + " | ".join(str(m.content) for m in messages if m.role == "tool")

mailer = Agent(name="mailer", tools=[send_email], model=FunctionModel(model))
'''


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    tmp = tmp_path_factory.mktemp("approval")
    k = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp / "h.sqlite")), str(tmp))
    ex = k.execute(SETUP)
    assert ex.error is None, ex.error
    yield k
    k.close()


def click(kernel: Kernel, comm_id: str, call_id: str, approve: bool, reason: str = "") -> None:
    """Send what live_view.js sends on a click: a custom message on the widget's comm."""
    content = {"kind": "approval", "call_id": call_id, "approve": approve, "reason": reason}
    msg = kernel.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}})
    kernel.kc.shell_channel.send(msg)


class LiveView:
    """Follows the live view's iopub messages: its comm, its approvals trait, its pending rows."""

    def __init__(self) -> None:
        self.comm_id: str | None = None
        self.approvals: str | None = None
        self.pending: dict[str, str] = {}  # call id -> the row's arguments text, in the order they showed
        self.statuses: list[str] = []

    def see(self, msg: dict[str, Any]) -> list[str]:
        """Take one iopub message; return the ids of rows that just became pending."""
        content = msg["content"]
        if msg["msg_type"] == "comm_open" and self.comm_id is None:
            state = content.get("data", {}).get("state", {})
            if "approvals" in state:
                self.comm_id, self.approvals = content["comm_id"], state["approvals"]
            return []
        data = content.get("data", {}) if msg["msg_type"] == "comm_msg" else {}
        rows = data.get("state", {}).get("tools", {}).get("rows", []) if data.get("method") == "update" else []
        new = []
        for html in rows:
            self.statuses += re.findall(r"osnb-tool-(\w+)' data-call-id", html)
            for call_id in re.findall(r"osnb-tool-pending' data-call-id='([^']+)'", html):
                if call_id not in self.pending:
                    self.pending[call_id] = html
                    new.append(call_id)
        return new


def static_text(ex: Execution) -> str:
    outs = ex.final_outputs()
    assert len(outs) == 1, [list(o["data"]) for o in outs]
    return outs[0]["data"]["text/plain"]


def test_a_blocking_cell_gets_comm_messages_only_after_it_ends_an_awaiting_cell_at_once(kernel: Kernel) -> None:
    # The measurement behind the design: why a %%agent cell that may need a click awaits.
    ex = kernel.execute(
        "import anywidget, threading\n"
        "class _Probe(anywidget.AnyWidget):\n"
        "    _esm = 'export default { render() {} }'\n"
        "probe, got = _Probe(), threading.Event()\n"
        "probe.on_msg(lambda widget, content, buffers: got.set())\n"
        "print(probe.comm.comm_id)"
    )
    comm_id = ex.stdout.strip()

    def send_soon() -> None:
        time.sleep(0.5)
        msg = kernel.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": {}}})
        kernel.kc.shell_channel.send(msg)

    threading.Thread(target=send_soon).start()
    blocking = kernel.execute("print(got.wait(3))")  # the main thread waits: no message is handled meanwhile
    assert blocking.stdout.strip() == "False"
    assert kernel.execute("print(got.is_set()); got.clear()").stdout.strip() == "True"  # handled after the cell

    threading.Thread(target=send_soon).start()
    awaiting = kernel.execute(
        "for _ in range(150):\n    if got.is_set():\n        break\n    await asyncio.sleep(0.02)\nprint(got.is_set())"
    )
    assert awaiting.stdout.strip() == "True"


def test_approve_and_reject_from_the_live_view(kernel: Kernel) -> None:
    view = LiveView()

    def on_msg(msg: dict[str, Any]) -> None:
        for call_id in view.see(msg):
            assert view.comm_id is not None
            if "ana@" in view.pending[call_id]:
                click(kernel, view.comm_id, call_id, True)
            else:
                click(kernel, view.comm_id, call_id, False, "never to the boss")

    kernel.execute("SENT.clear()")
    ex = kernel.execute("%%agent --agent mailer -o r\nmail them", on_msg=on_msg)
    assert ex.error is None, ex.error
    assert view.approvals == "buttons"
    assert len(view.pending) == 2
    assert {"pending", "ok", "rejected"} <= set(view.statuses)
    text = static_text(ex)
    assert "[ok] send_email" in text and "approved by you (live view)" in text
    assert "[rejected] send_email" in text and "the user rejected this call: never to the boss" in text
    check = kernel.execute(
        "print(r.status.value, SENT)\n"
        "print(sorted((c.status, c.approval.decided_by, c.approval.reason) for c in r.tool_calls))"
    )
    assert check.stdout.splitlines() == [
        "COMPLETED ['ana@example.com']",
        "[('ok', 'you (live view)', None), ('rejected', 'you (live view)', 'never to the boss')]",
    ]
    html = ex.final_outputs()[0]["data"]["text/html"]
    assert "osnb-tool-rejected" in html and "rejected by you (live view)" in html  # the saved copy shows it
    history = kernel.execute(
        "from openstackai_nb import history\n"
        "calls = history.filter(run_ids=[r.run_id]).tool_calls_dataframe()\n"
        "print(sorted(calls['approval']))"
    )
    assert history.stdout.strip() == "['approved', 'rejected']"


def test_an_interrupt_while_a_call_waits_cancels_the_run(kernel: Kernel) -> None:
    kernel.execute("SENT.clear()")
    view = LiveView()
    interrupted: list[bool] = []

    def on_msg(msg: dict[str, Any]) -> None:
        if view.see(msg) and not interrupted:
            interrupted.append(True)
            kernel.km.interrupt_kernel()

    ex = kernel.execute("%%agent --agent mailer -o stopped\nmail them", on_msg=on_msg)
    assert interrupted and ex.error is None, ex.error  # the cell ends normally, showing the run
    text = static_text(ex)
    assert "CANCELLED" in text and "interrupted" in text
    check = kernel.execute("print(stopped.status.value, SENT, {c.error for c in stopped.tool_calls})")
    assert check.stdout.strip() == (
        "CANCELLED [] {\"tool 'send_email' was waiting for approval before the run was cancelled; it never ran\"}"
    )
    assert kernel.execute("print(6 * 7)").stdout.strip() == "42"  # the kernel goes on


def test_a_cell_that_cannot_await_asks_by_a_prompt(kernel: Kernel) -> None:
    kernel.execute("SENT.clear()")
    answers = iter(["y", "n not today"])
    prompts: list[str] = []
    stop = threading.Event()

    def answer_prompts() -> None:
        try:
            while not stop.is_set():
                try:
                    msg = kernel.kc.get_stdin_msg(timeout=0.1)
                except Exception:  # noqa: BLE001 - queue.Empty
                    continue
                prompts.append(msg["content"]["prompt"])
                kernel.kc.input(next(answers))
        finally:  # jupyter_core's run_sync gave this thread an event loop of its own: close it
            from jupyter_core.utils import ensure_event_loop

            ensure_event_loop().close()

    thread = threading.Thread(target=answer_prompts)
    thread.start()
    try:
        # Called from code (here, after another line), the magic cannot make its cell await: it asks
        # with input() instead.
        ex = kernel.execute(
            "SENT.clear()\nget_ipython().run_cell_magic('agent', '--agent mailer -o asked', 'mail them')"
        )
    finally:
        stop.set()
        thread.join()
    assert ex.error is None, ex.error
    assert [p.split("(")[0] for p in prompts] == ["Approve send_email", "Approve send_email"]
    check = kernel.execute("print(sorted((c.status, c.approval.decided_by) for c in asked.tool_calls))")
    assert check.stdout.strip() == "[('ok', 'you (prompt)'), ('rejected', 'you (prompt)')]"
    assert "the user rejected this call: not today" in static_text(ex)


def test_an_agent_with_its_own_approver_needs_no_click(kernel: Kernel) -> None:
    ex = kernel.execute(
        "SENT.clear()\nscripted = mailer.clone(approver=lambda request: request.arguments['to'].startswith('ana'))"
    )
    assert ex.error is None, ex.error
    view = LiveView()
    ex = kernel.execute("%%agent --agent scripted -o own\nmail them", on_msg=view.see)
    assert ex.error is None, ex.error
    assert view.approvals == ""  # no buttons: the agent decides
    assert "approved by approver <lambda>" in static_text(ex)
    assert kernel.execute("print(SENT)").stdout.strip() == "['ana@example.com']"
