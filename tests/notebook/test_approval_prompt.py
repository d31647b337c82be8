"""The pieces of notebook approval that need no kernel: the prompt's answers and the cell transformer."""

from __future__ import annotations

import pytest

from openstackai_nb.notebook import approvals

ROW = {"name": "send_email", "args": '{"to": "ana@example.com"}'}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("y", (True, None, "you (prompt)")),
        ("Yes looks fine", (True, "looks fine", "you (prompt)")),
        ("n", (False, None, "you (prompt)")),
        ("no  not to Ana ", (False, "not to Ana", "you (prompt)")),
        ("too risky", (False, "too risky", "you (prompt)")),
        ("", (False, None, "you (prompt)")),
    ],
)
def test_prompt_answers(answer: str, expected: tuple[bool, str | None, str]) -> None:
    asked: list[str] = []
    assert approvals.prompt_decision(ROW, lambda q: asked.append(q) or answer) == expected
    assert asked == ['Approve send_email({"to": "ana@example.com"})? [y]es / [n]o [reason]: ']


def test_a_front_end_without_input_rejects_saying_so() -> None:
    from IPython.core.error import StdinNotImplementedError

    def no_stdin(question: str) -> str:
        raise StdinNotImplementedError("raw_input was called, but this frontend does not support input requests.")

    approved, reason, by = approvals.prompt_decision(ROW, no_stdin)
    assert (approved, by) == (False, "no approver")
    assert reason == "nobody could be asked: this front end takes no input (StdinNotImplementedError)"


def test_an_interrupt_at_the_prompt_propagates() -> None:
    def interrupted(question: str) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        approvals.prompt_decision(ROW, interrupted)


def test_the_transformer_leaves_cells_alone_outside_a_kernel_that_can_await_clicks() -> None:
    cell = ["get_ipython().run_cell_magic('agent', '--agent a', 'hi\\n')\n"]
    assert approvals.await_agent_cells(cell) == cell  # no IPython kernel here
    assert approvals.await_agent_cells(["x = 1\n"]) == ["x = 1\n"]
    assert not approvals.can_await_clicks(None)
    assert not approvals.in_awaited_cell()
