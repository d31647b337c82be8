"""What local servers do, shown: calls parsed from text in the tool table (live and static), and a
run's warnings under its status line (a prompt cut by a small context window)."""

from __future__ import annotations

from datetime import UTC, datetime

from openstackai_nb import render
from openstackai_nb.events import StreamEvent
from openstackai_nb.notebook.presenters import Presenter
from openstackai_nb.render.tools import PARSED_FROM_TEXT
from openstackai_nb.results import RunResult, RunStatus, ToolCall

CUT = (
    "the prompt was probably cut: the server read 2,048 prompt tokens of a request of about 4,523 (18,092 "
    "characters). Ollama's context window is small by default: raise it with OLLAMA_CONTEXT_LENGTH=16384"
)


def result(**kw: object) -> RunResult:
    return RunResult(
        run_id="run_local", status=RunStatus.COMPLETED, model="qwen2.5:7b", output_text="5.", final_output="5.",
        started_at=datetime(2026, 1, 2, tzinfo=UTC), turn_count=2, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_call_parsed_from_text_is_marked_in_the_static_views() -> None:
    call = ToolCall(call_id="call_text_1", name="add", arguments={"a": 2, "b": 3}, result=5,
                    started_at=datetime(2026, 1, 2, tzinfo=UTC), turn=1, parsed_from_text=True)  # fmt: skip
    plain = ToolCall(call_id="c2", name="add", arguments={"a": 1, "b": 1}, result=2,
                     started_at=datetime(2026, 1, 2, 0, 0, 1, tzinfo=UTC), turn=1)  # fmt: skip
    r = result(tool_calls=[call, plain])
    bundle = render.run_bundle(r)
    for mime in ("text/html", "text/markdown", "text/plain"):
        assert bundle[mime].count(PARSED_FROM_TEXT) == 1, mime
    rows = render.tool_rows(r.tool_calls)
    assert [row["note"] for row in rows] == ["parsed from text", ""]


def test_a_call_parsed_from_text_is_marked_in_the_live_table() -> None:
    presenter = Presenter()
    presenter.feed([
        StreamEvent.turn_start(1),
        StreamEvent("tool_call", tool_name="add", arguments={"a": 2, "b": 3}, call_id="t1", turn=1,
                    parsed_from_text=True),
    ])  # fmt: skip
    assert presenter.rows["t1"]["note"] == "parsed from text" and presenter.rows["t1"]["status"] == "running"
    presenter.feed([StreamEvent("tool_result", tool_name="add", arguments={"a": 2, "b": 3}, result=5, call_id="t1",
                                turn=1, duration=0.01, parsed_from_text=True)])  # fmt: skip
    assert presenter.rows["t1"]["note"] == "parsed from text" and presenter.rows["t1"]["status"] == "ok"


def test_warnings_follow_the_status_line_in_every_view() -> None:
    r = result(warnings=[CUT])
    assert render.run_status(r).endswith("· ⚠ the prompt was probably cut")
    bundle = render.run_bundle(r)
    assert "OLLAMA_CONTEXT_LENGTH=16384" in bundle["text/plain"]
    assert "**Warning:** the prompt was probably cut" in bundle["text/markdown"]
    assert "class='osnb-warning'>⚠ the prompt was probably cut" in bundle["text/html"]
    assert "⚠" not in render.run_status(result())
