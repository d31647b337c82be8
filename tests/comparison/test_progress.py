"""compare's progress is passed in: a view made by a function, a small protocol, no notebook import below it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from openstackai_nb import Agent, compare, scorers
from openstackai_nb.comparison.cases import Case
from openstackai_nb.comparison.progress import CompareProgress, NullProgress, progress_view
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.results import RunResult

ROOT = Path(__file__).resolve().parents[2]


class Recording(NullProgress):
    """A view that writes down what compare told it."""

    made: list[Recording] = []

    def __init__(self, labels: list[str], per_agent: int) -> None:
        super().__init__(labels, per_agent)
        self.calls: list[tuple[str, str]] = []
        self.closed_as: bool | None = None
        Recording.made.append(self)

    def started(self, label: str) -> None:
        super().started(label)
        self.calls.append(("started", label))

    def finished(self, label: str, result: RunResult, score: float | None = None) -> None:
        super().finished(label, result, score)
        self.calls.append(("finished", label))

    def close(self, *, interrupted: bool = False) -> None:
        self.closed_as = interrupted
        super().close(interrupted=interrupted)


def test_a_view_maker_passed_in_gets_every_start_and_end_and_is_closed() -> None:
    Recording.made.clear()
    agents = [Agent(name="A", model="scripted"), Agent(name="B", model="scripted")]
    cases = [Case("say 2 words", expected="words"), Case("say 3 words", expected="words")]
    df = compare(agents, cases, repeats=2, progress=Recording, score=scorers.contains())
    (view,) = Recording.made
    assert list(view.rows) == ["A", "B"] and view.per_agent == 4 and view.total == 8
    assert sorted(view.calls) == sorted([("started", a) for a in "AABBAABB"] + [("finished", a) for a in "AABBAABB"])
    assert view.done == 8 and view.closed_as is False
    assert len(df) == 8


def test_judges_get_their_own_view_on_one_row() -> None:
    Recording.made.clear()
    judge_model = FunctionModel(lambda m, i: '{"score": 3, "reason": "ok"}', name="judge")
    judge = scorers.judge(judge_model, rubric="is it short?")
    compare(Agent(name="A", model="scripted"), ["say 2 words", "say 3 words"], progress=Recording, score=judge)
    grid_view, judge_view = Recording.made
    assert list(grid_view.rows) == ["A"] and list(judge_view.rows) == ["judges"]
    assert judge_view.done == 2 and {label for _, label in judge_view.calls} == {"judges"}


def test_anything_else_is_a_config_error_before_a_run_starts(session_history) -> None:
    with pytest.raises(ConfigError, match="progress must be True, False or a function"):
        compare(Agent(name="A", model="scripted"), ["say 2 words"], progress="yes")  # type: ignore[arg-type]
    assert len(session_history) == 0


def test_progress_false_and_true_outside_a_kernel_need_no_notebook() -> None:
    assert type(progress_view(False, ["A"], 1)) is NullProgress
    code = (
        "import sys, openstackai_nb as o\n"
        "df = o.compare(o.Agent(name='A', model='scripted'), ['say 2 words'], progress=True)\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('IPython', 'openstackai_nb.notebook')))\n"
        "print(len(df), bad)\n"
    )
    env = {"OPENSTACKAI_NB_HISTORY": "off", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1 []"
    assert "compare done: 1/1 runs" in proc.stderr  # the terminal line (stderr is not a terminal: once)


def test_counts_keep_working_for_a_case_scored_view() -> None:
    view: CompareProgress = NullProgress(["A"], 2)
    agent = Agent(name="A", model=FunctionModel(lambda m, i: "four"))
    df = compare(agent, [Case("x", expected="four")], progress=lambda labels, n: view, score=scorers.exact())
    assert df["score"].tolist() == [1.0]
    assert view.done == 1 and view.rows["A"].scores.n == 1 and "score A 1.00" in view.summary()


def test_the_view_shows_each_row_s_latest_answer_scrubbed_when_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The latest answer and model reach the table only through the scrubber, however often runs end.

    The texts are kept as they came and scrubbed when drawn (once per change: a long answer costs
    about 0.02 ms a KB to scrub, and the view draws ten times a second at most).
    """
    secret = "sk-proj-" + "Q7" * 20
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    answers = iter([f"first {secret}", "second\n\nanswer " + "x" * 50_000, f"third <b>{secret}</b>"])
    view: CompareProgress = NullProgress(["A"], 3)
    model = FunctionModel(lambda m, i: next(answers), name=f"model-{secret}")
    compare(Agent(name="A", model=model), ["a", "b", "c"], concurrency=1, progress=lambda labels, n: view)
    html, text = view.html(final=True), view.text(final=True)
    assert secret not in html and secret not in text and secret[8:20] not in html
    assert "third &lt;b&gt;[REDACTED]&lt;/b&gt;" in html  # the last run's answer, escaped, on one line
    assert "model-[REDACTED]" in html
    assert view.rows["A"].shown() == ("model-[REDACTED]", "third <b>[REDACTED]</b>")


def _imports(package: str) -> set[tuple[str, str]]:
    """(module file, imported module) for every import of openstackai_nb.* in a subpackage (functions too)."""
    found: set[tuple[str, str]] = set()
    for path in (ROOT / "openstackai_nb" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found.update((path.name, n) for n in names if n.startswith("openstackai_nb."))
    return found


def test_the_comparisons_import_no_notebook_and_the_history_no_comparison() -> None:
    up = sorted(f"{f} -> {m}" for f, m in _imports("comparison") if m.startswith("openstackai_nb.notebook"))
    assert not up, "comparison/ imports the notebook layer:\n" + "\n".join(up)
    up = sorted(f"{f} -> {m}" for f, m in _imports("store") if m.startswith("openstackai_nb.comparison"))
    assert not up, "store/ imports the comparison layer:\n" + "\n".join(up)
