"""The one way to watch a run: `RunObserver`, and which observers a run has.

History, OpenTelemetry, cassette recording and the views (the event pump) are observers. The
run loop calls each hook on its own event loop's thread, in order, never concurrently for one
run; a hook must not block (hand slow work to a thread, as the history's writer does) and never
breaks a run: whatever it raises is logged once per observer and hook, and the run goes on.

Which observers a run has is decided in one place, here: `RunConfig(observers=...)` for one
run, else the session's (`set_default_observers`), else `DEFAULT_OBSERVERS`, named below as
import paths and imported on the first run, so importing the package installs nothing and the
runner never imports the history, the tracing or the cassettes.

The hooks (openai-agents' `RunHooksBase` and tracing processors are the model):

- `run_started(run, agent)`: the run is RUNNING; its messages, agent name, model are known
  (`agent`: the `Agent` it runs, e.g. its tools' descriptions for OpenTelemetry).
- `wrap_model(run, model)`: once per run, before the first model call: an observer that must
  see every delta (the cassette) returns a wrapping model; the others return `model`.
- `span_started(run, span)` / `span_ended(run, span)`: a turn (`span.kind == "turn"`), a model
  call ("model"), a tool call ("tool") or an approval wait ("approval") opened / closed (its
  duration, outcome and attributes final).
- `model_retry(run, reason, delay)`: the model call in progress will be retried after `delay`.
- `event(run, event)`: every `StreamEvent` views see (the loop builds events only when some
  observer of the run overrides this hook).
- `run_still_running(run)`: the run has been going `RUNNING_RECORD_DELAY` seconds (the history
  writes its RUNNING row then, so short runs cost one write).
- `run_ended(run, failure)`: the run's status, output and usage are final. May return an
  awaitable (async-aware): the loop awaits it (at most `DURABLE_WAIT` seconds) before the "done"
  event and before the run returns; inside `batch()` it is awaited when the batch ends instead.
- `batch_ended()`: `async`; a `batch()` block ended (compare's runs all finished).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import importlib
import logging
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.events import StreamEvent
    from openstackai_nb.models.base import Model
    from openstackai_nb.results import RunResult, Span

__all__ = [
    "DEFAULT_OBSERVERS",
    "DURABLE_WAIT",
    "EventPump",
    "HOOKS",
    "RUNNING_RECORD_DELAY",
    "RunHooks",
    "RunObserver",
    "batch",
    "default_observers",
    "for_run",
    "in_batch",
    "report_unstarted",
    "set_default_observers",
]

logger = logging.getLogger("openstackai_nb")

RUNNING_RECORD_DELAY = 0.25
"""Seconds after which a run still going is reported to `run_still_running`."""
DURABLE_WAIT = 10.0
"""Longest a run waits for what its observers' `run_ended` returned: a stuck disk delays a
run's end, never hangs it."""

DEFAULT_OBSERVERS: tuple[str, ...] = (
    "openstackai_nb.store.session:HistoryObserver",
    "openstackai_nb.tracing:TracingObserver",
    "openstackai_nb.runner.cassette:CassetteObserver",
)
"""The observers of a run when nobody says otherwise, as ``module:Class`` paths (each class is
made once, with no arguments, on the first run that needs it)."""

HOOKS = (
    "run_started",
    "wrap_model",
    "span_started",
    "span_ended",
    "model_retry",
    "event",
    "run_still_running",
    "run_ended",
    "batch_ended",
)
"""The hooks of `RunObserver`, in the order a run meets them (batch_ended: a batch's end)."""


class RunObserver:
    """Watches runs. Every hook is a no-op here: subclass and override the ones you need.

    Only overridden hooks are called (a run pays nothing for the others). See the module's
    docstring for when each is called.

    Example:
        >>> class Collect(RunObserver):
        ...     def __init__(self):
        ...         self.runs = []
        ...     def run_ended(self, run, failure):
        ...         self.runs.append(run)
    """

    records_history: ClassVar[bool] = False
    """True for the observer that writes the session's history (the history's own, or a
    `set_recorder` adapter): `set_recorder` replaces it, and a Dask worker, which keeps no
    history, leaves it out of its runs' observers."""

    def run_started(self, run: RunResult, agent: Agent) -> None:
        """The run started (status RUNNING); `agent` is the Agent it runs."""

    def wrap_model(self, run: RunResult, model: Model) -> Model:
        """The run's model, or one wrapping it to see every delta (called once per run)."""
        return model

    def span_started(self, run: RunResult, span: Span) -> None:
        """A turn, model call, tool call or approval wait opened."""

    def span_ended(self, run: RunResult, span: Span) -> None:
        """A span closed: its duration, outcome and attributes are final."""

    def model_retry(self, run: RunResult, reason: str, delay: float) -> None:
        """The model call in progress will be retried after `delay` seconds."""

    def event(self, run: RunResult, event: StreamEvent) -> None:
        """An event of the run, as views see it."""

    def run_still_running(self, run: RunResult) -> None:
        """The run has been going for `RUNNING_RECORD_DELAY` seconds."""

    def run_ended(self, run: RunResult, failure: BaseException | None) -> Awaitable[None] | None:
        """The run ended; may return an awaitable the run waits for (see `DURABLE_WAIT`)."""
        return None

    async def batch_ended(self) -> None:
        """A `batch()` block ended: everything handed over so far should be stored."""


def overrides(observer: RunObserver, hook: str) -> bool:
    """Whether `observer` overrides `hook` (only those are called)."""
    return getattr(type(observer), hook, None) is not getattr(RunObserver, hook)


_lock = threading.Lock()
_session: tuple[RunObserver, ...] | None = None  # guarded by _lock: set by set_default_observers or on first use
# guarded by _lock: the (observer class, hook) pairs whose failure was logged
_logged: set[tuple[type[Any], str]] = set()


def _load(path: str) -> RunObserver:
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls()


def default_observers() -> tuple[RunObserver, ...]:
    """The session's observers: those given to `set_default_observers`, else `DEFAULT_OBSERVERS` (made once)."""
    global _session
    observers = _session
    if observers is None:
        with _lock:
            if _session is None:
                _session = tuple(_load(path) for path in DEFAULT_OBSERVERS)
            observers = _session
    return observers


def set_default_observers(observers: Iterable[RunObserver] | None) -> tuple[RunObserver, ...] | None:
    """Replace the session's observers (None: back to `DEFAULT_OBSERVERS`); returns the previous ones."""
    global _session
    new = None if observers is None else tuple(observers)
    for o in new or ():
        if not isinstance(o, RunObserver):  # pyright: ignore[reportUnnecessaryIsInstance] - called from user code
            from openstackai_nb.errors import ConfigError

            raise ConfigError(f"observers must be RunObserver instances, got {type(o).__name__}")
    with _lock:
        previous, _session = _session, new
    return previous


def for_run(observers: Sequence[RunObserver] | None) -> tuple[RunObserver, ...]:
    """A run's observers: `RunConfig.observers` when given, else the session's."""
    return default_observers() if observers is None else tuple(observers)


_batch: contextvars.ContextVar[list[tuple[Awaitable[None], str, bool]] | None] = contextvars.ContextVar(
    "openstackai_nb_batch", default=None
)


def in_batch() -> bool:
    """Whether the current run is inside a `batch()` block (nobody waits for its records alone)."""
    return _batch.get() is not None


def _failed(hook: Callable[..., Any], exc: Exception) -> None:
    """Log an observer's failure once per observer class and hook (the run goes on)."""
    owner: object = getattr(hook, "__self__", hook)
    key: tuple[type[Any], str] = (type(owner), getattr(hook, "__name__", "?"))
    with _lock:
        if key in _logged:
            return
        _logged.add(key)
    logger.warning(
        "openstackai_nb: observer %s failed in %s (logged once; runs go on): %s: %s",
        type(owner).__name__,
        key[1],
        type(exc).__name__,
        exc,
    )


class RunHooks:
    """One run's observers, each hook bound in advance to those that override it.

    The run loop tests a hook's tuple before calling it (`if hooks.on_event: ...`): a hook nobody
    overrides costs one attribute read, and a `StreamEvent` is built only when `on_event` is
    not empty. Every call is guarded: what an observer raises is logged once (`_failed`).
    """

    __slots__ = (
        "on_event",
        "on_model_retry",
        "on_run_ended",
        "on_run_started",
        "on_run_still_running",
        "on_span_ended",
        "on_span_started",
        "on_wrap_model",
        "run",
    )

    def __init__(self, observers: Iterable[RunObserver], run: RunResult) -> None:
        global _bound
        self.run = run
        if not isinstance(observers, tuple):
            observers = tuple(observers)
        bound = _bound  # the session's observers (or one config's) are the same tuple run after run
        if bound is None or bound[0] is not observers:
            bound = _bound = (observers, _bind(observers))  # a one-entry memo: a race only binds twice
        (
            self.on_run_started,
            self.on_wrap_model,
            self.on_span_started,
            self.on_span_ended,
            self.on_model_retry,
            self.on_event,
            self.on_run_still_running,
            self.on_run_ended,
        ) = bound[1]

    def add(self, observer: RunObserver) -> None:
        """Add an observer (before the run starts: a view joining it)."""
        for hook in HOOKS[:-1]:
            if overrides(observer, hook):
                slot = "on_" + hook
                setattr(self, slot, (*getattr(self, slot), getattr(observer, hook)))

    def call(self, hooks: tuple[Callable[..., Any], ...], *args: Any) -> None:
        """Call each of `hooks` with the run and `args`; a failure is logged, never raised."""
        for hook in hooks:
            try:
                hook(self.run, *args)
            except Exception as exc:  # noqa: BLE001 - an observer never breaks a run
                _failed(hook, exc)

    def still_running_later(self, loop: asyncio.AbstractEventLoop) -> asyncio.TimerHandle | None:
        """Call `run_still_running` in `RUNNING_RECORD_DELAY` seconds (cancel it at the end); None if nobody listens."""
        if not self.on_run_still_running:
            return None
        return loop.call_later(RUNNING_RECORD_DELAY, self.call, self.on_run_still_running)

    def wrap_model(self, model: Model) -> Model:
        """The run's model as the observers wrap it (`wrap_model`, in order)."""
        for hook in self.on_wrap_model:
            try:
                model = hook(self.run, model)
            except Exception as exc:  # noqa: BLE001 - an observer never breaks a run
                _failed(hook, exc)
        return model

    def run_ended(self, failure: BaseException | None) -> list[tuple[Awaitable[None], bool]]:
        """Tell the observers the run ended; what they returned to wait for (and whether it is the history's)."""
        pending: list[tuple[Awaitable[None], bool]] = []
        for hook in self.on_run_ended:
            try:
                awaitable = hook(self.run, failure)
            except Exception as exc:  # noqa: BLE001 - an observer never breaks a run
                _failed(hook, exc)
                continue
            if awaitable is not None:
                pending.append((awaitable, getattr(getattr(hook, "__self__", None), "records_history", False)))
        return pending


_Bound = tuple[tuple[Callable[..., Any], ...], ...]
_bound: tuple[tuple[RunObserver, ...], _Bound] | None = None  # see RunHooks.__init__


def _bind(observers: tuple[RunObserver, ...]) -> _Bound:
    """For each hook but batch_ended, in HOOKS order: the bound methods of the observers that override it."""
    return tuple(tuple(getattr(o, hook) for o in observers if overrides(o, hook)) for hook in HOOKS[:-1])


class EventPump(RunObserver):
    """Hands every event of a run to a function (a queue's put): how a view follows a run.

    `Runner.start`'s `RunHandle` (a thread-safe queue) and `StreamingRunner` (an asyncio
    queue) add one to their run's observers; a run nobody views builds no events.
    """

    def __init__(self, put: Callable[[StreamEvent], object]) -> None:
        self.put = put

    def event(self, run: RunResult, event: StreamEvent) -> None:
        """Put the event."""
        self.put(event)


async def report_unstarted(run: RunResult, observers: Sequence[RunObserver] | None) -> None:
    """A run that never reached the loop (its arguments were refused): its observers' `run_ended`.

    `compare` records such a job as a FAILED run, as the loop records the others.
    """
    await settle_all(RunHooks(for_run(observers), run).run_ended(None), run.run_id)


async def settle_all(pending: Iterable[tuple[Awaitable[None], bool]], run_id: str) -> None:
    """Wait for what a run's `run_ended` hooks returned (`RunHooks.run_ended`), or leave it to the `batch()`'s end."""
    for awaitable, history in pending:
        if not defer(awaitable, run_id, history=history):
            await settle(awaitable, run_id, history=history)


def _why(exc: BaseException, history: bool) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        who = "recorder" if history else "observer"
        return f"it was not stored within {DURABLE_WAIT:g} s (the {who} is slow or stuck)"
    return str(exc) or type(exc).__name__


def _not_yet(run_id: str, exc: BaseException, history: bool) -> None:
    where = "in the history file" if history else "recorded"
    logger.warning("openstackai_nb: run %s may not be %s yet: %s", run_id, where, _why(exc, history))


async def settle(
    pending: Awaitable[None] | concurrent.futures.Future[None], run_id: str, *, history: bool = False
) -> None:
    """Await what a `run_ended` returned, at most `DURABLE_WAIT` seconds; log (never raise) a failure.

    `history`: it is the history's commit (the warning says "may not be in the history file yet").
    """
    if isinstance(pending, concurrent.futures.Future):
        pending = asyncio.wrap_future(pending)
    elif isinstance(pending, asyncio.Future) and pending.done():  # the common case: no timeout to set up
        error = None if pending.cancelled() else pending.exception()
        if error is not None:
            _not_yet(run_id, error, history)
        return
    try:
        async with asyncio.timeout(DURABLE_WAIT):
            await pending
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - an observer never breaks a run
        _not_yet(run_id, exc, history)


def defer(pending: Awaitable[None], run_id: str, *, history: bool = False) -> bool:
    """Inside `batch()`: keep `pending` for the batch's end and return True; else False."""
    held = _batch.get()
    if held is None:
        return False
    held.append((pending, run_id, history))
    return True


@asynccontextmanager
async def batch(observers: Sequence[RunObserver] | None = None) -> AsyncGenerator[None, None]:
    """Runs inside end without waiting for their own records; leaving the block waits for all.

    For many concurrent runs (`compare`): a run's commit never holds its concurrency slot; once
    the block exits, every run's `run_ended` awaitable has been awaited and each observer's
    `batch_ended` called.
    """
    held: list[tuple[Awaitable[None], str, bool]] = []
    token = _batch.set(held)
    try:
        yield
    finally:
        _batch.reset(token)
        for pending, run_id, history in held:
            await settle(pending, run_id, history=history)
        for observer in for_run(observers):
            if overrides(observer, "batch_ended"):
                await settle(observer.batch_ended(), "(the runs of this batch)", history=observer.records_history)
