"""End to end in JupyterLab 4 and Notebook 7, in headless Chromium: what a person sees of a run.

Each test runs once per front end (the `jupyter` fixture's two servers). The kernels stream the
offline scripted model at a visible rate (conftest: OPENSTACKAI_NB_SCRIPTED_DELAY), and any
JavaScript console error or uncaught page error fails the test (the `page` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser._ui import BROKEN_OUTPUT_TEXTS, LEGIBILITY_JS, NotebookUI, Snapshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def _assert_nothing_broken(ui: NotebookUI) -> None:
    text = ui.body_text()
    for bad in BROKEN_OUTPUT_TEXTS:
        assert bad not in text, f"the page shows {bad!r}"


def _saved_outputs(jupyter: Any, path: str, idx: int) -> list[dict[str, Any]]:
    model = jupyter.api("GET", f"/api/contents/{path}?content=1")
    return model["content"]["cells"][idx]["outputs"]


def test_run_streams_fills_tool_table_and_survives_reload(page: Any, jupyter: Any, results_dir: Path) -> None:
    ui = NotebookUI(page, jupyter, "e2e.ipynb").open()
    ui.run_and_wait(0)
    ui.run_and_wait(1)
    assert "ready" in ui.output(1).inner_text()

    shots: dict[str, bool] = {}

    def mid_stream(snap: Snapshot) -> None:
        # One picture of the live view while the answer streams (tool rows already final).
        if not shots and snap.live and len(snap.text) > 600:
            shots["live"] = ui.shot_live(2, results_dir / f"{jupyter.kind}-e2e-live.png")

    ui.run(2)
    watch = ui.watch(2, on_snapshot=mid_stream)
    ui.wait_finished(2)

    # The tool table: each row went running -> ok / error in the live view.
    assert watch.row_statuses("lookup_notes") == ["running", "ok"], watch.row_statuses("lookup_notes")
    assert watch.row_statuses("check_stock") == ["running", "error"], watch.row_statuses("check_stock")
    # Streaming, not one block at the end: the text grew between every pair of samples.
    samples = watch.text_samples(every=0.5)
    assert len(samples) >= 4, f"too few samples while streaming: {samples}"
    assert all(b > a for a, b in zip(samples, samples[1:], strict=False)), samples
    assert shots, "no mid-stream screenshot: the live text never passed 600 characters"
    streamed = max((s.text for s in watch.snaps if s.live), key=len)
    # The view shows the text from its first word (deltas sent before it appeared included).
    assert streamed.startswith("Here is what the tools found"), streamed[:80]

    # The static copy replaced the live view in the same output.
    out = ui.output(2)
    assert out.locator(".osnb-live").count() == 0
    static = out.locator(".osnb-run")
    assert static.count() == 1
    static_text = static.inner_text()
    assert "COMPLETED" in static_text
    assert "paris-note-149" in static_text
    assert streamed.split()[-1] in static_text
    rows = static.locator("table.osnb-tools tbody tr")
    assert rows.count() == 2
    assert sorted(r.split("\t")[3] for r in rows.all_inner_texts()) == ["error", "ok"]
    ui.shot(ui.cell(2), results_dir / f"{jupyter.kind}-e2e-done.png")

    ui.run_and_wait(3)
    assert "after run: COMPLETED 2" in ui.output(3).inner_text()

    # Save, shut the kernel down, reload: the run is still shown, from the file alone.
    ui.save()
    saved = _saved_outputs(jupyter, "e2e.ipynb", 2)
    mimes = {m for o in saved for m in o.get("data", {})}
    assert "text/html" in mimes and "text/plain" in mimes
    assert "application/vnd.jupyter.widget-view+json" not in mimes
    jupyter.shutdown_kernels()
    ui.reload()
    out = ui.output(2)
    out.locator(".osnb-run").wait_for()
    after = out.locator(".osnb-run").inner_text()
    assert "COMPLETED" in after and "paris-note-149" in after
    assert "lookup_notes" in after and "check_stock" in after
    assert out.locator("table.osnb-tools tbody tr").count() == 2
    _assert_nothing_broken(ui)
    page.errors.check()


def test_model_html_never_runs(page: Any, jupyter: Any) -> None:
    ui = NotebookUI(page, jupyter, "xss.ipynb").open()
    for idx in (0, 1):
        ui.run_and_wait(idx)
    ui.run(2)
    ui.watch(2)
    ui.wait_finished(2)
    ui.run_and_wait(3)  # `evil_res` alone: RunResult._repr_html_

    for idx in (2, 3):
        out = ui.output(idx)
        shown = out.inner_text()
        # The payload is visible as text...
        assert "<script>window.__xss += 1;" in shown, shown
        assert "<img src=x onerror=" in shown, shown
        # ...and became no element.
        assert out.locator("script").count() == 0
        assert out.locator("img").count() == 0
        assert out.locator("svg[onload]").count() == 0
        assert out.locator("strong").count() >= 1  # the markdown around it still renders
    assert page.evaluate("window.__xss") == 0, "a script from the model answer ran"
    _assert_nothing_broken(ui)
    page.errors.check()


def test_interrupt_from_toolbar(page: Any, jupyter: Any, results_dir: Path) -> None:
    ui = NotebookUI(page, jupyter, "interrupt.ipynb").open()
    ui.run_and_wait(0)
    ui.run(1)
    partial = ""

    def interrupt_midway(snap: Snapshot) -> None:
        nonlocal partial
        if not partial and snap.live and len(snap.text) > 300:
            partial = snap.text
            ui.interrupt()

    ui.watch(1, timeout=60, on_snapshot=interrupt_midway)
    ui.wait_finished(1, timeout=30)
    assert partial, "the run ended before it could be interrupted"
    static = ui.output(1).locator(".osnb-run")
    shown = static.inner_text()
    assert "CANCELLED" in shown
    # What streamed before the interrupt is kept...
    assert " ".join(partial.split()[:40]) in " ".join(shown.split())
    # ...and the run stopped well before its 600 words.
    assert len(shown.split()) < 500
    ui.shot(ui.cell(1), results_dir / f"{jupyter.kind}-interrupt.png")

    ui.run_and_wait(2, timeout=30)
    assert "next cell ran: CANCELLED True" in ui.output(2).inner_text()
    _assert_nothing_broken(ui)
    page.errors.check()


def _quickstart_path() -> Path:
    from tests.browser._notebooks import QUICKSTART

    return QUICKSTART


@pytest.mark.skipif(not _quickstart_path().exists(), reason="notebooks/01-quickstart.ipynb not written yet")
def test_quickstart_runs_top_to_bottom(page: Any, jupyter: Any, results_dir: Path) -> None:
    nb = json.loads(_quickstart_path().read_text())
    code = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    agent_cells = [i for i in code if "".join(nb["cells"][i]["source"]).lstrip().startswith("%%agent")]
    assert agent_cells, "the quickstart has no %%agent cell"
    # The cell shown in the README: the one with a tool table, else the first %%agent cell.
    ui = NotebookUI(page, jupyter, _quickstart_path().name).open()
    pictured: int | None = None
    for idx in code:
        if idx not in agent_cells:
            ui.run_and_wait(idx, timeout=60)
            continue
        ui.cell(idx).scroll_into_view_if_needed()
        ui.run(idx)

        # The README's picture: a live view with its tool table, while the answer streams; a
        # few lines of it in the first such cell, any text at all in a later one (slow machines).
        words = 7 if idx == agent_cells[0] else 1

        def mid_stream(snap: Snapshot, idx: int = idx, words: int = words) -> None:
            nonlocal pictured
            if pictured is None and snap.live and snap.rows and len(snap.text.split()) >= words:
                if ui.shot_live(idx, results_dir / f"{jupyter.kind}-quickstart-live.png"):
                    pictured = idx

        watch = ui.watch(idx, on_snapshot=mid_stream)
        ui.wait_finished(idx)
        assert any(s.live for s in watch.snaps), f"cell {idx}: no live view was shown"
        assert ui.output(idx).locator(".osnb-run").count() >= 1
        if pictured == idx:
            ui.shot(ui.cell(idx), results_dir / f"{jupyter.kind}-quickstart-done.png")
    assert pictured is not None, "no picture of a quickstart %%agent cell streaming with a tool table"
    _assert_nothing_broken(ui)
    page.errors.check()


THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_markdown_answer_renders_live_and_static_in_both_themes(
    page: Any, jupyter: Any, results_dir: Path, theme: str
) -> None:
    jupyter.set_theme(THEMES[theme])
    try:
        ui = NotebookUI(page, jupyter, "markdown.ipynb").open()
        page.wait_for_selector(f"body[data-jp-theme-name='{THEMES[theme]}']", state="attached")
        ui.run_and_wait(0)
        ui.run_and_wait(1)
        assert "ready" in ui.output(1).inner_text()
        shots: dict[str, Any] = {}

        def mid_stream(snap: Snapshot) -> None:
            md = snap.md
            # Live, while it streams: a table, highlighted code, a nested list and a link are
            # already rendered (the text after them still arriving as text).
            if "live" not in shots and snap.live and snap.state == "running" and md.get("table") and md.get("code") \
                    and md.get("nested") and md.get("link"):  # fmt: skip
                shots["md"] = md
                shots["legible"] = ui.cell(2).locator(".osnb-live").evaluate(LEGIBILITY_JS)
                shots["live_table"] = _tool_table_look(ui.cell(2).locator("table.osnb-tools"))
                shots["live"] = ui.shot_live(2, results_dir / f"{jupyter.kind}-markdown-{theme}-live.png")

        ui.run(2)
        watch = ui.watch(2, on_snapshot=mid_stream)
        ui.wait_finished(2)
        assert "md" in shots, f"the live view never showed table, code, nested list and link: {watch.snaps[-1].md}"
        assert shots["md"]["link"] == ["https://example.com/forecast/paris"]
        assert shots["legible"]["min"] >= 4.5, shots["legible"]  # WCAG AA for text, dimmed parts included
        assert shots["legible"]["syntax"] >= 3, shots["legible"]
        assert not shots["legible"]["white"], shots["legible"]

        static = ui.output(2).locator(".osnb-run")
        assert static.count() == 1 and ui.output(2).locator(".osnb-live").count() == 0
        answer = static.locator(".osnb-md")
        md = answer.evaluate("(el) => window.__osnbMarkdown(el)")
        assert md["table"] and md["code"] and md["nested"] and md["link"] == shots["md"]["link"]
        assert answer.locator("table td[align='right']").first.evaluate("(e) => getComputedStyle(e).textAlign") == (
            "right"
        )
        # The same tool table as live: columns, alignment, colours.
        assert _tool_table_look(static.locator("table.osnb-tools")) == shots["live_table"]
        # Reasoning: collapsed above the answer, opens on click.
        details = static.locator("details.osnb-reasoning")
        assert details.count() == 1 and details.evaluate("(d) => d.open") is False
        details.locator("summary").click()
        assert details.evaluate("(d) => d.open") is True and "get_forecast for Paris" in details.inner_text()
        legible = static.evaluate(LEGIBILITY_JS)
        assert legible["min"] >= 4.5 and legible["syntax"] >= 3 and not legible["white"], legible
        ui.shot(ui.cell(2), results_dir / f"{jupyter.kind}-markdown-{theme}-done.png")
        _assert_nothing_broken(ui)
        page.errors.check()
    finally:
        jupyter.set_theme(THEMES["light"])


def _tool_table_look(table: Any) -> dict[str, Any]:
    """What a person sees of a tool table: headers, and each cell's alignment and colour."""
    return table.evaluate(
        """(t) => ({
          head: [...t.querySelectorAll('th')].map((th) => th.textContent),
          cells: [...t.querySelectorAll('tbody td')].map((td) => {
            const s = getComputedStyle(td);
            return [td.className, s.textAlign, s.color, s.borderTopColor, s.fontFamily];
          }),
        })"""
    )


def test_static_copy_is_legible_outside_jupyter(browser: Any) -> None:
    # VS Code (light and dark: no --jp-* variables, its body class and colours) and GitHub (none of
    # our CSS, only its page's own colours and link colour).
    from openstackai_nb import Agent, Runner, render
    from openstackai_nb.models import FunctionModel
    from tests.browser._notebooks import MARKDOWN_ANSWER

    res = Runner.run_sync(Agent(model=FunctionModel(lambda m, i: MARKDOWN_ANSWER)), "Weather?")
    html = render.run_html(res)
    without_css = html[html.index("</style>") + len("</style>") :]
    hosts = {  # name: (body class, background, text colour, link colour, HTML)
        "vscode-dark": ("vscode-dark", "#1e1e1e", "#cccccc", "", html),
        "vscode-light": ("vscode-light", "#ffffff", "#3b3b3b", "", html),
        "github-no-css": ("", "#ffffff", "#1f2328", "#0969da", without_css),
        "github-dark-no-css": ("", "#0d1117", "#e6edf3", "#4493f8", without_css),
    }
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        for name, (cls, bg, fg, link, body) in hosts.items():
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            host_css = f"<style>a{{color:{link}}}</style>" if link else ""
            page.set_content(
                f"<html>{host_css}<body class='{cls}' style='background:{bg};color:{fg}'>{body}</body></html>"
            )
            page.evaluate("document.body.dataset.jpThemeLight = " + ("'false'" if "dark" in name else "'true'"))
            legible = page.locator(".osnb-run").evaluate(LEGIBILITY_JS)
            assert legible["min"] >= 4.5 and legible["syntax"] >= 3, (name, legible)
            assert not legible["white"], (name, legible)
            assert page.locator(".osnb-run table td").count() > 0 and not errors
            page.close()
    finally:
        context.close()
