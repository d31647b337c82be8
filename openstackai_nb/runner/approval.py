# pyright: strict
"""Tool calls that wait for approval: who decides, the wait, and the clock that stops meanwhile.

A call of a tool that needs approval (`tool(requires_approval=True)`,
`Agent(requires_approval=True)`) asks the run's approver before it runs (`ask_approver`). The
approver is the first of:

1. `RunConfig(approver=...)`;
2. the agent's own (`Agent(approver=fn)`);
3. none: the call is rejected with an error that says how to approve (`NO_APPROVER`). A
   `%%agent` cell passes a `DeferredApprover` as `RunConfig.approver`, which waits for the live
   view's Approve / Reject buttons (or a prompt) from the kernel's main thread.

An async approver is awaited on the run's loop; a sync one runs in a tool thread (the package's
pool, `_tool_calls`), so a blocking one (`input()` in a script) stalls nothing else. Whatever the
approver returns or raises becomes a `results.Approval`: an exception, a value that is not a
decision, or no decision within `RunConfig.approval_timeout` rejects the call, and the run goes on.

Time limits: while any call of the run waits for a decision, the run's clock stops (`Clock`):
the turn's `asyncio.timeout_at` is moved out of the way, and when the last wait ends the turn's
deadline and `max_time`'s move later by the time spent waiting. So a person who takes ten
minutes to click costs neither `timeout_per_turn` nor `max_time`; `approval_timeout` is the one
limit on the wait itself. Calls that run in parallel with a wait (other calls of the same turn)
are not timed while the clock is stopped: the clock measures the run's own work, and a wait is
nobody's work.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from openstackai_nb._secrets import scrub
from openstackai_nb._tool_calls import CallProgress, run_in_tool_thread
from openstackai_nb._warnings import renamed
from openstackai_nb.results import Approval
from openstackai_nb.tools import ApprovalRequest, Decision

if TYPE_CHECKING:
    from openstackai_nb.tools import Approver

__all__ = [
    "Clock",
    "DeferredApprover",
    "NOT_DECIDED",
    "NO_APPROVER",
    "ask_approver",
    "decide",
    "name_of",
    "rejection_text",
]

NO_APPROVER = (
    "tool {name!r} needs approval and this run has no approver. To approve calls, "
    "pass RunConfig(approver=fn) or Agent(approver=fn), where fn(request) returns Decision.approve() or "
    "Decision.reject(reason) (True/False also work; `async def` too); or run the agent in a %%agent cell "
    "of a notebook, whose live view asks you"
)
"""The reason recorded (and read by the model) when a call needing approval has no approver."""


NOT_DECIDED = ("no approver", "approval_timeout")
"""`Approval.decided_by` of rejections nobody chose (with an approver that failed: "approver X (failed)")."""


def rejection_text(approval: Approval) -> str:
    """What the model reads (and `ToolCall.error` holds) for a call that was not approved.

    A decision: "the user rejected this call: <reason>". No decision (no approver, the approver
    failed, approval_timeout): "the call was not run: <why>".
    """
    if approval.decided_by in NOT_DECIDED or approval.decided_by.endswith("(failed)"):
        return f"the call was not run: {approval.reason}"
    return f"the user rejected this call: {approval.reason or 'no reason given'}"


class Clock:
    """The run's deadlines, stopped while any of its tool calls waits for a decision.

    The run loop sets `run_deadline` once and each turn's timeout with `turn`; `pause` and
    `resume` bracket each wait (waits may overlap: the clock runs again when the last ends).
    """

    def __init__(self, run_deadline: float = 0.0) -> None:
        self.run_deadline = run_deadline
        """When `max_time` runs out (event loop time), moved later by every wait."""
        self.paused = 0.0
        """Seconds the clock was stopped so far."""
        self._timeout: asyncio.Timeout | None = None
        self._deadline = 0.0
        self._waits = 0
        self._since = 0.0

    def turn(self, timeout: asyncio.Timeout | None, deadline: float) -> None:
        """The turn's timeout (entered) and its deadline; None once the turn is over."""
        self._timeout, self._deadline = timeout, deadline

    def pause(self) -> None:
        """A call starts waiting: stop the clock (the turn's timeout cannot fire meanwhile)."""
        self._waits += 1
        if self._waits > 1:
            return
        self._since = asyncio.get_running_loop().time()
        self._reschedule(None)

    def resume(self) -> None:
        """A wait ended: when it was the last, move the deadlines by the time the clock stood still."""
        self._waits -= 1
        if self._waits:
            return
        gap = asyncio.get_running_loop().time() - self._since
        self.paused += gap
        self.run_deadline += gap
        self._deadline += gap
        self._reschedule(self._deadline)

    def _reschedule(self, when: float | None) -> None:
        timeout = self._timeout
        if timeout is None or timeout.expired():
            return  # no turn, or its limit was reached before the wait began: it ends as it would have
        try:
            timeout.reschedule(when)
        except RuntimeError:  # the turn's timeout was left already (the turn is over)
            pass


async def ask_approver(
    approver: Approver | None, request: ApprovalRequest, *, timeout: float | None, clock: Clock
) -> Approval:
    """Ask `approver` about one call (the clock stopped meanwhile); every outcome is an Approval.

    (The approver decides: `DeferredApprover.decide` is how a decision reaches one that waits.)
    """
    t0 = time.monotonic()
    clock.pause()
    try:
        approved, reason, by = await _ask(approver, request, timeout)
    finally:
        clock.resume()
    return Approval(
        approved=approved,
        decided_by=scrub(by),
        decided_at=datetime.now(UTC),
        reason=None if reason is None else scrub(reason),
        waited=time.monotonic() - t0,
    )


async def _ask(
    approver: Approver | None, request: ApprovalRequest, timeout: float | None
) -> tuple[bool, str | None, str]:
    if approver is None:
        return False, NO_APPROVER.format(name=request.name), "no approver"
    who = f"approver {name_of(approver)}"
    progress = CallProgress()
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            value = await _call(approver, request, progress)
    except TimeoutError:
        if limit.expired():
            return False, f"no decision within approval_timeout={timeout:g}s", "approval_timeout"
        return False, f"the {who} raised TimeoutError", f"{who} (failed)"
    except Exception as exc:  # noqa: BLE001 - an approver's failure rejects the call; the run goes on
        return False, f"the {who} raised {type(exc).__name__}: {_text_of(exc)}", f"{who} (failed)"
    if isinstance(value, bool):
        return value, None, who
    if isinstance(value, Decision):
        reason = None if value.reason is None else str(value.reason)
        return bool(value.approved), reason, value.decided_by or who
    return False, f"the {who} returned a {type(value).__name__}, not a Decision or True/False", f"{who} (failed)"


async def _call(approver: Approver, request: ApprovalRequest, progress: CallProgress) -> Any:
    if _is_async(approver):
        return await approver(request)  # type: ignore[misc]
    value = await run_in_tool_thread(functools.partial(approver, request), {}, progress)
    return await value if inspect.isawaitable(value) else value


async def decide(
    approver: Approver | None, request: ApprovalRequest, *, timeout: float | None, clock: Clock
) -> Approval:
    """Deprecated: the old name of `ask_approver` (it asks; `DeferredApprover.decide` decides)."""
    # runner/tool_calls.py still calls this name (silently: see `_warnings.renamed`).
    renamed("runner.approval.decide(...)", "runner.approval.ask_approver(...)")
    return await ask_approver(approver, request, timeout=timeout, clock=clock)


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def name_of(fn: Any) -> str:
    """How records name an approver: its `__name__` (a function's name), else its class's."""
    target = fn.func if isinstance(fn, functools.partial) else fn
    return getattr(target, "__name__", None) or type(target).__name__


def _text_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ of any kind must not hide the error itself
        return f"<{type(exc).__name__} whose message cannot be shown>"


class DeferredApprover:
    """An approver whose decisions come later, from another thread: the notebook's live view.

    The run awaits it like any async approver; the view (the kernel's main thread) calls
    `decide(call_id, Decision)` when you click, which hands the decision to the run's loop
    thread-safely. A decision given before the run asked (it cannot be, from a click, but may
    from a script) is kept until it does.

    Example:
        >>> approver = DeferredApprover()
        >>> approver.decide("call_1", Decision.approve())  # before the run asked: kept
        True
    """

    def __init__(self, name: str = "deferred") -> None:
        self.__name__ = name
        """How the run names this approver in its "approval" events ("approver <name>")."""
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Decision]]] = {}
        self._early: dict[str, Decision] = {}
        self._finished: set[str] = set()

    async def __call__(self, request: ApprovalRequest) -> Decision:
        """Wait until `decide` is called for this call."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        with self._lock:
            early = self._early.pop(request.call_id, None)
            if early is None:
                self._waiting[request.call_id] = (loop, future)
        if early is not None:
            return early
        try:
            return await future
        finally:
            with self._lock:
                self._waiting.pop(request.call_id, None)
                self._finished.add(request.call_id)

    @property
    def waiting(self) -> list[str]:
        """The ids of the calls waiting for a decision now."""
        with self._lock:
            return list(self._waiting)

    def decide(self, call_id: str, decision: Decision) -> bool:
        """Give the decision for one call (from any thread); False when that call no longer waits."""
        if not isinstance(decision, Decision):  # pyright: ignore[reportUnnecessaryIsInstance] - called from user code
            raise TypeError(f"decide() needs a Decision, got {type(decision).__name__}")
        with self._lock:
            if call_id in self._finished:
                return False
            entry = self._waiting.pop(call_id, None)
            if entry is None:
                self._early[call_id] = decision
                return True
        loop, future = entry
        try:
            loop.call_soon_threadsafe(_settle, future, decision)
        except RuntimeError:  # the loop is closed: nobody waits any more
            return False
        return True


def _settle(future: asyncio.Future[Decision], decision: Decision) -> None:
    if not future.done():
        future.set_result(decision)
