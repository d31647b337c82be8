"""The live view of a run: an anywidget in Jupyter, streamed plain text elsewhere.

A run's events are read in the kernel's main thread (`driver.drive`, or `driver.drive_async` in
a cell that awaits) and handed to a `Presenter`, which coalesces them; the driver flushes it at
most `driver.FLUSH_HZ` times per second. `make_presenter` picks the presenter:

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

The view only subscribes to the run's events; it never drives the run. The one thing it sends
back is your decision about a tool call that waits for approval: a pending row shows Approve /
Reject buttons (and a reason field), a click comes back as a custom message (`on_msg`), and the
presenter hands it to the run's `DeferredApprover`. That needs the cell to await while it
follows the run (`driver.drive_async`): why, and the prompt used where it cannot, in `approvals.py`.

Secrets: everything a presenter shows is scrubbed, its control characters (ANSI, bidi overrides)
made inert (`_secrets.shown`): the status line, each tool row
(`render.tool_row` scrubs name, arguments, result or error before they are cut to a preview) and
the text, before it is rendered. The text arrives in pieces, and a key can be split across two of
them ("sk-ab" then "cdef..."), so answer and reasoning each go through a `StreamScrubber`: each
flush shows what is safe and holds back the end of the text while it could still be the start of
a secret (the last word, "Bearer " before it, or an end that begins a known key). The held words
follow with the next flush, when a tool call starts, or at the end of the run. This costs one
scan of the flushed text per flush (at most `driver.FLUSH_HZ` a second), not per token.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openstackai_nb import render
from openstackai_nb._warnings import moved
from openstackai_nb.notebook import is_jupyter
from openstackai_nb.notebook.approvals import LIVE_VIEW
from openstackai_nb.notebook.presenters import STATUS_TICK, Presenter, QuietPresenter, TextPresenter

if TYPE_CHECKING:
    LiveView: type  # built on first use by __getattr__ (anywidget is imported then)
    from openstackai_nb.results import RunResult

__all__ = [
    "LIVE_MARKDOWN",
    "LiveView",
    "Presenter",
    "QuietPresenter",
    "TextPresenter",
    "WidgetPresenter",
    "is_jupyter",
    "make_presenter",
]

LIVE_MARKDOWN = True
"""Render the answer's markdown while it streams; False shows it as plain text until the run ends
(the benchmark compares both)."""
_STATIC = Path(__file__).parent / "static"
_MOVED_TO_DRIVER = ("FLUSH_HZ", "MAX_DELTA_WAIT", "MIN_DELTA_CHARS", "POLL_S", "SETTLE_WAIT", "drive", "drive_async")
"""Names that moved to `notebook/driver.py` (the loop that follows a run): still readable here, with a warning."""
_moved = moved(__name__, dict.fromkeys(_MOVED_TO_DRIVER, "openstackai_nb.notebook.driver"))


def _widgets_available() -> bool:
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache  # the class is built once, on first use; the cache holds it (no module global)
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
        tools = traitlets.Dict().tag(sync=True)
        """The tool table: {"head": header row HTML, "rows": [row HTML, ...]} (render.tools' rows)."""
        approvals = traitlets.Unicode("").tag(sync=True)
        """"buttons": pending rows show Approve / Reject and send the click back; "" otherwise."""

        def __repr__(self) -> str:
            # The text/plain twin of the widget: what a front end without widgets shows.
            return "<openstackai-nb live view: a running agent (replaced by the run's static view when it ends)>"

    LiveView.__module__ = __name__
    LiveView.__qualname__ = "LiveView"
    return LiveView


def __getattr__(name: str) -> Any:
    # PEP 562: anywidget/ipywidgets are imported only when the widget class is first needed.
    if name == "LiveView":
        return _build_live_view()
    return _moved(name)


class WidgetPresenter(Presenter):
    """Shows a LiveView while the run goes on, then replaces it with the static bundle.

    Args:
        buttons: pending rows show Approve / Reject buttons (the cell awaits, so clicks arrive:
            `driver.drive_async`); else the run's approvals, if any, are asked by a prompt.
        **kwargs: the `Presenter`'s.
    """

    def __init__(self, *, buttons: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from IPython.display import display

        cls = _build_live_view()
        self.markdown = render.LiveMarkdown() if LIVE_MARKDOWN else None
        self.buttons = buttons and self.approvals is not None
        self.view = cls(status=self.status_text(), state="running", approvals="buttons" if self.buttons else "")
        if self.buttons:
            self.view.on_msg(self._on_message)
        self.handle = display(self.view, display_id=True)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A click in the live view: {"kind": "approval", "call_id", "approve": bool, "reason"}."""
        if not isinstance(content, dict) or content.get("kind") != "approval":
            return
        call_id, approve, reason = content.get("call_id"), content.get("approve"), content.get("reason")
        if isinstance(call_id, str) and isinstance(approve, bool):
            self.decide(call_id, approve, reason if isinstance(reason, str) else None, by=LIVE_VIEW)

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
        now = time.monotonic()
        if self.rows_changed:
            # Tool rows are state (a synced trait), not messages: a front end that creates the
            # widget late still gets every row, in its latest status.
            with self.view.hold_sync():
                self.view.tools = self._tools()
                self.view.status = self.status_text()
            self.rows_changed = self.status_changed = False
            self.last_status = now
        elif self.status_changed or now - self.last_status >= STATUS_TICK:
            if messages:
                messages[-1]["status"] = self.status_text()
            else:
                with self.view.hold_sync():
                    self.view.status = self.status_text()
            self.status_changed = False
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
        """The tool table's state: its header row and every row (render.tools' HTML), in start order."""
        rows = list(self.rows.values())
        turns = render.several_turns(rows)
        self.changed.clear()
        return {"head": render.tool_head_html(turns), "rows": [render.tool_row_html(r, turns) for r in rows]}

    def finish(self, result: RunResult, *, note: str = "", metadata: dict[str, Any] | None = None) -> None:
        """Replace the widget by the static bundle (with `metadata`) in the same output, then close the widget."""
        bundle = render.run_bundle(result, note=note, show_input=False)
        if self.handle is not None:
            self.handle.update(bundle, raw=True, metadata=metadata)
        else:  # pragma: no cover - display() returned no handle (no IPython display hook)
            from IPython.display import display

            display(bundle, raw=True, metadata=metadata)
        self.view.close()


def make_presenter(*, quiet: bool = False, buttons: bool = False, **kwargs: Any) -> Presenter:
    """Choose the presenter for this environment: widget in Jupyter, text elsewhere.

    `buttons`: the live view may take approval clicks (the cell awaits: `driver.drive_async`).
    """
    if quiet:
        return QuietPresenter(**kwargs)
    if is_jupyter():
        if _widgets_available():
            return WidgetPresenter(buttons=buttons, **kwargs)
        return TextPresenter(bundle_at_end=True, **kwargs)
    return TextPresenter(**kwargs)
