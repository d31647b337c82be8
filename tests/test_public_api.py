"""The public API: every name of every public module's `__all__` is importable, has a docstring
and is in the docs (docs/api.md is generated from the code and must be up to date)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import openstackai_nb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import api_reference  # noqa: E402

MODULES = api_reference.public_modules()


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_importable_and_documented(name: str) -> None:
    mod = importlib.import_module(name)
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{name} has no __all__"
    assert names == sorted(names), f"{name}.__all__ is not sorted"
    assert (mod.__doc__ or "").strip(), f"{name} has no module docstring"
    for attr in names:
        if (name, attr) not in api_reference.LAZY:
            assert getattr(mod, attr) is not None, f"{name}.{attr}"
        assert api_reference.summary(mod, attr), f"{name}.{attr} has no docstring"


def test_api_reference_is_up_to_date() -> None:
    assert (ROOT / "docs" / "api.md").read_text() == api_reference.render(), (
        "docs/api.md is out of date: run python scripts/api_reference.py"
    )


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
        "heavy = ('pandas', 'ipywidgets', 'anywidget', 'IPython', 'httpx2', 'numpy', 'sqlite3', 'dask',"
        " 'distributed', 'mcp', 'opentelemetry', 'genai_prices', 'markdown_it', 'pygments');"
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
