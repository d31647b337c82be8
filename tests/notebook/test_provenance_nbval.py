"""nbval ignores the provenance in an output's display metadata: a saved notebook re-run under
`pytest --nbval` passes although the new run has another run id, cost and cache hits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel

CODE = (
    "from IPython.display import display\n"
    "display({'text/plain': 'the answer'}, raw=True,\n"
    "        metadata={'openstackai_nb': {'run_id': 'run_new', 'model': 'm', 'cost_usd': 0.0,\n"
    "                                     'cached_calls': 1, 'cassette': None}})"
)


def test_nbval_passes_when_only_the_provenance_changed(tmp_path: Path) -> None:
    saved = {
        "output_type": "display_data",
        "data": {"text/plain": "the answer"},
        "metadata": {
            "openstackai_nb": {"run_id": "run_old", "model": "m", "cost_usd": 0.25, "cached_calls": 0, "cassette": None}
        },
    }
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1, "source": CODE, "outputs": [saved]}
        ],
    }
    path = tmp_path / "provenance.ipynb"
    path.write_text(json.dumps(notebook))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    # The same notebook with another text fails: nbval does compare the output itself.
    saved["data"] = {"text/plain": "another answer"}
    path.write_text(json.dumps(notebook))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert out.returncode != 0
