"""Following a run from a cell: read its events in the kernel's main thread and feed a presenter.

The presenter (`presenters.py`, `widgets.WidgetPresenter`) shows; this module decides *when*:
events are read as they come and handed to the presenter, which coalesces them; a flush goes
out at most `FLUSH_HZ` times per second, and a small text delta waits (up to `MAX_DELTA_WAIT`)
for more text, since each message costs its headers.

- `drive` blocks the cell while it reads (`RunHandle.next_batch`): the kernel's interrupt
  button arrives as KeyboardInterrupt, which cancels the run; the CANCELLED "done" event still
  arrives and the cell ends normally. A call that waits for approval is asked about with a
  prompt (`approvals.prompt_decision`): a blocked cell takes no click.
- `drive_async` does the same between awaits, in a cell that awaits (`approvals.py` says when):
  the kernel handles the live view's clicks meanwhile, and its interrupt button cancels the
  cell's task, which cancels the run.

(Formerly part of `notebook/widgets.py`; `widgets.drive` and `widgets.drive_async` still work,
with a DeprecationWarning.)
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from openstackai_nb.notebook.approvals import prompt_decision

if TYPE_CHECKING:
    from openstackai_nb.notebook.presenters import Presenter
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner import RunHandle

__all__ = ["FLUSH_HZ", "MAX_DELTA_WAIT", "MIN_DELTA_CHARS", "POLL_S", "SETTLE_WAIT", "drive", "drive_async"]

FLUSH_HZ = 30
"""Most flushes (messages carrying text) per second sent to a live view."""
MIN_DELTA_CHARS = 1000
"""A smaller text delta waits (up to MAX_DELTA_WAIT) for more text: each message costs ~0.5 KB of
headers, so a slow model streaming a few tokens at a time would otherwise send mostly headers."""
MAX_DELTA_WAIT = 0.25
"""Longest time streamed text waits before it is shown."""
POLL_S = 0.02
"""How often `drive_async` looks for new events while it awaits (the cell takes clicks meanwhile)."""
SETTLE_WAIT = 5.0
"""Longest the cell waits, after the run's "done" event, for the run's task to end (it only
re-raises a timeout or a cancellation then)."""


def drive(stream: RunHandle, presenter: Presenter) -> tuple[RunResult | None, bool]:
    """Read the run's events in this thread and feed them to `presenter` until it ends.

    A KeyboardInterrupt (the kernel's interrupt button) cancels the run, drains the remaining
    events (the "done" event carries the CANCELLED result with the partial text) and returns
    normally, so the kernel stays usable. A call that waits for your approval is asked about with
    a prompt (`approvals.prompt_decision`): this thread is busy, so no click could arrive.

    Returns:
        The RunResult from the "done" event (None if the run ended without one) and whether the
        run was interrupted.
    """
    try:
        result = _pump(stream, presenter)
        interrupted = False
    except KeyboardInterrupt:
        stream.cancel()
        result = _drain(stream, presenter)
        interrupted = True
    _settle(stream)
    return result, interrupted


def _settle(stream: RunHandle) -> None:
    # The "done" event comes just before the run's task ends (raising TimeoutError or
    # CancelledError by contract): wait for the end and read its outcome, so asyncio never logs
    # "Task exception was never retrieved".
    stream.wait(SETTLE_WAIT)
    stream.outcome()


async def drive_async(stream: RunHandle, presenter: Presenter) -> tuple[RunResult | None, bool]:
    """`drive` for a cell that awaits: poll the run's events between awaits, so clicks arrive meanwhile.

    The kernel's interrupt button cancels an awaiting cell's task: that cancellation cancels the
    run, as KeyboardInterrupt does in `drive`, and is then absorbed (the cell ends normally and
    shows the CANCELLED run).
    """
    try:
        result = await _pump_async(stream, presenter)
        interrupted = False
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        stream.cancel()
        result = _drain(stream, presenter)
        interrupted = True
    _settle(stream)
    return result, interrupted


def _ask_waiting(presenter: Presenter) -> None:
    """Ask, by a prompt, about the calls that wait for your decision (each once)."""
    if not presenter.waiting:
        return
    presenter.flush()
    for call_id, row in list(presenter.waiting.items()):
        approved, reason, by = prompt_decision(row)
        presenter.decide(call_id, approved, reason, by=by)
        presenter.waiting.pop(call_id, None)


async def _pump_async(stream: RunHandle, presenter: Presenter) -> RunResult | None:
    # `_pump`, awaiting where `_pump` blocks: the kernel takes clicks (and the interrupt) there.
    interval = 1.0 / FLUSH_HZ
    last = 0.0
    while True:
        events = stream.next_batch(0)
        if not events:
            await asyncio.sleep(POLL_S)
            events = stream.next_batch(0)
        done = presenter.feed(events)
        if done is not None:
            presenter.flush()
            return done
        if not events and stream.finished:
            return _drain(stream, presenter)
        now = time.monotonic()
        due = last + interval
        if presenter.pending_chars < MIN_DELTA_CHARS and not presenter.rows_changed:
            due = max(due, last + MAX_DELTA_WAIT)
        if now < due and presenter.pending:
            await asyncio.sleep(min(due - now, interval))
            continue
        presenter.flush()
        last = time.monotonic()


def _pump(stream: RunHandle, presenter: Presenter) -> RunResult | None:
    interval = 1.0 / FLUSH_HZ
    last = 0.0
    while True:
        events = stream.next_batch(0.25)
        done = presenter.feed(events)
        if done is not None:
            presenter.flush()  # the live view's last state is the whole run, rows included
            return done
        if presenter.approvals is not None and not getattr(presenter, "buttons", False):
            _ask_waiting(presenter)
        if not events and stream.finished:
            return _drain(stream, presenter)
        now = time.monotonic()
        due = last + interval
        if presenter.pending_chars < MIN_DELTA_CHARS and not presenter.rows_changed:
            due = max(due, last + MAX_DELTA_WAIT)
        if now < due and presenter.pending:
            # Let more text arrive so it goes out as one delta: at most FLUSH_HZ flushes per second,
            # and small deltas only every MAX_DELTA_WAIT seconds.
            time.sleep(min(due - now, interval))
            continue
        presenter.flush()
        last = time.monotonic()


def _drain(stream: RunHandle, presenter: Presenter) -> RunResult | None:
    while True:
        events = stream.next_batch(0.5)
        done = presenter.feed(events)
        if done is not None:
            return done
        if not events and stream.finished:
            return None
