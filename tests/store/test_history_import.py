"""`from openstackai_nb import history` never raises; one warning per cause (issue 12).

Each case runs in a fresh interpreter, as a user's kernel would start: the store is damaged or
nothing is writable, runs go on, importing `history` works, using it raises the HistoryError.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._env import CLEARED_PREFIXES

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
from openstackai_nb import Agent, Runner
runs = [Runner.run_sync(Agent(model="scripted"), f"hi {i}").status.value for i in range(2)]
from openstackai_nb import history
print("RUNS", runs)
print("REPR", repr(history))
try:
    history.to_dataframe()
except Exception as exc:
    print("USE", type(exc).__name__)
"""


def _run(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    base.update(env, PYTHONPATH=str(ROOT), PYTHONWARNINGS="default")
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=cwd, env=base, capture_output=True, text=True, timeout=60)


def _check(out: subprocess.CompletedProcess[str], *, cause: str) -> None:
    assert out.returncode == 0, out.stderr
    assert "RUNS ['COMPLETED', 'COMPLETED']" in out.stdout
    assert "USE HistoryError" in out.stdout and "REPR RunHistory(unavailable: " in out.stdout
    warnings = [line for line in out.stderr.splitlines() if "HistoryWarning" in line]
    assert len(warnings) == 1, out.stderr  # one cause, one warning
    assert cause in warnings[0] and "runs are not recorded" in warnings[0]
    assert "Traceback" not in out.stderr and "using " not in out.stderr, out.stderr


def test_damaged_store(tmp_path: Path) -> None:
    (tmp_path / ".openstackai_nb").mkdir()
    store = tmp_path / ".openstackai_nb" / "history.sqlite"
    store.write_bytes(b"not a database " * 500)
    out = _run(tmp_path)
    _check(out, cause="is not a readable SQLite database")
    assert store.read_bytes() == b"not a database " * 500


@pytest.mark.parametrize("explicit", [False, True])
def test_nothing_writable(tmp_path: Path, explicit: bool) -> None:
    # A file where each folder should be: neither the notebook's folder nor the data folder works
    # (permissions do not stop root, a file in the way does).
    (tmp_path / ".openstackai_nb").write_text("a file, not a folder")
    (tmp_path / "data").write_text("a file, not a folder")
    env = {"XDG_DATA_HOME": str(tmp_path / "data" / "sub")}
    if explicit:
        env["OPENSTACKAI_NB_HISTORY"] = str(tmp_path / ".openstackai_nb" / "h.sqlite")
    out = _run(tmp_path, **env)
    _check(out, cause="cannot write the run history")
    if not explicit:  # the warning names both places it tried, and no earlier one says "using ..."
        assert str(tmp_path / ".openstackai_nb") in out.stderr and str(tmp_path / "data" / "sub") in out.stderr
