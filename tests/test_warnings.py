"""Our warnings name the user's line (the caller's file), never a module of the package."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import openstackai_nb
from openstackai_nb import Agent, Runner
from openstackai_nb.comparison import ScoreWarning, compare
from openstackai_nb.errors import HistoryWarning
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.store import RunHistory

PACKAGE_DIR = os.path.dirname(openstackai_nb.__file__)


def agent() -> Agent:
    return Agent(name="A", model=FunctionModel(lambda m, i: "ok"))


def test_a_score_warning_names_the_line_that_called_compare() -> None:
    with pytest.warns(ScoreWarning) as caught:
        line = sys._getframe().f_lineno + 1
        compare(agent(), ["x"], score=lambda r, i: 1 / 0, progress=False)
    (w,) = [w for w in caught if w.category is ScoreWarning]
    assert (w.filename, w.lineno) == (__file__, line)


def test_a_history_warning_names_the_line_that_read_the_history(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "h.sqlite")
    history.add(Runner.run_sync(agent(), "hi"))
    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        db.execute("UPDATE results SET result = '{not json'")
    with pytest.warns(HistoryWarning) as caught:
        line = sys._getframe().f_lineno + 1
        assert RunHistory(tmp_path / "h.sqlite").last(1) == []
    (w,) = [w for w in caught if w.category is HistoryWarning]
    assert (w.filename, w.lineno) == (__file__, line)
    assert not w.filename.startswith(PACKAGE_DIR)


def test_the_session_history_warning_names_the_users_script(tmp_path: Path) -> None:
    # `openstackai_nb.history` is made on first use (PEP 562 __getattr__ in __init__.py); an
    # unwritable history file warns, and the warning names the script's line.
    script = tmp_path / "user_script.py"
    script.write_text(
        "import warnings\nwarnings.simplefilter('always')\nimport openstackai_nb\nhistory = openstackai_nb.history\n"
    )
    env = {**os.environ, "OPENSTACKAI_NB_HISTORY": "/dev/null/not-a-folder/history.sqlite"}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "HistoryWarning" in done.stderr
    assert f"{script}:4: HistoryWarning" in done.stderr, done.stderr
    assert "__init__.py" not in done.stderr


def test_warn_outside_any_caller_of_the_package() -> None:
    from openstackai_nb._warnings import warn

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        warn("direct", UserWarning)
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)
