"""Driving one notebook in JupyterLab 4 or Notebook 7 as a person would: click, Shift-Enter, look.

Both front ends render notebooks with the same JupyterLab widgets (`.jp-Notebook`, `.jp-Cell`,
`.jp-OutputArea`) and the same toolbar commands (`[data-command=...]`), so one driver serves both.
The live view's DOM (`openstackai_nb/notebook/static/live_view.js`) is `.osnb-live` with
`data-state`, `.osnb-live-text` (the answer: rendered blocks, then `.osnb-tail`) and
`table.osnb-live-tools` rows classed `osnb-tool-<status>`; the static copy that replaces it
(`render.runs`) is `.osnb-run`, with the same classes inside (`.osnb-md`, `table.osnb-tools`).
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
    name: (tr.querySelector('.osnb-tname') || {}).textContent || '',
    status: ((tr.className.match(/osnb-tool-(\\w+)/) || [])[1]) || '',
    cls: tr.className,
  })) : [];
  return {
    live: !!live,
    state: live ? live.dataset.state || '' : '',
    status: live ? (live.querySelector('.osnb-live-status') || {}).textContent || '' : '',
    text: text ? text.textContent : '',
    rows,
    md: text ? window.__osnbMarkdown(text) : {},
    done: !!cell.querySelector('.osnb-run'),
    prompt: ((cell.querySelector('.jp-InputPrompt') || {}).textContent || '').trim(),
  };
}"""

MARKDOWN_PROBE_JS = """() => {
  window.__osnbMarkdown = (root) => ({
    table: !!root.querySelector('table td'),
    code: !!root.querySelector('pre.osnb-hl span.k, pre.osnb-hl span.nb'),
    nested: !!root.querySelector('li > ul > li, li > ol > li'),
    link: [...root.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
    tail: (root.querySelector('.osnb-tail') || {}).textContent || '',
  });
}"""
"""Installed in every page (`NotebookUI.open`): what markdown an answer element shows."""

LEGIBILITY_JS = """(root) => {
  // The lowest contrast ratio (WCAG) of the view's text against what is behind it, with the
  // opacity of dimmed parts blended in; and any white or near-white background inside the view.
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 4 ? c[3] > 0.5 : c.length === 3) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const opacityOf = (el) => {
    let o = 1;
    for (let e = el; e && e !== root.parentElement; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  // Syntax colours are the editor theme's own (JupyterLab's comment colour is ~4:1 on its code
  // background), so they are held to 3:1 (WCAG's large-text and graphics level), the rest to 4.5:1.
  const out = { min: 99, worst: '', syntax: 99, syntaxWorst: '', white: [] };
  const sel = '.osnb-md p, .osnb-md li, .osnb-md td, .osnb-md th, .osnb-md code, .osnb-hl span, '
    + '.osnb-tools td, .osnb-tools th, .osnb-status b, .osnb-status span, .osnb-reasoning summary, .osnb-md a';
  for (const el of root.querySelectorAll(sel)) {
    if (!el.textContent.trim() || !el.getClientRects().length) continue;
    const bg = bgOf(el);
    const fg = rgb(getComputedStyle(el).color);
    const a = (fg.length === 4 ? fg[3] : 1) * opacityOf(el);
    const mix = fg.slice(0, 3).map((c, i) => c * a + bg[i] * (1 - a));
    const [hi, lo] = [lum(mix), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const what = `${el.tagName}.${el.className} ${getComputedStyle(el).color} on rgb(${bg})`;
    if (el.closest('.osnb-hl') && el.tagName === 'SPAN') {
      if (ratio < out.syntax) { out.syntax = ratio; out.syntaxWorst = what; }
    } else if (ratio < out.min) {
      out.min = ratio;
      out.worst = what;
    }
  }
  for (const el of [root, ...root.querySelectorAll('*')]) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if ((c.length === 3 || c[3] > 0.5) && lum(c.slice(0, 3)) > 0.85 && document.body.dataset.jpThemeLight === 'false') {
      out.white.push(`${el.tagName}.${el.className}`);
    }
  }
  return out;
}"""
"""Run on a view element: its worst text and syntax contrasts, and white backgrounds in a dark theme."""


@dataclass
class Snapshot:
    """What one cell's output showed at one moment."""

    t: float
    live: bool
    state: str
    status: str
    text: str
    rows: list[dict[str, str]]
    md: dict[str, Any]
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
        self.page.evaluate(MARKDOWN_PROBE_JS)
        return self

    def reload(self) -> None:
        self.page.reload()
        self.wait_ready()
        self.page.evaluate(MARKDOWN_PROBE_JS)

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
