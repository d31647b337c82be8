"""notebooks/01-quickstart.ipynb runs top to bottom offline and against a real endpoint."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


def test_the_readme_main_command_runs_the_quickstart_offline_and_quietly(tmp_path: Path) -> None:
    """`bash scripts/quickstart.sh` as a newcomer runs it with no terminal (CI, a pipe): headless, offline.

    No warning on its output (the kernel's "running over TCP without encryption", a kernel left to
    notice its parent died), and nothing left behind: the kernel's sockets are removed with it.
    """
    scratch = Path(tempfile.mkdtemp(prefix="qs-", dir="/tmp"))  # short: the kernel's IPC sockets go in it
    out = tmp_path / "quickstart.executed.ipynb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENSTACKAI_NB_"))}
    env.update(TMPDIR=str(scratch), OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite"), OPENAI_API_KEY="sk-test-unused")
    try:
        proc = subprocess.run(
            ["bash", "scripts/quickstart.sh", "--output", str(out)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        left = list(scratch.iterdir())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said
    assert re.fullmatch(
        rf"executed notebooks/01-quickstart\.ipynb offline in [0-9.]+s -> {re.escape(str(out))}", said.strip()
    )
    assert "WARNING" not in said and "sk-test-unused" not in said
    cells = _agent_cells(nbformat.read(out, as_version=4))
    assert len(cells) >= 3 and all("COMPLETED" in c.outputs[-1]["data"]["text/plain"] for c in cells)
    assert "sk-test-unused" not in out.read_text()
    assert left == []  # the kernel's socket folder went with it
