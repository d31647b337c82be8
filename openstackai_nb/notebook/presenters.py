"""Presenters: what collects a run's events and shows them, in text or (the subclass in `widgets`) live.

`Presenter` keeps the state every view needs (the text and reasoning not shown yet, each
scrubbed through a `StreamScrubber`; the tool rows; the status line); `TextPresenter` writes it
to stdout (terminal IPython, plain Python, a kernel without anywidget); `QuietPresenter` shows
nothing while the run goes on. `widgets.WidgetPresenter` shows the live view.

Approval: a presenter given the run's `DeferredApprover` (`approvals`) is where you decide about
the calls that wait ("approval" events): the live view's buttons, or a prompt (`waiting` lists
the calls to ask about, `decide` hands the answer to the run).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from openstackai_nb import render
from openstackai_nb._secrets import StreamScrubber, shown

if TYPE_CHECKING:
    from openstackai_nb.events import StreamEvent
    from openstackai_nb.results import RunResult
    from openstackai_nb.runner.approval import DeferredApprover

__all__ = ["Presenter", "QuietPresenter", "STATUS_TICK", "TextPresenter"]

STATUS_TICK = 1.0
"""Seconds between status-line refreshes while nothing else changes (elapsed time)."""


class _Thought(str):
    """A piece of reasoning text among the answer's pieces (`Presenter.pending`)."""

    __slots__ = ()


class Presenter:
    """Collects a run's events and shows them; subclasses decide how (widget, text, nothing).

    Args:
        agent: the agent's name (status line).
        model: the model's name (status line).
        note: an extra note for the status line (e.g. that the model is offline).
        approvals: the run's approver when you decide here (`%%agent`), else None.
    """

    def __init__(
        self, *, agent: str = "", model: str = "", note: str = "", approvals: DeferredApprover | None = None
    ) -> None:
        self.agent = agent
        self.model = model
        self.note = note
        self.approvals = approvals
        self.waiting: dict[str, dict[str, Any]] = {}
        """Rows of the calls that wait for your decision, by call id (in the order they asked)."""
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
            elif kind in ("approval", "tool_call", "tool_result") and ev.call_id is not None:
                if kind != "tool_result":
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
        ended = ev.type == "tool_result"
        rejected = ev.approval is not None and not ev.approval.approved
        status = "pending" if ev.type == "approval" else "running" if not ended else "rejected" if rejected else None
        row = render.tool_row(
            call_id,
            ev.tool_name or (before or {}).get("name", ""),
            ev.arguments,
            status=status or ("error" if ev.error else "ok"),
            result=ev.result if ended else None,
            error=ev.error if ended else None,
            duration=ev.duration if ended and not rejected else None,
            turn=ev.turn,
            blocked_loop_s=ev.blocked_loop_s,
            approval=ev.approval,
            asked=None if self.approvals is not None else ev.content,
            parsed_from_text=ev.parsed_from_text,
        )
        self.rows[call_id] = row
        if status == "pending" and self.approvals is not None:
            self.waiting[call_id] = row
        else:
            self.waiting.pop(call_id, None)
        self.changed.append(call_id)
        self.rows_changed = True
        self.on_tool(row)

    def _end_text(self) -> None:
        # The model's text so far is complete: the next flush shows all of it.
        if self.pending or self.scrubber.held or self.thought_scrubber.held:
            self.pending.append(None)

    def status_text(self) -> str:
        """The live status line (scrubbed, control characters inert)."""
        return shown(self._status_text())

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

    def decide(self, call_id: str, approved: bool, reason: str | None, *, by: str) -> bool:
        """Hand your decision about a waiting call to the run; False when it waits no more."""
        if self.approvals is None or call_id not in self.waiting:
            return False
        from openstackai_nb.tools import Decision

        reason = (reason or "").strip()[:500] or None
        return self.approvals.decide(call_id, Decision(approved, reason, decided_by=by))

    def flush(self, *, final: bool = False) -> None:
        """Show what changed since the last flush (`final`: the text is complete)."""

    def finish(self, result: RunResult, *, note: str = "", metadata: dict[str, Any] | None = None) -> None:
        """The run ended: show its final form (`metadata`: the display metadata of its static bundle)."""


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
        if row.get("status") in ("running", "pending"):
            state = "running" if row["status"] == "running" else row["note"]
            self._write(f"{prefix}[{row['name']}({row['args']}) {state}]\n")
        else:
            note = f" ({row['note']})" if row.get("note") else ""
            self._write(
                f"{prefix}[{row['name']} {row['status']} {row.get('duration') or 0:.2f}s{note} -> {row['result']}]\n"
            )

    def finish(self, result: RunResult, *, note: str = "", metadata: dict[str, Any] | None = None) -> None:
        """Print the rest of the text and the status line (or show the static bundle, with `metadata`)."""
        self.flush(final=True)
        if self.bundle_at_end:
            # A kernel without anywidget: the streamed text gives way to the static run view
            # (the cell body is the prompt, so this output holds nothing else).
            from IPython.display import clear_output, display

            clear_output(wait=True)
            display(render.run_bundle(result, note=note, show_input=False), raw=True, metadata=metadata)
            return
        end = "" if self.at_line_start else "\n"
        error = f"Error: {shown(result.error)}\n" if result.error and result.status.value != "COMPLETED" else ""
        warnings = "".join(f"Warning: {shown(w)}\n" for w in result.warnings)
        self._write(f"{end}{error}[{render.run_status(result, note=note)}]\n{warnings}")
