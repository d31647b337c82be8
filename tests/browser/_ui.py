"""Driving one notebook in JupyterLab 4 or Notebook 7 as a person would: click, Shift-Enter, look.

Both front ends render notebooks with the same JupyterLab widgets (`.jp-Notebook`, `.jp-Cell`,
`.jp-OutputArea`) and the same toolbar commands (`[data-command=...]`), so one driver serves both.
The live view's DOM (`openstackai_nb/notebook/static/live_view.js`) is `.osnb-live` with
`data-state`, `.osnb-live-text` and `table.osnb-live-tools` rows classed `osnb-tool-<status>`;
the static copy that replaces it (`render.py`) is `.osnb-run`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROKEN_OUTPUT_TEXTS = (
    "Error displaying widget",
    "Error rendering output item",
    "Failed to load model class",
    "Javascript Error",
    "Could not render content",
    "No renderer could be found",
)
"""Texts JupyterLab / ipywidgets put in an output that failed to show."""

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
"""The notebook on show (JupyterLab may keep other notebooks open in hidden tabs)."""

_SNAPSHOT_JS = """([idx, sel]) => {
  const cell = document.querySelectorAll(sel)[idx];
  if (!cell) return null;
  const live = cell.querySelector('.osnb-live');
  const text = live ? live.querySelector('.osnb-live-text') : null;
  const rows = live ? [...live.querySelectorAll('table.osnb-live-tools tbody tr')].map((tr) => ({
    name: tr.cells[0] ? tr.cells[0].textContent : '',
    status: tr.cells[3] ? tr.cells[3].textContent : '',
    cls: tr.className,
  })) : [];
  return {
    live: !!live,
    state: live ? live.dataset.state || '' : '',
    status: live ? (live.querySelector('.osnb-live-status') || {}).textContent || '' : '',
    text: text ? text.textContent : '',
    rows,
    done: !!cell.querySelector('.osnb-run'),
    prompt: ((cell.querySelector('.jp-InputPrompt') || {}).textContent || '').trim(),
  };
}"""


@dataclass
class Snapshot:
    """What one cell's output showed at one moment."""

    t: float
    live: bool
    state: str
    status: str
    text: str
    rows: list[dict[str, str]]
    done: bool
    prompt: str


@dataclass
class Watch:
    """Snapshots of a cell's output taken while it ran."""

    snaps: list[Snapshot] = field(default_factory=list)

    def row_statuses(self, tool: str) -> list[str]:
        """The statuses the live table showed for `tool`, in order, without repeats."""
        seen: list[str] = []
        for s in self.snaps:
            for r in s.rows:
                if r["name"] == tool and (not seen or seen[-1] != r["status"]):
                    seen.append(r["status"])
        return seen

    def text_samples(self, every: float) -> list[int]:
        """Live text lengths sampled at least `every` seconds apart while the text streamed."""
        out: list[tuple[float, int]] = []
        for s in self.snaps:
            if s.done or not s.live or not s.text:
                continue
            if not out or s.t - out[-1][0] >= every:
                out.append((s.t, len(s.text)))
        return [n for _, n in out]


class NotebookUI:
    """One notebook open in a page of JupyterLab or Notebook 7."""

    def __init__(self, page: Any, server: Any, path: str) -> None:
        self.page = page
        self.server = server
        self.path = path

    def open(self) -> NotebookUI:
        self.page.goto(self.server.url(self.path))
        self.wait_ready()
        return self

    def reload(self) -> None:
        self.page.reload()
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the cells and for this page's kernel connection.

        A cell run before the front end holds a connected kernel is silently not executed, and
        the toolbar's indicator already says "idle" before it connects: so wait until the
        server counts a websocket connection to the notebook's kernel, and the page says idle.
        """
        self.page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout * 1000)
        # Editors exist (a rendered markdown cell's editor is hidden, so "attached", not "visible").
        self.page.wait_for_selector(f"{NOTEBOOK} .jp-CodeCell .cm-content", state="attached", timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sessions = [s for s in self.server.api("GET", "/api/sessions") if s.get("path") == self.path]
            kernel = sessions[0].get("kernel") or {} if sessions else {}
            if kernel.get("connections", 0) >= 1 and kernel.get("execution_state") == "idle":
                indicator = self.page.locator(".jp-Notebook-ExecutionIndicator").first
                if indicator.count() == 0 or indicator.get_attribute("data-status") == "idle":
                    return
            time.sleep(0.2)
        raise AssertionError(f"{self.path}: no kernel connected to the page after {timeout}s")

    def cell(self, idx: int) -> Any:
        return self.page.locator(f"{NOTEBOOK} .jp-Cell").nth(idx)

    def output(self, idx: int) -> Any:
        return self.cell(idx).locator(".jp-OutputArea")

    def prompt(self, idx: int) -> str:
        return str(self.cell(idx).locator(".jp-InputPrompt").first.inner_text()).strip()

    def run(self, idx: int) -> None:
        """Click into the cell's editor and press Shift-Enter."""
        self.cell(idx).locator(".cm-content").first.click()
        self.page.keyboard.press("Shift+Enter")

    def wait_finished(self, idx: int, timeout: float = 60.0) -> None:
        """Wait until the cell's prompt shows an execution count (`[n]:`), i.e. it ran."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"\[\d+\]", self.prompt(idx)):
                return
            time.sleep(0.1)
        raise AssertionError(f"cell {idx} of {self.path} did not finish in {timeout}s (prompt {self.prompt(idx)!r})")

    def run_and_wait(self, idx: int, timeout: float = 60.0) -> None:
        self.run(idx)
        self.wait_finished(idx, timeout)

    def snapshot(self, idx: int) -> Snapshot | None:
        data = self.page.evaluate(_SNAPSHOT_JS, [idx, f"{NOTEBOOK} .jp-Cell"])
        return None if data is None else Snapshot(t=time.monotonic(), **data)

    def watch(
        self,
        idx: int,
        *,
        timeout: float = 90.0,
        interval: float = 0.08,
        on_snapshot: Any = None,
    ) -> Watch:
        """Poll the cell's output until the static copy replaces the live view of this run.

        A static copy left from an earlier run counts only once this run has started (its live
        view or the busy prompt `[*]` was seen).
        """
        w = Watch()
        started = False
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot(idx)
            if snap is not None:
                w.snaps.append(snap)
                started = started or snap.live or "*" in snap.prompt
                if on_snapshot is not None:
                    on_snapshot(snap)
                if snap.done and started:
                    return w
            if time.monotonic() > deadline:
                last = w.snaps[-1] if w.snaps else None
                raise AssertionError(f"cell {idx}: no static run view after {timeout}s; last snapshot {last}")
            time.sleep(interval)

    def save(self) -> None:
        """Save with the keyboard shortcut (Ctrl+S) and wait until the server has the file."""
        before = self.server.api("GET", f"/api/contents/{self.path}?content=0")["last_modified"]
        self.cell(0).locator(".jp-InputPrompt").first.click()  # command mode, focus in the notebook
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = self.server.api("GET", f"/api/contents/{self.path}?content=0")["last_modified"]
            if now != before:
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.path} was not saved after Ctrl+S")

    def interrupt(self) -> None:
        """Click the notebook toolbar's interrupt button (the ■ square)."""
        self.page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']").first.click()

    def body_text(self) -> str:
        return str(self.page.locator("body").inner_text())

    def shot(self, target: Any, path: Path) -> None:
        """A PNG of `target` (a cell), taken at once (a page clip: no waiting for stability)."""
        view = self.page.viewport_size or {"width": 1280, "height": 900}
        box = target.bounding_box()
        if box is None or box["y"] < 0 or box["y"] + box["height"] > view["height"]:
            target.evaluate("(e) => e.scrollIntoView({block: 'center'})")  # the whole cell in sight
            box = target.bounding_box()
        assert box is not None, f"nothing to photograph for {path.name}"
        top = max(box["y"], 0)
        clip = {
            "x": max(box["x"] - 4, 0),
            "y": top,
            "width": min(box["width"] + 8, view["width"]),
            "height": min(box["y"] + box["height"] + 4, view["height"]) - top,
        }
        self.page.screenshot(path=str(path), clip=clip)

    def shot_live(self, idx: int, path: Path) -> bool:
        """Photograph cell `idx` while its live view runs; False when the run ended meanwhile."""
        tmp = path.with_suffix(".tmp.png")
        self.shot(self.cell(idx), tmp)
        after = self.snapshot(idx)
        if after is None or not after.live or after.state != "running":
            tmp.unlink(missing_ok=True)
            return False
        tmp.replace(path)
        return True
