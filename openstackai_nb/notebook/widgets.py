"""The live view of a run: an anywidget in Jupyter, streamed plain text elsewhere.

A run's events are read in the kernel's main thread (`drive`) and handed to a `Presenter`,
which coalesces them and flushes at most `FLUSH_HZ` times per second:

- `WidgetPresenter` shows a `LiveView` (anywidget). The status line lives in a synced trait,
  changed inside `hold_sync()`; everything that grows goes out as append-only custom messages
  (`static/live_view.js` lists them), so traffic is proportional to the answer, never quadratic:
  - the answer, as markdown: the kernel renders each finished block once (`render.LiveMarkdown`:
    a block ends at a blank line outside a code fence, or when a fence closes) and sends its
    HTML; only the unfinished end is sent as text. Nothing is sent twice as text;
  - the reasoning ("thinking") text, shown collapsed and dimmed above the answer;
  - the tool table's rows, as `render.tools` writes them for the static copy (one row builder).
  At the end the same output is replaced by the static bundle of `render` (`DisplayHandle.update`)
  and the widget is closed, so a saved notebook shows the run without any widget state. The
  static copy is the same HTML as the live view (same blocks, same rows, same stylesheet), so
  nothing moves when it replaces the view.
- `TextPresenter` writes the text to stdout as it arrives (terminal IPython, plain Python, or a
  kernel without anywidget); `QuietPresenter` shows nothing while running.

The view only subscribes to the run's events; it never drives the run.

Secrets: everything a presenter shows is scrubbed (`_secrets`): the status line, each tool row
(`render.tool_row` scrubs name, arguments, result or error before they are cut to a preview) and
the text, before it is rendered. The text arrives in pieces, and a key can be split across two of
them ("sk-ab" then "cdef..."), so answer and reasoning each go through a `StreamScrubber`: each
flush shows what is safe and holds back the end of the text while it could still be the start of
a secret (the last word, "Bearer " before it, or an end that begins a known key). The held words
follow with the next flush, when a tool call starts, or at the end of the run. This costs one
scan of the flushed text per flush (at most `FLUSH_HZ` a second), not per token.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb import render
from openstackai_nb._secrets import StreamScrubber, scrub
from openstackai_nb.notebook import is_jupyter

if TYPE_CHECKING:
    LiveView: type  # built on first use by __getattr__ (anywidget is imported then)
    from openstackai_nb.messages import StreamEvent
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner._sync import EventStream

__all__ = [
    "FLUSH_HZ",
    "LIVE_MARKDOWN",
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
MIN_DELTA_CHARS = 1000
"""A smaller text delta waits (up to MAX_DELTA_WAIT) for more text: each message costs ~0.5 KB of
headers, so a slow model streaming a few tokens at a time would otherwise send mostly headers."""
MAX_DELTA_WAIT = 0.25
"""Longest time streamed text waits before it is shown."""
STATUS_TICK = 1.0
"""Seconds between status-line refreshes while nothing else changes (elapsed time)."""
LIVE_MARKDOWN = True
"""Render the answer's markdown while it streams; False shows it as plain text until the run ends
(the benchmark compares both)."""
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
        """The live view of one run: status line, reasoning, the answer and the tool-call table.

        The status line is a synced trait; the rest arrives as custom messages (see the module
        docstring), which the front end (`static/live_view.js`) keeps per model for every view.
        """

        _esm = _STATIC / "live_view.js"
        _css = render.VIEW_CSS + render.CODE_CSS + (_STATIC / "live_view.css").read_text()
        status = traitlets.Unicode("").tag(sync=True)
        """The status line (state, model, turns, tokens, elapsed)."""
        state = traitlets.Unicode("running").tag(sync=True)
        """running while the run goes on, then done."""

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


class _Thought(str):
    """A piece of reasoning text among the answer's pieces (`Presenter.pending`)."""

    __slots__ = ()


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
        """Tool rows (`render.tool_row`) by call id, in the order the calls started."""
        self.changed: list[str] = []
        """Call ids whose rows changed since the last flush."""
        self.pending: list[str | None] = []
        """Text not shown yet, in pieces (reasoning pieces are `_Thought`s); None marks where a text
        ends (a tool call or turn starts)."""
        self.scrubber = StreamScrubber()
        self.thought_scrubber = StreamScrubber()
        self.pending_chars = 0
        self.turn = 0
        self.thought_turn = 0
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
            if kind == "text" or kind == "reasoning":
                self._add_text(ev)
            elif kind == "turn":
                self._end_text()
                self.turn = ev.turn
                self.status_changed = True
            elif kind in ("tool_call", "tool_result") and ev.call_id is not None:
                if kind == "tool_call":
                    self._end_text()
                self._set_row(ev)
            elif kind == "done" and ev.run_result is not None:
                done = ev.run_result
        return done

    def _add_text(self, ev: StreamEvent) -> None:
        piece = ev.content
        if ev.type == "reasoning":
            if self.thought_turn and ev.turn != self.thought_turn:
                piece = "\n\n" + piece  # each turn's reasoning, as RunResult.reasoning joins them
            self.thought_turn = ev.turn
            piece = _Thought(piece)
        self.pending.append(piece)
        self.pending_chars += len(piece)
        self.deltas += 1

    def _set_row(self, ev: StreamEvent) -> None:
        call_id = ev.call_id or ""
        before = self.rows.get(call_id)
        running = ev.type == "tool_call"
        row = render.tool_row(
            call_id,
            ev.tool_name or (before or {}).get("name", ""),
            ev.arguments,
            status="running" if running else "error" if ev.error else "ok",
            result=None if running else ev.result,
            error=None if running else ev.error,
            duration=None if running else ev.duration,
            turn=ev.turn,
            blocked_loop_s=ev.blocked_loop_s,
        )
        self.rows[call_id] = row
        self.changed.append(call_id)
        self.rows_changed = True
        self.on_tool(row)

    def _end_text(self) -> None:
        # The model's text so far is complete: the next flush shows all of it.
        if self.pending or self.scrubber.held or self.thought_scrubber.held:
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

    def take(self, *, final: bool = False) -> tuple[list[str | None], str]:
        """The text collected since the last flush that is safe to show, scrubbed (and forget it).

        Returns:
            The answer's pieces (None where a text ended: a tool call or a new turn) and the
            reasoning text.

        Args:
            final: the text is complete: show all of it (nothing is held back).
        """
        texts: list[str | None] = []
        thoughts: list[str] = []
        text: list[str] = []
        thought: list[str] = []
        for part in self.pending:
            if part is None:
                texts += [self.scrubber.feed("".join(text), final=True), None]
                thoughts.append(self.thought_scrubber.feed("".join(thought), final=True))
                text.clear()
                thought.clear()
            elif isinstance(part, _Thought):
                thought.append(part)
            else:
                if thought:  # the answer started: the reasoning before it is complete
                    thoughts.append(self.thought_scrubber.feed("".join(thought), final=True))
                    thought.clear()
                text.append(part)
        if text or final:
            texts.append(self.scrubber.feed("".join(text), final=final))
        if thought or final:
            thoughts.append(self.thought_scrubber.feed("".join(thought), final=final))
        self.pending.clear()
        self.pending_chars = 0
        return [t for t in texts if t is None or t], "".join(thoughts)

    def take_text(self, *, final: bool = False) -> str:
        """The answer's text collected since the last flush that is safe to show (see `take`)."""
        return "".join(t for t in self.take(final=final)[0] if t)

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
            note = f" ({row['note']})" if row.get("note") else ""
            self._write(
                f"{prefix}[{row['name']} {row['status']} {row.get('duration') or 0:.2f}s{note} -> {row['result']}]\n"
            )

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
        error = f"Error: {scrub(result.error)}\n" if result.error and result.status.value != "COMPLETED" else ""
        self._write(f"{end}{error}[{render.run_status(result, note=note)}]\n")


class WidgetPresenter(Presenter):
    """Shows a LiveView while the run goes on, then replaces it with the static bundle."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from IPython.display import display

        cls = __getattr__("LiveView")
        self.markdown = render.LiveMarkdown() if LIVE_MARKDOWN else None
        self.turn_column = False  # the tool table shows its turn column
        self.head_sent = False
        self.view = cls(status=self.status_text(), state="running")
        self.handle = display(self.view, display_id=True)

    def flush(self, *, final: bool = False) -> None:
        """Send the new text, reasoning and tool rows, and the status line when it changed.

        A due status line rides on the flush's last message when there is one (each message
        costs ~0.5 KB of headers); it is a trait change only when nothing else goes out.
        """
        texts, thoughts = self.take(final=final)
        messages: list[dict[str, Any]] = []
        if thoughts:
            messages.append({"kind": "reasoning", "text": thoughts})
        answer = self._answer(texts, final)
        if answer is not None:
            messages.append(answer)
        if self.rows_changed:
            messages.append(self._tools())
        now = time.monotonic()
        if self.rows_changed or self.status_changed or now - self.last_status >= STATUS_TICK:
            if messages:
                messages[-1]["status"] = self.status_text()
            else:
                with self.view.hold_sync():
                    self.view.status = self.status_text()
            self.rows_changed = self.status_changed = False
            self.last_status = now
        for message in messages:
            self.view.send(message)

    def _answer(self, texts: list[str | None], final: bool) -> dict[str, Any] | None:
        """The answer's delta message: finished blocks as HTML, the unfinished end as text."""
        if self.markdown is None:
            text = "".join(t for t in texts if t)
            return {"kind": "delta", "text": text} if text else None
        for text in texts:
            if text is None:
                self.markdown.end()
            else:
                self.markdown.feed(text)
        if final:
            self.markdown.end()
        drop, html, text = self.markdown.update()
        if not (drop or html or text):
            return None
        message: dict[str, Any] = {"kind": "delta", "text": text}
        if html:
            message["html"] = html
        if drop:
            message["drop"] = drop
        return message

    def _tools(self) -> dict[str, Any]:
        """The tool rows that changed (all of them, with the header, when the turn column appears)."""
        rows = list(self.rows.values())
        turns = render.several_turns(rows)
        message: dict[str, Any] = {"kind": "tools"}
        changed = list(dict.fromkeys(self.changed))
        if turns != self.turn_column or not self.head_sent:
            message["head"] = render.tool_head_html(turns)
            self.turn_column, self.head_sent = turns, True
            changed = list(self.rows)
        ids = list(self.rows)
        message["rows"] = [{"id": ids.index(c), "html": render.tool_row_html(self.rows[c], turns)} for c in changed]
        self.changed.clear()
        return message

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


def drive(stream: EventStream, presenter: Presenter) -> tuple[RunResult | None, bool]:
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


def _settle(stream: EventStream, limit: float = 5.0) -> None:
    # The "done" event comes just before the run's task ends (raising TimeoutError or
    # CancelledError by contract): wait for the end and read its outcome, so asyncio never logs
    # "Task exception was never retrieved".
    deadline = time.monotonic() + limit
    while not stream.finished and time.monotonic() < deadline:
        stream.next_batch(0.01)
    stream.outcome()


def _pump(stream: EventStream, presenter: Presenter) -> RunResult | None:
    interval = 1.0 / FLUSH_HZ
    last = 0.0
    while True:
        events = stream.next_batch(0.25)
        done = presenter.feed(events)
        if done is not None:
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


def _drain(stream: EventStream, presenter: Presenter) -> RunResult | None:
    while True:
        events = stream.next_batch(0.5)
        done = presenter.feed(events)
        if done is not None:
            return done
        if not events and stream.finished:
            return None
