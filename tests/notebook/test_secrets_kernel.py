"""No key in any output of a real kernel, nor in the saved notebook (issue 12).

The kernel's OPENAI_API_KEY is a key-shaped value, then a value that looks like nothing (only its
variable's name tells it is a secret). Cells put it through every path a run has: a tool's
arguments and result, a tool that raises with it, a model that echoes it or fails with it, an
endpoint's error text, the input and the metadata, text that streams it split across two live
updates, `-o r` then `r`, `%agent last`, `--agents` and `--over` (their tables shown and stored),
`%agent history`, the verbose log and the trace. Every iopub message of every cell (live view
traffic included) and the saved notebook's bytes are searched for the key and for any 8
characters of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._server import OpenAIServer, error, text_stream
from tests.notebook._kernel import Execution, Kernel, kernel_env

pytestmark = pytest.mark.kernel

KEYS = ["sk-nb12-Qx7Lm2Vr9Tz4Kp8Wd3Hs", "plainpassword123"]
LATE = "latesecretvalue987"
"""A key exported by a cell just before it is used (the cell's source holds it reversed)."""

SETUP = """
%load_ext openstackai_nb
import json, logging, os, sys
from openstackai_nb import Agent, RunConfig, Runner
from openstackai_nb.models.function import FunctionModel, call
KEYV = os.environ["OPENAI_API_KEY"]
logging.basicConfig(stream=sys.stdout, level=logging.INFO, force=True)  # the log goes into the cells

def reveal(what: str) -> str:
    '''Return the key.'''
    return f"the {what} is {KEYV}"

def explode() -> str:
    '''Raise with the key.'''
    raise RuntimeError(f"cannot use {KEYV}")

def echo(messages, info):
    if info.turn == 1:
        return [call("reveal", what=KEYV), call("explode")]
    return f"echo {KEYV} done"

def broken(messages, info):
    raise ValueError(f"model failed with {KEYV}")

echoer = Agent(name="Echo", model=FunctionModel(echo), tools=[reveal, explode])
breaker = Agent(name="Breaker", model=FunctionModel(broken))
items = [KEYV, "plain"]
"""

NO_WIDGETS = """
import openstackai_nb.notebook.widgets as _w
_saved, _w._widgets_available = _w._widgets_available, lambda: False
try:
    get_ipython().run_cell_magic("agent", "-o plain", "Tell me")
finally:
    _w._widgets_available = _saved
"""


@pytest.fixture(params=KEYS, ids=["key-shaped", "plain"])
def key(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def kernel(_server: OpenAIServer, tmp_path: Path, key: str) -> Iterator[Kernel]:
    env = kernel_env(OPENAI_BASE_URL=_server.url, OPENAI_API_KEY=key, OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite"))
    k = Kernel(env, str(tmp_path))
    try:
        yield k
    finally:
        k.close()


def _split_stream(key: str) -> Any:
    # The key in two SSE chunks, far enough apart to land in two live-view updates.
    return text_stream("", pieces=["Your key: ", key[:7], key[7:], " ok, stored."], chunk_delay=0.35)


def _cells(key: str, server: OpenAIServer) -> list[tuple[str, Any]]:
    """(code, the server's script before it) for every path."""
    return [
        (SETUP, None),
        ("%%agent --agent echoer -o r1\nUse {{KEYV}} please", None),
        ("r1", None),
        ("%agent last", None),
        ("%%agent --agent breaker -o r2\nhi", None),
        ("r2", None),
        ("%%agent -o r3\nHi", error(401, f"Incorrect API key provided: {key}")),
        ("%%agent -o r4\nTell me", _split_stream(key)),
        ("r4", None),
        (NO_WIDGETS, _split_stream(key)),
        (
            'r5 = Runner.run_sync(echoer, "input " + KEYV, config=RunConfig(metadata={"note": KEYV}, verbose=True))\n'
            "print(json.dumps([s.attributes for s in r5.trace]))\nprint(r5.trace, r5.tool_calls)\nr5",
            None,
        ),
        ("%%agent --agents echoer,breaker -o cmp\nSay {{KEYV}}", None),
        ("%%agent --agent echoer --over items -o over\nItem: {{item}}", None),
        ("cmp", None),
        ("over", None),
        ("%agent history -n 20", None),
        (
            f'os.environ["LATE_API_KEY"] = "{LATE[::-1]}"[::-1]\n'
            'late_model = FunctionModel(lambda m, i: "late " + os.environ["LATE_API_KEY"])\n'
            'late = Runner.run_sync(Agent(model=late_model), "x")\n'
            "print(late)\nlate",
            None,
        ),
    ]


def _notebook(executions: list[tuple[str, Execution]]) -> Any:
    """The notebook a front end would save: each cell's source and final outputs."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    for count, (code, ex) in enumerate(executions, 1):
        outputs = []
        for m in ex.msgs:
            t, c = m["msg_type"], m["content"]
            if t == "stream":
                outputs.append(nbformat.v4.new_output("stream", name=c["name"], text=c["text"]))
            elif t == "error":
                outputs.append(
                    nbformat.v4.new_output("error", ename=c["ename"], evalue=c["evalue"], traceback=c["traceback"])
                )
        for o in ex.final_outputs():
            kind = "execute_result" if "execution_count" in o else "display_data"
            extra = {"execution_count": count} if kind == "execute_result" else {}
            outputs.append(nbformat.v4.new_output(kind, data=o["data"], metadata=o.get("metadata", {}), **extra))
        if ex.reply.get("status") == "error" and not ex.of_type("error"):
            outputs.append(
                nbformat.v4.new_output("error", ename=ex.reply["ename"], evalue=ex.reply["evalue"], traceback=[])
            )
        nb.cells.append(nbformat.v4.new_code_cell(code, execution_count=count, outputs=outputs))
    nbformat.validate(nb)
    return nb


def _pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def test_no_key_in_any_output_nor_in_the_saved_notebook(
    kernel: Kernel, openai_server: OpenAIServer, key: str, tmp_path: Path
) -> None:
    done: list[tuple[str, Execution]] = []
    for code, script in _cells(key, openai_server):
        if script is not None:
            openai_server.script(script)
        ex = kernel.execute(code, timeout=60)
        assert ex.reply.get("status") == "ok", (code, ex.reply, ex.stdout)
        done.append((code, ex))

    by_code = dict(done)
    # The paths really ran and really showed something (the search below is not vacuous).
    shown = json.dumps(by_code["r1"].displayed())
    assert "echo [REDACTED] done" in shown and "the [REDACTED] is [REDACTED]" in shown
    assert "RuntimeError: cannot use [REDACTED]" in shown
    assert "model failed with [REDACTED]" in json.dumps(by_code["r2"].displayed())
    assert "Incorrect API key provided: [REDACTED]" in json.dumps(by_code["%%agent -o r3\nHi"].displayed())
    live = by_code["%%agent -o r4\nTell me"]
    deltas = [m["content"]["data"]["content"]["text"] for m in live.deltas()]
    assert len(deltas) >= 2 and "".join(deltas).startswith("Your key: [REDACTED]"), deltas
    assert "Your key: [REDACTED]" in by_code[NO_WIDGETS].stdout
    verbose = next(ex for code, ex in done if code.startswith("r5 ="))
    assert "INFO:openstackai_nb:run " in verbose.stdout and '"error": "tool ' in verbose.stdout
    late = next(ex for code, ex in done if code.startswith("os.environ"))
    assert "late [REDACTED]" in late.stdout

    for code, ex in done:
        raw = ex.raw()  # every iopub message: live deltas, tool rows, status, displays, streams
        for secret in (key, LATE):
            assert secret not in raw, (code, secret)
            leaked = [p for p in _pieces(secret) if p in raw]
            assert not leaked, (code, leaked)

    import nbformat

    path = tmp_path / "saved.ipynb"
    nbformat.write(_notebook(done), str(path))
    saved = path.read_bytes()
    for secret in (key, LATE):
        assert secret.encode() not in saved
        assert not [p for p in _pieces(secret) if p.encode() in saved]
    assert saved.count(b"[REDACTED]") > 20
