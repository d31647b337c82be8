"""The live view of a run: an anywidget in Jupyter, streamed plain text elsewhere.

A run's events are read in the kernel's main thread (`drive`) and handed to a `Presenter`,
which coalesces them and flushes at most `FLUSH_HZ` times per second:

- `WidgetPresenter` shows a `LiveView` (anywidget). Small state (status line, tool rows) lives
  in synced traits, changed inside `hold_sync()`; text goes out as append-only custom messages
  (`{"kind": "delta", "text": ...}`) that the front end accumulates per model, so traffic is
  proportional to the text, never quadratic. At the end the same output is replaced by the
  static bundle of `render.py` (`DisplayHandle.update`) and the widget is closed, so a saved
  notebook shows the run without any widget state.
- `TextPresenter` writes the text to stdout as it arrives (terminal IPython, plain Python, or a
  kernel without anywidget); `QuietPresenter` shows nothing while running.

The view only subscribes to the run's events; it never drives the run.

Secrets: everything a presenter shows is scrubbed (`_secrets`): the status line, each tool row
(name, arguments, result or error, scrubbed before they are cut to a preview) and the text. The
text arrives in pieces, and a key can be split across two of them ("sk-ab" then "cdef..."), so it
goes through a `StreamScrubber`: each flush shows what is safe and holds back the end of the
text while it could still be the start of a secret (the last word, "Bearer " before it, or an
end that begins a known key). The held words follow with the next flush, when a tool call
starts, or at the end of the run. This costs one scan of the flushed text per flush (at most
`FLUSH_HZ` a second), not per token.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb import render
from openstackai_nb._secrets import StreamScrubber, scrub, scrub_data
from openstackai_nb.notebook import is_jupyter

if TYPE_CHECKING:
    LiveView: type  # built on first use by __getattr__ (anywidget is imported then)
    from openstackai_nb.events import StreamEvent
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner import RunHandle

__all__ = [
    "FLUSH_HZ",
    "LiveView",
    "Presenter",
    "QuietPresenter",
    "TextPresenter",
    "WidgetPresenter",
    "drive",
    "is_jupyter",
    "make_presenter",
]

FLUSH_HZ = 30
"""Most flushes (messages carrying text) per second sent to a live view."""
MIN_DELTA_CHARS = 400
"""A smaller text delta waits (up to MAX_DELTA_WAIT) for more text: each message costs ~0.5 KB of
headers, so a slow model streaming a few tokens at a time would otherwise send mostly headers."""
MAX_DELTA_WAIT = 0.2
"""Longest time streamed text waits before it is shown."""
SETTLE_WAIT = 5.0
"""Longest the cell waits, after the run's "done" event, for the run's task to end (it only
re-raises a timeout or a cancellation then)."""
STATUS_TICK = 1.0
"""Seconds between status-line refreshes while nothing else changes (elapsed time)."""
_STATIC = Path(__file__).parent / "static"
_live_view_cls: type | None = None


def _widgets_available() -> bool:
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return False
    return True


def _build_live_view() -> type:
    import anywidget
    import traitlets

    class LiveView(anywidget.AnyWidget):
        """The live view of one run: a status line, the streamed text and a tool-call table.

        Text is never a synced trait: `append()` sends it as a delta message, which the front end
        (`static/live_view.js`) appends to a per-model buffer and to every view of it.
        """

        _esm = _STATIC / "live_view.js"
        _css = _STATIC / "live_view.css"
        status = traitlets.Unicode("").tag(sync=True)
        """The status line (state, model, turns, tokens, elapsed)."""
        state = traitlets.Unicode("running").tag(sync=True)
        """running while the run goes on, then done."""
        tools = traitlets.List(traitlets.Dict()).tag(sync=True)
        """Tool rows: call_id, name, args, status (pending|running|ok|error), result, duration."""

        def append(self, text: str) -> None:
            """Send a piece of streamed text to the front end (append-only)."""
            if text:
                self.send({"kind": "delta", "text": text})

        def __repr__(self) -> str:
            # The text/plain twin of the widget: what a front end without widgets shows.
            return "<openstackai-nb live view: a running agent (replaced by the run's static view when it ends)>"

    LiveView.__module__ = __name__
    LiveView.__qualname__ = "LiveView"
    return LiveView


def __getattr__(name: str) -> Any:
    # PEP 562: anywidget/ipywidgets are imported only when the widget class is first needed.
    global _live_view_cls
    if name == "LiveView":
        if _live_view_cls is None:
            _live_view_cls = _build_live_view()
        return _live_view_cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Presenter:
    """Collects a run's events and shows them; subclasses decide how (widget, text, nothing).

    Args:
        agent: the agent's name (status line).
        model: the model's name (status line).
        note: an extra note for the status line (e.g. that the model is offline).
    """

    def __init__(self, *, agent: str = "", model: str = "", note: str = "") -> None:
        self.agent = agent
        self.model = model
        self.note = note
        self.rows: dict[str, dict[str, Any]] = {}
        self.pending: list[str | None] = []
        """Text not shown yet, in pieces; None marks where a text ends (a tool call or turn starts)."""
        self.scrubber = StreamScrubber()
        self.pending_chars = 0
        self.turn = 0
        self.deltas = 0
        self.t0 = time.monotonic()
        self.rows_changed = False
        self.status_changed = True
        self.last_status = 0.0

    def feed(self, events: list[StreamEvent]) -> RunResult | None:
        """Take a batch of events; return the RunResult when the batch holds the "done" event."""
        done: RunResult | None = None
        for ev in events:
            kind = ev.type
            if kind == "text":
                self.pending.append(ev.content)
                self.pending_chars += len(ev.content)
                self.deltas += 1
            elif kind == "turn":
                self._end_text()
                self.turn = ev.turn
                self.status_changed = True
            elif kind == "tool_call" and ev.call_id is not None:
                self._end_text()
                self.rows[ev.call_id] = {
                    "call_id": ev.call_id,
                    "name": scrub(ev.tool_name or ""),
                    "args": render.preview(scrub_data(ev.arguments)),
                    "status": "running",
                    "result": "",
                    "duration": None,
                }
                self.rows_changed = True
                self.on_tool(self.rows[ev.call_id])
            elif kind == "tool_result" and ev.call_id is not None:
                row = self.rows.setdefault(
                    ev.call_id,
                    {
                        "call_id": ev.call_id,
                        "name": scrub(ev.tool_name or ""),
                        "args": render.preview(scrub_data(ev.arguments)),
                    },
                )
                row["status"] = "error" if ev.error else "ok"
                row["result"] = render.preview(scrub(ev.error) if ev.error else scrub_data(ev.result))
                row["duration"] = ev.duration
                self.rows_changed = True
                self.on_tool(row)
            elif kind == "done" and ev.run_result is not None:
                done = ev.run_result
        return done

    def _end_text(self) -> None:
        # The model's text so far is complete: the next flush shows all of it.
        if self.pending or self.scrubber.held:
            self.pending.append(None)

    def status_text(self) -> str:
        """The live status line (scrubbed)."""
        return scrub(self._status_text())

    def _status_text(self) -> str:
        return render.status_line(
            "RUNNING",
            agent=self.agent,
            model=self.model,
            turns=self.turn,
            tokens=self.deltas,
            elapsed=time.monotonic() - self.t0,
            note=self.note,
        )

    def take_text(self, *, final: bool = False) -> str:
        """The text collected since the last flush that is safe to show, scrubbed (and forget it).

        Args:
            final: the text is complete: show all of it (nothing is held back).
        """
        out: list[str] = []
        piece: list[str] = []
        for part in self.pending:
            if part is None:
                out.append(self.scrubber.feed("".join(piece), final=True))
                piece.clear()
            else:
                piece.append(part)
        if piece or final:
            out.append(self.scrubber.feed("".join(piece), final=final))
        self.pending.clear()
        self.pending_chars = 0
        return "".join(out)

    def on_tool(self, row: dict[str, Any]) -> None:
        """A tool row changed (TextPresenter prints it)."""

    def flush(self, *, final: bool = False) -> None:
        """Show what changed since the last flush (`final`: the text is complete)."""

    def finish(self, result: RunResult, *, note: str = "") -> None:
        """The run ended: show its final form."""


class QuietPresenter(Presenter):
    """Shows nothing while the run goes on (`%%agent --quiet`)."""


class TextPresenter(Presenter):
    """Streams plain text to stdout: terminal IPython, plain Python, a kernel without widgets."""

    def __init__(self, *, stream: Any = None, bundle_at_end: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = stream
        self.bundle_at_end = bundle_at_end
        self.at_line_start = True

    def _write(self, text: str) -> None:
        out = self.out or sys.stdout
        out.write(text)
        out.flush()
        self.at_line_start = text.endswith("\n")

    def flush(self, *, final: bool = False) -> None:
        """Write the text collected since the last flush (all of it when `final`)."""
        text = self.take_text(final=final)
        if text:
            self._write(text)

    def on_tool(self, row: dict[str, Any]) -> None:
        """Print one line per tool start and end."""
        self.flush()
        prefix = "" if self.at_line_start else "\n"
        if row.get("status") == "running":
            self._write(f"{prefix}[{row['name']}({row['args']}) running]\n")
        else:
            self._write(f"{prefix}[{row['name']} {row['status']} {row.get('duration') or 0:.2f}s -> {row['result']}]\n")

    def finish(self, result: RunResult, *, note: str = "") -> None:
        """Print the rest of the text and the status line (or show the static bundle)."""
        self.flush(final=True)
        if self.bundle_at_end:
            # A kernel without anywidget: the streamed text gives way to the static run view
            # (the cell body is the prompt, so this output holds nothing else).
            from IPython.display import clear_output, display

            clear_output(wait=True)
            display(render.run_bundle(result, note=note, show_input=False), raw=True)
            return
        end = "" if self.at_line_start else "\n"
        status = render.status_line(
            result.status.value,
            agent=result.agent_name,
            model=result.model,
            turns=result.turn_count,
            tokens=result.usage.prompt_tokens + result.usage.completion_tokens,
            elapsed=result.elapsed_time,
            note=note,
        )
        error = f"Error: {result.error}\n" if result.error and result.status.value != "COMPLETED" else ""
        self._write(scrub(f"{end}{error}[{status}]\n"))


class WidgetPresenter(Presenter):
    """Shows a LiveView while the run goes on, then replaces it with the static bundle."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from IPython.display import display

        cls = __getattr__("LiveView")
        self.view = cls(status=self.status_text(), state="running")
        self.handle = display(self.view, display_id=True)

    def flush(self, *, final: bool = False) -> None:
        """Send the new text as one delta, and the tool rows / status line when they changed."""
        text = self.take_text(final=final)
        if text:
            self.view.append(text)
        now = time.monotonic()
        tick = now - self.last_status >= STATUS_TICK
        if self.rows_changed or self.status_changed or tick:
            with self.view.hold_sync():
                if self.rows_changed:
                    self.view.tools = [dict(r) for r in self.rows.values()]
                self.view.status = self.status_text()
            self.rows_changed = self.status_changed = False
            self.last_status = now

    def finish(self, result: RunResult, *, note: str = "") -> None:
        """Replace the widget by the static bundle in the same output, then close the widget."""
        bundle = render.run_bundle(result, note=note, show_input=False)
        if self.handle is not None:
            self.handle.update(bundle, raw=True)
        else:  # pragma: no cover - display() returned no handle (no IPython display hook)
            from IPython.display import display

            display(bundle, raw=True)
        self.view.close()


def make_presenter(*, quiet: bool = False, **kwargs: Any) -> Presenter:
    """Choose the presenter for this environment: widget in Jupyter, text elsewhere."""
    if quiet:
        return QuietPresenter(**kwargs)
    if is_jupyter():
        if _widgets_available():
            return WidgetPresenter(**kwargs)
        return TextPresenter(bundle_at_end=True, **kwargs)
    return TextPresenter(**kwargs)


def drive(stream: RunHandle, presenter: Presenter) -> tuple[RunResult | None, bool]:
    """Read the run's events in this thread and feed them to `presenter` until it ends.

    A KeyboardInterrupt (the kernel's interrupt button) cancels the run, drains the remaining
    events (the "done" event carries the CANCELLED result with the partial text) and returns
    normally, so the kernel stays usable.

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


def _pump(stream: RunHandle, presenter: Presenter) -> RunResult | None:
    interval = 1.0 / FLUSH_HZ
    last = 0.0
    while True:
        events = stream.next_batch(0.25)
        done = presenter.feed(events)
        if done is not None:
            presenter.flush()  # the live view's last state is the whole run, rows included
            return done
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
