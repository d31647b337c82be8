"""Approval in the browser: a person clicks Approve on one waiting tool call and Reject on the other.

The `%%agent` cell awaits while it follows the run, so the kernel takes the clicks (comm messages)
while the cell is still running (`openstackai_nb/notebook/approvals.py`); this test is the proof
in the real front ends, JupyterLab 4 and Notebook 7.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser._ui import BROKEN_OUTPUT_TEXTS, NotebookUI

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

ROW = "table.osnb-live-tools tbody tr"


def _row(ui: NotebookUI, idx: int, to: str) -> Any:
    return ui.output(idx).locator(ROW, has_text=to)


def _wait(what: str, check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen after {timeout}s")
        time.sleep(0.1)


def test_approve_then_reject_two_calls(page: Any, jupyter: Any, results_dir: Path) -> None:
    ui = NotebookUI(page, jupyter, "approval.ipynb").open()
    ui.run_and_wait(0)
    ui.run_and_wait(1)
    assert "ready" in ui.output(1).inner_text()
    cells = page.locator(".jp-Notebook .jp-Cell").count()

    ui.run(2)
    ana, boss = _row(ui, 2, "ana@example.com"), _row(ui, 2, "boss@example.com")
    _wait(
        "two pending rows with buttons",
        lambda: ana.locator("button").count() == 2 and boss.locator("button").count() == 2,
    )
    assert "osnb-tool-pending" in (ana.get_attribute("class") or "")
    assert "waiting for approval" in ana.inner_text()
    assert "*" in ui.prompt(2)  # the cell is still running: the run waits for you
    ui.shot(ui.cell(2), results_dir / f"{jupyter.kind}-approval-pending.png")

    # Approve the first call: it runs, while the other still waits.
    ana.locator("button", has_text="Approve").click()
    _wait(
        "the approved call ran", lambda: "osnb-tool-ok" in (_row(ui, 2, "ana@example.com").get_attribute("class") or "")
    )
    assert "osnb-tool-pending" in (boss.get_attribute("class") or "")
    assert "*" in ui.prompt(2)

    # Type a reason (real key presses: none may act as a notebook shortcut), then Reject.
    reason = boss.locator("input.osnb-reason")
    reason.click()
    page.keyboard.type("a bad idea")
    assert reason.input_value() == "a bad idea"
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells  # no key acted as a shortcut ("a", "b": new cells)
    boss.locator("button", has_text="Reject").click()
    ui.wait_finished(2)

    out = ui.output(2)
    out.locator(".osnb-run").wait_for()
    assert out.locator(".osnb-live").count() == 0
    static = out.locator(".osnb-run")
    text = static.inner_text()
    assert "COMPLETED" in text
    assert "approved by you (live view)" in text
    assert "the user rejected this call: a bad idea" in text and "rejected by you (live view)" in text
    statuses = sorted(
        r.split("\t")[3].split("\n")[0] for r in static.locator("table.osnb-tools tbody tr").all_inner_texts()
    )
    assert statuses == ["ok", "rejected"], statuses
    ui.shot(ui.cell(2), results_dir / f"{jupyter.kind}-approval-done.png")

    ui.run_and_wait(3)
    assert "after: ['ana@example.com'] ['ok', 'rejected']" in ui.output(3).inner_text()
    body = ui.body_text()
    for bad in BROKEN_OUTPUT_TEXTS:
        assert bad not in body
    page.errors.check()
