"""`import openstackai_nb` makes its public names on first use (PEP 562, issue 25).

The import itself loads neither pydantic nor asyncio (nothing is installed at import either);
the first read of a public name loads them, and every import path stays what it was.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import openstackai_nb


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_import_alone_loads_neither_pydantic_nor_asyncio() -> None:
    loaded = run(
        "import sys, openstackai_nb; print(' '.join(m for m in ('pydantic', 'asyncio', 'openstackai_nb.agent',"
        " 'openstackai_nb.runner') if m in sys.modules))"
    )
    assert loaded == ""


def test_the_first_name_read_loads_the_core() -> None:
    out = run(
        "import sys, openstackai_nb; openstackai_nb.Agent; print('pydantic' in sys.modules, 'asyncio' in sys.modules)"
    )
    assert out == "True True"
    # `from ... import` goes through the same __getattr__
    assert run("from openstackai_nb import Runner, tool; print(Runner.__module__, tool.__module__)") == (
        "openstackai_nb openstackai_nb.tools"
    )


def test_the_names_are_the_submodules_objects() -> None:
    from openstackai_nb.agent import Agent
    from openstackai_nb.runner import RunConfig, RunContext, RunResult, RunStatus, StreamingRunner
    from openstackai_nb.runner.api import Runner
    from openstackai_nb.tools import Decision, tool

    expected = {
        "Agent": Agent, "Decision": Decision, "RunConfig": RunConfig, "RunContext": RunContext,
        "RunResult": RunResult, "RunStatus": RunStatus, "Runner": Runner, "StreamingRunner": StreamingRunner,
        "tool": tool,
    }  # fmt: skip
    for name, obj in expected.items():
        assert getattr(openstackai_nb, name) is obj
    for cls in (Agent, RunConfig, RunContext, RunResult, RunStatus, Runner, StreamingRunner):
        assert cls.__module__ == "openstackai_nb"
        assert pickle.loads(pickle.dumps(cls)) is cls
    assert set(openstackai_nb.__all__) <= set(dir(openstackai_nb))
