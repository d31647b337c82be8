"""In a real kernel: control characters from the model and a tool reach the live view, the static
copy and `%agent last` inert; nothing the kernel sends carries them raw (every string of every
message is searched, as a front end or a terminal would receive it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notebook._kernel import Execution, Kernel, kernel_env

pytestmark = pytest.mark.kernel

# The cell code builds the characters with chr() so the cell's own echo holds none of them.
SETUP = """
%load_ext openstackai_nb
from openstackai_nb import Agent
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import Reply, call

E, BEL, NUL, CR, RLO, PDI = chr(27), chr(7), chr(0), chr(13), chr(0x202E), chr(0x2069)
EVIL = f"{E}[31mred{E}[0m {E}]8;;https://evil.example/{E}" + chr(92) + f"link a{BEL}b{NUL}c{CR}d {RLO}txt.exe{PDI}"

def echo(text: str) -> str:
    '''Return the text.'''
    return "tool: " + text

def model(messages, info):
    if info.turn == 1:
        return Reply(reasoning="thinking " + EVIL, tool_calls=[call("echo", text=EVIL)])
    return "answer " + EVIL

evil = Agent(name="evil", tools=[echo], model=FunctionModel(model, delay=0.01))
"""
RAW = [chr(27), chr(7), chr(0), chr(0x202E), chr(0x2069)]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_nothing_raw(ex: Execution) -> None:
    for m in ex.msgs:
        if m["msg_type"] == "execute_input":
            continue
        for text in strings(m["content"]):
            found = [c for c in RAW if c in text]
            assert not found, (m["msg_type"], found, text[:200])
            assert "\r" not in text.replace("\r\n", ""), (m["msg_type"], text[:200])


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    tmp: Path = tmp_path_factory.mktemp("ctl")
    k = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp / "h.sqlite")), str(tmp))
    ex = k.execute(SETUP)
    assert ex.error is None, ex.error
    yield k
    k.close()


def test_live_view_static_copy_and_agent_last(kernel: Kernel) -> None:
    ex = kernel.execute("%%agent --agent evil -o r\nhi", timeout=60)
    assert ex.error is None, ex.error
    live = ex.live()
    assert "\\x1b[31mred" in live.answer_html + live.tail and "\\u202etxt.exe\\u2069" in live.answer_html + live.tail
    assert "\\x1b[31mred" in live.reasoning
    assert any("\\x1b[31mred" in row for row in live.rows.values())
    (static,) = ex.final_outputs()
    assert {"text/html", "text/markdown", "text/plain"} <= set(static["data"])
    assert "\\x1b[31mred" in static["data"]["text/plain"]
    assert_nothing_raw(ex)

    # the data keeps the raw text
    kept = kernel.execute("print(r.final_output == 'answer ' + EVIL, EVIL in str(r.tool_calls[0].result))")
    assert kept.stdout.split() == ["True", "True"]

    last = kernel.execute("%agent last")
    assert last.error is None, last.error
    assert any("\\x1b[31mred" in d.get("data", {}).get("text/plain", "") for d in last.displayed())
    assert_nothing_raw(last)
    trace = kernel.execute("%agent trace")
    assert trace.error is None, trace.error
    assert_nothing_raw(trace)
    history = kernel.execute("%agent history")
    assert history.error is None, history.error
    assert any("\\x1b[31mred" in d.get("data", {}).get("text/html", "") for d in history.displayed())
    assert_nothing_raw(history)
    shown = kernel.execute("r")  # the RunResult as a cell's value: its _repr_html_/_repr_markdown_
    assert shown.error is None, shown.error
    assert_nothing_raw(shown)
