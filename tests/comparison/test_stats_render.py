"""The static views of summarize() and paired() (HTML escaped and scrubbed, caption, CI bars) and the
progress view's running score."""

from __future__ import annotations

import math
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from openstackai_nb._secrets import register_secret
from openstackai_nb.comparison import paired, summarize
from openstackai_nb.render.evaluation import ci_bar_svg, format_value
from tests._html import parse_tags

SAFE_TAGS = {"style", "div", "table", "caption", "thead", "tbody", "tr", "th", "td", "svg", "title", "line", "circle"}
EVIL_AGENT = "<script>alert(1)</script>"
EVIL_CASE = '<img src=x onerror="alert(2)">'
SECRET = "sk-proj-SECRETSECRET0123456789"


def _frame() -> pd.DataFrame:
    rows = []
    for agent, shift in ((EVIL_AGENT, 0.2), (f"agent {SECRET}", 0.0)):
        for c in range(6):
            case = EVIL_CASE if c == 0 else f"c{c}"
            for r in range(2):
                failed = agent == EVIL_AGENT and c == 0
                rows.append(
                    {
                        "agent": agent,
                        "case_id": case,
                        "repeat": r,
                        "status": "FAILED" if failed else "COMPLETED",
                        "<b>metric</b>": math.nan if failed else 0.3 + shift + 0.1 * ((c + r) % 3),
                        "cost_usd": 0.001,
                        "elapsed_time": 1.0 + c,
                    }
                )
    return pd.DataFrame(rows)


def test_summary_html_escapes_and_scrubs_every_string() -> None:
    register_secret(SECRET)
    page = summarize(_frame(), "<b>metric</b>", ks=(1, 2))._repr_html_()
    tags = parse_tags(page)
    assert set(tags.tags) <= SAFE_TAGS, set(tags.tags) - SAFE_TAGS
    assert not any(a.startswith("on") for a in tags.attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;metric&lt;/b&gt;" in page
    assert SECRET not in page and "[REDACTED]" in page
    assert page.count("<svg") == 2 and "pass@2" in page
    assert SECRET not in repr(summarize(_frame(), "<b>metric</b>"))  # the text twin is scrubbed too


def test_paired_html_escapes_dropped_case_ids_and_draws_the_difference() -> None:
    register_secret(SECRET)
    result = paired(_frame(), EVIL_AGENT, f"agent {SECRET}", "<b>metric</b>")
    assert result["dropped"] == [EVIL_CASE]  # the data keeps the id as it is; the view escapes it
    page = result._repr_html_()
    tags = parse_tags(page)
    assert set(tags.tags) <= SAFE_TAGS and "img" not in tags.tags and "onerror" not in tags.attrs
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page and SECRET not in page
    assert page.count("<svg") == 1 and "0 marked" in page


def test_caption_says_metric_method_and_seed_in_html_and_text() -> None:
    summary = summarize(_frame(), "<b>metric</b>", method="bootstrap", seed=11, n_boot=500)
    page = summary._repr_html_()
    assert "<caption>" in page and "bootstrap" in page and "seed 11" in page and "500 resamples" in page
    text = repr(summary)
    assert text.splitlines()[-1].startswith("metric <b>metric</b>; 95% CI; percentile bootstrap")
    assert "seed 11" in text
    test = paired(_frame(), EVIL_AGENT, f"agent {SECRET}", "<b>metric</b>", seed=4)
    assert "seed 4" in test._repr_html_() and "seed 4" in repr(test) and "exact sign-flip" in repr(test)


def test_a_derived_frame_without_intervals_renders_without_bars() -> None:
    summary = summarize(_frame(), "<b>metric</b>")
    page = summary[["n", "failures"]]._repr_html_()
    assert "<svg" not in page and "<caption>" in page


def test_bar_geometry_and_number_format() -> None:
    svg = ci_bar_svg(0.5, 0.25, 0.75, (0.0, 1.0), label="x")
    # the bar spans 4..136 px: 0.25 -> 37, 0.75 -> 103, the dot at 70
    assert 'x1="37.0"' in svg and 'x2="103.0"' in svg and 'cx="70.0"' in svg
    assert "<circle" not in ci_bar_svg(float("nan"), float("nan"), float("nan"), (0.0, 1.0))
    assert format_value(np.float64(0.123456)) == "0.1235" and format_value(np.int64(3)) == "3"
    assert format_value(float("nan")) == "" and format_value([]) == "none" and format_value(["a", "b"]) == "a, b"


# -- the progress view with scores ---------------------------------------------------------------------


def _result(status: str = "COMPLETED"):
    from openstackai_nb.results import RunResult

    return RunResult.from_dict(
        {"run_id": "run_x", "status": status, "final_output": "ok", "model": "m", "started_at": "2026-01-01T00:00:00Z"}
    )


def test_progress_view_shows_the_running_mean_and_interval() -> None:
    from openstackai_nb.notebook.progress import make_progress
    from openstackai_nb.render.progress import SCORE_TITLE

    scores = [0.5, 1.0, 0.75, 0.25]
    view = make_progress(["A", EVIL_AGENT], 5, enabled=False)
    assert SCORE_TITLE not in view.html(final=False)  # nothing scored yet: no column
    for s in scores:
        view.finished("A", _result(), s)
    view.finished("A", _result("FAILED"), None)
    view.finished(EVIL_AGENT, _result())  # the old two-argument call still works
    x = np.array(scores)
    half = sps.t.ppf(0.975, len(x) - 1) * sps.sem(x)
    shown = f"{x.mean():.2f} ± {half:.2f}"
    page = view.html(final=True)
    assert "score (mean ± 95% CI, runs so far)" in page and shown in page
    assert "<script>" not in page and set(parse_tags(page).tags) <= {"style", "div", "b", "table", "thead", "tbody",
                                                                     "tr", "th", "td", "span"}  # fmt: skip
    assert f"score A {shown}, {EVIL_AGENT} -" in view.summary(final=True)
    assert f"A: 5/5 done, 1 failed, score {shown} (4 scored runs)" in view.text(final=True)


def test_terminal_line_shows_the_score(capsys: pytest.CaptureFixture[str]) -> None:
    from openstackai_nb.notebook.progress import make_progress

    view = make_progress(["A"], 2, enabled=True)
    view.finished("A", _result(), 1.0)
    view.finished("A", _result(), 0.0)
    view.close()
    half = sps.t.ppf(0.975, 1) * sps.sem([1.0, 0.0])
    err = capsys.readouterr().err
    assert err.startswith("compare done: 2/2 runs") and err.rstrip().endswith(f"; score A 0.50 ± {half:.2f}")


# -- in a real kernel: the saved notebook keeps the static table -----------------------------------------


@pytest.mark.kernel
def test_summary_and_paired_are_saved_as_static_html_in_a_notebook(tmp_path) -> None:
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    from tests.notebook._kernel import kernel_env

    code = (
        "import pandas as pd\n"
        "from openstackai_nb import summarize, paired\n"
        "rows = [dict(agent=a, case_id=f'c{i}', status='COMPLETED', score=float((i + k) % 3 > 0))\n"
        "        for k, a in enumerate(['fast', 'careful']) for i in range(8)]\n"
        "df = pd.DataFrame(rows)\n"
    )
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell("summarize(df)"),
               nbformat.v4.new_code_cell("paired(df, 'careful', 'fast')")]
    )  # fmt: skip
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    client = NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute(env=kernel_env(OPENSTACKAI_NB_HISTORY="off"))
    finally:  # nbclient leaves a kernel manager it was given running, with its client's sockets open
        if client.kc is not None:
            client.kc.stop_channels()
        km.shutdown_kernel(now=True)
    for cell, marker in ((nb.cells[1], "ci_high"), (nb.cells[2], "mean_diff")):
        (out,) = cell.outputs
        assert out["output_type"] == "execute_result"
        assert "<svg" in out["data"]["text/html"] and "<script" not in out["data"]["text/html"]
        assert marker in out["data"]["text/plain"] and "seed 0" in out["data"]["text/plain"]
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)
    assert "<svg" in saved.cells[1].outputs[0]["data"]["text/html"]
