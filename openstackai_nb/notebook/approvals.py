"""Deciding about tool calls from a notebook: the live view's buttons, and a prompt where they cannot work.

Why a `%%agent` cell must *await* for the buttons to work (measured with ipykernel 7.4 in
JupyterLab 4; `tests/notebook/test_approval_kernel.py` and the browser test check it):

- a click reaches the kernel as a comm message on the shell channel. ipykernel's shell-channel
  thread receives it at once, but hands it to the main thread's event loop, the one that runs
  cells. A cell that blocks the main thread (as the live view's reader did, waiting on a
  thread-safe queue) keeps that loop from running: the message is handled only after the cell
  ends, so a cell waiting for a click waits forever (a run stuck on an approval nobody can give);
- since ipykernel 7.4 ("Allow async cell to process Comm messages", ipykernel PR 1565), comm
  messages are dispatched *while a cell awaits*: the kernel's loop runs between the cell's
  awaits, takes the message without waiting for the cell to end, and calls the widget's
  `on_msg` handler on the main thread.

So a `%%agent` cell runs as an awaiting cell where the kernel can take clicks meanwhile: an
IPython input transformer (`await_agent_cells`, registered by `%load_ext openstackai_nb` in the
public `input_transformers_cleanup`, which runs before IPython reads magics) reads our own
`%%agent` syntax and writes the cell as ``await ...awaited(LINE, BODY)``; the top-level await
makes it a coroutine (IPython's autoawait). `awaited` calls the magic through the public
`run_cell_magic`; for a run that may ask for approval the magic returns a coroutine that follows
the run with `driver.drive_async`, which polls the run's events between
`await asyncio.sleep(...)`; a click arrives meanwhile through `on_msg`. In an awaiting cell, the
kernel's interrupt button cancels the cell's task instead of raising KeyboardInterrupt:
`drive_async` turns that cancellation into cancelling the run (CANCELLED). Any other `%%agent`
run is followed as before, blocking, with Python's SIGINT handler back in place, so the
interrupt button raises KeyboardInterrupt in it as in any cell. Whether the kernel awaits such
a cell, and how it handles SIGINT meanwhile, has no public API: `_ipython_internals.py` holds
both reliances, with the versions checked and the tests that fail when they change.

Elsewhere (terminal IPython, a kernel without anywidget, ipykernel before 7.4, a `%%agent` run
through `run_cell_magic` from code, `--quiet`) the live view cannot take a click while the cell
runs, so the run asks by a prompt instead (`prompt_decision`, Python's `input()`, which every
Jupyter front end shows as an input box); a front end that takes no input (nbclient, nbval)
leaves the call rejected with a reason saying so.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable
from typing import Any

from openstackai_nb.notebook._ipython_internals import interrupt_raises, kernel_awaits_cells

__all__ = [
    "LIVE_VIEW",
    "PROMPT",
    "await_agent_cells",
    "awaited",
    "can_await_clicks",
    "in_awaited_cell",
    "prompt_decision",
]

LIVE_VIEW = "you (live view)"
"""`Approval.decided_by` of a decision taken with the live view's buttons."""
PROMPT = "you (prompt)"
"""`Approval.decided_by` of a decision typed at the prompt."""
_AWAITED: contextvars.ContextVar[bool] = contextvars.ContextVar("openstackai_nb_awaited_cell", default=False)
_MAGIC = "agent"


def can_await_clicks(shell: Any) -> bool:
    """True when a cell of `shell` that awaits receives comm messages (clicks) meanwhile.

    That takes an IPython kernel (ipykernel) of version 7.4 or later, autoawait on, with the
    asyncio runner, in the main thread (`_ipython_internals.kernel_awaits_cells`).
    """
    if getattr(shell, "kernel", None) is None or threading.current_thread() is not threading.main_thread():
        return False
    return kernel_awaits_cells(shell)


def await_agent_cells(lines: list[str]) -> list[str]:
    """IPython input transformer (cleanup stage): a `%%agent` cell becomes an awaited call of the same magic.

    Reads the cell as IPython's own cell-magic transform does (name and line from the first line,
    the rest is the body) before that transform runs, and writes it as
    ``await <approvals>.awaited(LINE, BODY)``. Any other cell, `%%agent?` (help) and a kernel
    where awaiting would not let clicks in (`can_await_clicks`) keep the cell as it is, for
    IPython to run the magic as usual.
    """
    if not lines or not lines[0].startswith("%%"):
        return lines
    name, _, line = lines[0][2:].rstrip().partition(" ")
    if name != _MAGIC:
        return lines
    from IPython import get_ipython

    if not can_await_clicks(get_ipython()):
        return lines
    body = "".join(lines[1:])
    return [f"await __import__({__name__!r}, fromlist=['awaited']).awaited({line!r}, {body!r})\n"]


async def awaited(line: str, cell: str) -> Any:
    """Run the `%%agent` magic in an awaiting cell: await what it returns when it needs to await.

    The magic runs through `run_cell_magic` with the default SIGINT handler (KeyboardInterrupt, as
    in a cell that does not await: `_ipython_internals.interrupt_raises`); the coroutine it
    returns, if any, under the kernel's own (which cancels the cell). The options' ``{name}``
    expansion sees the notebook's names: this coroutine is called from the cell itself.

    Args:
        line: the options, as written after `%%agent`.
        cell: the cell's body (the prompt).
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:  # pragma: no cover - only a transformed cell calls this, inside IPython
        raise RuntimeError("awaited() runs a %%agent cell: it needs IPython")
    token = _AWAITED.set(True)
    try:
        with interrupt_raises():
            value = shell.run_cell_magic(_MAGIC, line, cell)
    finally:
        _AWAITED.reset(token)
    if inspect.iscoroutine(value):
        return await value
    return value


def in_awaited_cell() -> bool:
    """True inside `awaited`: the magic may return a coroutine, which the cell awaits."""
    return _AWAITED.get()


def prompt_decision(row: dict[str, Any], ask: Callable[[str], str] = input) -> tuple[bool, str | None, str]:
    """Ask about one waiting call with `input()`: (approved, reason, who decided).

    "y" or "yes" approves; anything else rejects, and the words after a leading "n"/"no" (or the
    whole answer) are the reason. A front end that takes no input rejects the call.
    """
    question = f"Approve {row.get('name', '')}({row.get('args', '')})? [y]es / [n]o [reason]: "
    try:
        answer = ask(question)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - StdinNotImplementedError (nbclient, nbval) and the like
        return False, f"nobody could be asked: this front end takes no input ({type(exc).__name__})", "no approver"
    words = answer.strip()
    head, _, rest = words.partition(" ")
    if head.lower() in ("y", "yes"):
        return True, rest.strip() or None, PROMPT
    if head.lower() in ("n", "no"):
        return False, rest.strip() or None, PROMPT
    return False, words or None, PROMPT
