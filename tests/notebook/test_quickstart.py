"""notebooks/01-quickstart.ipynb runs top to bottom offline and against a real endpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests._server import OpenAIServer
from tests.notebook._kernel import kernel_env

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01-quickstart.ipynb"
KEY = "sk-test-SECRET-0123456789abcdef"


def _execute(env: dict[str, str], cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    client = NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=env)
    finally:  # nbclient leaves a kernel manager it was given running, with its client's sockets open
        if client.kc is not None:
            client.kc.stop_channels()
        km.shutdown_kernel(now=True)
    return nb


def _agent_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%agent")]


def test_saved_notebook_shows_static_runs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = _agent_cells(nb)
    assert len(cells) >= 3
    for c in cells:
        assert len(c.outputs) == 1, c.source
        data = c.outputs[0]["data"]
        assert {"text/html", "text/markdown", "text/plain"} <= set(data)
        assert "COMPLETED" in data["text/plain"]
    assert "application/vnd.jupyter.widget" not in NOTEBOOK.read_text()
    assert "widgets" not in nb.metadata


def test_runs_against_a_real_endpoint_when_configured(openai_server: OpenAIServer, tmp_path: Path) -> None:
    env = kernel_env(OPENAI_BASE_URL=openai_server.url, OPENAI_API_KEY=KEY,
                     OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite"))  # fmt: skip
    nb = _execute(env, tmp_path)
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert first.strip() == "model: gpt-4o-mini"
    for c in _agent_cells(nb):
        data = c.outputs[-1]["data"]
        assert "COMPLETED" in data["text/plain"] and "gpt-4o-mini" in data["text/plain"], c.source
    assert len(openai_server.requests) >= 6
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in openai_server.requests)
    assert KEY not in json.dumps(nb)
