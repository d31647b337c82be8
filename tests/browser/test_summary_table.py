"""A summary table and a paired result as a browser draws them: screenshots, and the CI bars where the numbers say.

The static HTML of `summarize()` / `paired()` goes into a bare page in headless Chromium (no
Jupyter server needed: it is the HTML a saved notebook holds), on a light and a dark host, and
with its <style> removed as GitHub does. Screenshots go to test-results/.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from openstackai_nb import paired, summarize
from tests.browser.conftest import RESULTS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def _table() -> pd.DataFrame:
    rows = []
    for agent, right in (
        ("careful <b>v2</b>", [1, 1, 1, 0, 1, 1, 1, 1, 0, 1]),
        ("quick", [1, 0, 1, 0, 0, 1, 1, 0, 0, 1]),
    ):
        for case, value in enumerate(right):
            for repeat in range(3):
                rows.append(
                    {"agent": agent, "case_id": f"q{case}", "repeat": repeat, "status": "COMPLETED",
                     "score": float(value if repeat else 1 - value if case % 4 == 0 else value),
                     "cost_usd": 0.0003, "elapsed_time": 0.8 + 0.1 * case}
                )  # fmt: skip
    return pd.DataFrame(rows)


BAR_JS = """(el) => [...el.querySelectorAll('svg')].map(svg => {
  const box = svg.getBoundingClientRect();
  const seg = [...svg.querySelectorAll('line')].find(l => l.getAttribute('stroke-width') === '4');
  const dot = svg.querySelector('circle');
  const s = seg.getBoundingClientRect(), d = dot.getBoundingClientRect();
  return {width: box.width, left: (s.left - box.left) / box.width, right: (s.right - box.left) / box.width,
          dot: (d.left + d.width / 2 - box.left) / box.width, fill: getComputedStyle(dot).fill};
})"""


@pytest.mark.parametrize(
    ("host", "background", "colour", "keep_css"),
    [
        ("light", "#ffffff", "#1f2328", True),
        ("dark", "#1e1e1e", "#cccccc", True),
        ("github", "#ffffff", "#1f2328", False),
    ],
)
def test_summary_and_paired_tables_draw_their_intervals(
    browser: Any, host: str, background: str, colour: str, keep_css: bool
) -> None:
    df = _table()
    summary = summarize(df, ks=(1, 3))
    test = paired(df, "careful <b>v2</b>", "quick")
    body = summary._repr_html_() + "<br>" + test._repr_html_()
    if not keep_css:
        body = body.replace(body[body.index("<style>") : body.index("</style>") + 8], "")
    context = browser.new_context(viewport={"width": 1400, "height": 500}, device_scale_factor=1)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_content(f"<html><body style='background:{background};color:{colour}'>{body}</body></html>")
        bars = page.locator("body").evaluate(BAR_JS)
        assert len(bars) == 3 and not errors  # two agents, one difference
        # each bar's scale, as its header says: "CI (scale -0.05 to 1.07)", "CI (scale -0.525 to 0.525, 0 marked)"
        heads = re.findall(r"CI \(scale (\S+) to ([^,)]+)", page.locator("body").inner_text())
        scale = [(float(lo), float(hi)) for lo, hi in heads]
        assert len(scale) == 2 and scale[1][0] == -scale[1][1]  # the difference's scale is symmetric around 0
        scale.insert(1, scale[0])  # the summary's two rows share one scale
        rows = [*summary[["mean", "ci_low", "ci_high"]].itertuples(index=False, name=None),
                (test["mean_diff"], test["ci_low"], test["ci_high"])]  # fmt: skip
        for bar, (lo, hi), (mean, low, high) in zip(bars, scale, rows, strict=True):
            assert bar["width"] == 140

            def at(v: float, lo: float = lo, hi: float = hi) -> float:  # where v sits in the SVG, 0..1
                return (4 + 132 * (v - lo) / (hi - lo)) / 140

            assert bar["left"] == pytest.approx(at(low), abs=0.01) and bar["right"] == pytest.approx(at(high), abs=0.01)
            assert bar["dot"] == pytest.approx(at(mean), abs=0.01)
            assert bar["fill"] == page.evaluate("getComputedStyle(document.body).color")  # the text's colour
        assert "careful <b>v2</b>" in page.locator("table").first.inner_text()  # shown as text, not markup
        assert page.locator("b").count() == 0
        RESULTS.mkdir(exist_ok=True)
        page.screenshot(path=str(RESULTS / f"summary-table-{host}.png"), full_page=True)
    finally:
        context.close()
