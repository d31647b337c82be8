"""Reports are self-contained and escaped; no key reaches a cassette, an export or a report."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.models import replay
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.report import render_report, write_report
from tests._server import OpenAIServer, text_stream, tool_stream

KEY = "sk-test-SECRET-0123456789abcdef"
# The key, its distinctive tail, and any trace of the Authorization header.
FORBIDDEN = [KEY.encode(), b"SECRET-0123456789abcdef", b"Bearer sk-", b"authorization", b"Authorization"]


def leak_key(what: str) -> str:
    """Return a secret (a tool that misbehaves).

    Args:
        what: anything.
    """
    return f"the key is {KEY}"


@pytest.fixture(autouse=True)
def _no_recording_left() -> Iterator[None]:
    yield
    replay.stop_recording()


def assert_key_free(path: Path) -> None:
    data = path.read_bytes()
    for needle in FORBIDDEN:
        assert needle not in data, f"{needle!r} found in {path.name}"


def test_no_key_in_cassette_export_or_report(openai_server: OpenAIServer, tmp_path: Path) -> None:
    # The model echoes the key and a tool returns it: neither may reach a file.
    openai_server.script(
        tool_stream([("call_1", "leak_key", {"what": f"use {KEY}"})]),
        # the key split across two deltas: each piece alone looks harmless
        text_stream("", pieces=["Your key is sk-test-", "SECRET-0123456789", "abcdef, sent as Bearer ", KEY, " ok"]),
    )
    agent = Agent(name="Leaky", instructions=f"never say {KEY}", tools=[leak_key], model="gpt-4o-mini")
    cassette = tmp_path / "c.jsonl"
    with replay.recording(cassette):
        result = Runner.run_sync(agent, f"my key is {KEY}")
    assert result.status is RunStatus.COMPLETED
    # the key really was sent to the server (so the test means something) ...
    assert openai_server.requests[0].headers.get("authorization") == f"Bearer {KEY}"
    # ... and never written
    assert_key_free(cassette)
    report = write_report([result], tmp_path / "report.html")
    assert_key_free(report)
    assert "[REDACTED]" in report.read_text()

    # replayed runs are key-free too, and the replay still matches the scrubbed recording
    replayed = Runner.run_sync(
        Agent(name="Leaky", instructions=f"never say {KEY}", tools=[leak_key], model=f"replay:{cassette}"),
        f"my key is {KEY}",
    )
    assert replayed.status is RunStatus.COMPLETED, replayed.error
    assert KEY not in (replayed.final_output or "")

    from openstackai_nb.store import RunHistory

    if not hasattr(RunHistory, "export"):
        pytest.skip("RunHistory.export (the durable store) has not landed yet")
    hist = RunHistory(tmp_path / "h.sqlite")  # type: ignore[call-arg]
    hist.add(result)
    hist.add(replayed)
    exported = tmp_path / "runs.jsonl"
    hist.export(exported)
    assert_key_free(exported)
    if hasattr(hist, "to_html"):
        hist.to_html(tmp_path / "h.html")
        assert_key_free(tmp_path / "h.html")


def scripted_run(text: str, prompt: str = "hi") -> object:
    agent = Agent(name="Echo", instructions="", model=FunctionModel(lambda m, i: text, name="echo"))
    return Runner.run_sync(agent, prompt)


def test_report_escapes_model_text_and_has_no_script_or_external_url(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script> and <img src=x onerror=alert(1)> **bold**"
    r1 = scripted_run(evil, prompt="<b>prompt</b>")
    r2 = Runner.run_sync(Agent(name="Calc<i>", instructions="", tools=[leak_key], model="scripted"), "leak please")
    page = write_report([r1, r2], tmp_path / "r.html", title="<title> & co").read_text()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<strong>bold</strong>" in page  # markdown of the answer still rendered
    assert "&lt;title&gt; &amp; co" in page and "Calc&lt;i&gt;" in page and "&lt;b&gt;prompt&lt;/b&gt;" in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", page), "external reference in the report"
    assert "@import" not in page
    # one self-contained page: a summary table, each run's card, tool table and transcript
    assert page.count("class='osnb-run osnb-view'") == 2
    assert "<details class='transcript'>" in page and "osnb-tools" in page
    assert "leak_key" in page and "[REDACTED]" in page and KEY not in page


def test_report_embeds_figures_as_png(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["a", "b"], [1, 2])
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    try:
        page = render_report([scripted_run("ok")], figures=[("tokens <per> run", fig), png, ax])
    finally:
        plt.close(fig)
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "tokens &lt;per&gt; run" in page
    with pytest.raises(ValueError, match="PNG"):
        render_report([], figures=[b"GIF89a"])
    with pytest.raises(TypeError, match="matplotlib"):
        render_report([], figures=[object()])


def test_report_takes_dicts_and_an_empty_list(tmp_path: Path) -> None:
    r = scripted_run("from a dict")
    page = write_report([r.to_dict()], tmp_path / "sub" / "r.html").read_text()
    assert "from a dict" in page and "1 run " in page
    assert "0 runs" in render_report([])
