"""The notebook gallery reads well on GitHub: each notebook says which model it uses, keeps its
outputs, and holds no key nor a visible test marker (nbval reads cell tags); cassettes beside
them are valid and key-free."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from openstackai_nb.models.replay import ReplayModel

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CASSETTES = sorted((ROOT / "notebooks").rglob("*.jsonl"))
KEYLIKE = re.compile(rb"\bsk-[A-Za-z0-9_-]{12,}|Bearer\s+[A-Za-z0-9._~+/=-]{8,}|sk-test-SECRET")
MODEL_WORDS = re.compile(r"(?i)\bmodel\b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_states_its_model_and_keeps_its_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    first_md = next((c for c in cells if c["cell_type"] == "markdown"), None)
    assert first_md is not None, f"{path.name}: starts with no markdown cell saying which model it uses"
    assert MODEL_WORDS.search("".join(first_md["source"])), f"{path.name}: the first markdown cell names no model"
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert code and all(c.get("execution_count") for c in code), f"{path.name}: saved without running every cell"
    assert any(c.get("outputs") for c in code), f"{path.name}: saved without outputs"


@pytest.mark.parametrize("path", NOTEBOOKS + CASSETTES, ids=[p.name for p in NOTEBOOKS + CASSETTES])
def test_no_key_in_notebooks_or_cassettes(path: Path) -> None:
    found = KEYLIKE.search(path.read_bytes())
    assert found is None, f"{path.name} holds something key-like: {found.group(0)[:12]!r}..."


@pytest.mark.parametrize("path", CASSETTES, ids=[p.name for p in CASSETTES])
def test_committed_cassettes_load(path: Path) -> None:
    if json.loads(path.read_text().splitlines()[0]).get("type") != "header":
        pytest.skip(f"{path.name} is not a cassette (e.g. a history export)")
    assert ReplayModel(path).exchanges


NBVAL_COMMENT = re.compile(r"^\s*#\s*(?:NBVAL|PYTEST_VALIDATE)_[A-Z_]+\s*$", re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_test_markers_are_tags_not_comments_readers_see(path: Path) -> None:
    # nbval reads `nbval-ignore-output` (and the other markers) from cell.metadata.tags as well.
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        found = NBVAL_COMMENT.search("".join(cell["source"]))
        assert found is None, f"{path.name}, cell {i}: {found.group(0).strip()!r}; use the cell tag instead"
