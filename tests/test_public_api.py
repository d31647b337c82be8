from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import openstackai_nb

MODULES = ["openstackai_nb", "openstackai_nb.errors", "openstackai_nb.messages", "openstackai_nb.runner",
           "openstackai_nb.tools", "openstackai_nb.agent", "openstackai_nb.models"]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    mod = importlib.import_module(name)
    assert mod.__all__ == sorted(mod.__all__)
    for attr in mod.__all__:
        assert getattr(mod, attr) is not None, attr


def test_top_level_names() -> None:
    for name in ["Agent", "Runner", "tool", "history", "RunHistory", "RunConfig", "RunResult", "StreamingRunner"]:
        assert name in openstackai_nb.__all__
    assert openstackai_nb.Agent.__module__ == "openstackai_nb"
    assert openstackai_nb.history is openstackai_nb.history


def test_import_stays_light() -> None:
    code = (
        "import sys, openstackai_nb;"
        "from openstackai_nb import Agent, Runner, tool;"
        "Agent(name='a', model='scripted');"
        "heavy = ('pandas', 'ipywidgets', 'anywidget', 'IPython', 'httpx2', 'numpy');"
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
