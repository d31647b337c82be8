"""The live view's answer, reasoning and tool rows in a real kernel, and the static copy that replaces it.

A FunctionModel plays the model (reasoning, two turns of tools, an `async def` tool that blocks
the event loop, a markdown answer); the tests read the widget's custom messages, rebuild what the
front end showed (`Execution.live`) and compare it with the saved static copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._html import parse_tags
from tests.notebook._kernel import Execution, Kernel, kernel_env

pytestmark = pytest.mark.kernel

SETUP = '''
%load_ext openstackai_nb
import asyncio, time
import openstackai_nb._tool_calls as _tc
from openstackai_nb import Agent
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import Reply, call

_tc.BLOCKED_LOOP_WARNING_S = 0.05

def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: " + "long result " * 30

async def blocking(city: str) -> str:
    """Block the event loop (the wrong way to sleep)."""
    time.sleep(0.3)
    return f"{city}: blocked"

ANSWER = """Both <b>cities</b>:

| city | note |
|:--|--:|
| Paris | sunny |

```python
print("hi")
```

- one
  - nested
- [docs](https://example.com) and [bad](javascript:alert(1))

That is all, for now, from the two tools.
"""

def model(messages, info):
    if info.turn == 1:
        return Reply(reasoning="First I look Paris up.", tool_calls=[call("lookup", city="Paris")])
    if info.turn == 2:
        return Reply(reasoning="Then Oslo, <i>slowly</i>.", tool_calls=[call("blocking", city="Oslo")])
    return Reply(text=ANSWER)

thinker = Agent(name="thinker", tools=[lookup, blocking], model=FunctionModel(model, delay=0.03))
'''


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    tmp = tmp_path_factory.mktemp("live")
    k = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp / "h.sqlite")), str(tmp))
    ex = k.execute(SETUP)
    assert ex.error is None, ex.error
    yield k
    k.close()


def _static_html(ex: Execution) -> str:
    outs = ex.final_outputs()
    assert len(outs) == 1
    return outs[0]["data"]["text/html"]


def test_reasoning_turns_and_a_blocked_loop_live_and_static(kernel: Kernel) -> None:
    ex = kernel.execute("%%agent --agent thinker -o r\nCompare Paris and Oslo", timeout=60)
    assert ex.error is None, ex.error
    live = ex.live()
    static = _static_html(ex)

    # Reasoning: its own append-only messages, the same text as the result; collapsed in the static copy.
    reasoning = kernel.execute("print(repr(r.reasoning))").stdout.strip()
    assert reasoning == repr(live.reasoning) == repr("First I look Paris up.\n\nThen Oslo, <i>slowly</i>.")
    assert "<details class='osnb-reasoning'><summary>Reasoning</summary>" in static
    assert "Then Oslo, &lt;i&gt;slowly&lt;/i&gt;." in static
    assert static.index("osnb-reasoning") < static.index("osnb-output")  # above the answer

    # Tool rows: one per call, a turn column once the calls span two turns, the blocked loop said.
    assert live.row_statuses()[-2:] == ["running", "ok"]  # (the fast call may start and end in one flush)
    assert "<th class='osnb-num'>turn</th>" in live.head and live.head in static
    for html in live.rows.values():
        assert html in static  # the very rows of the static copy
    blocked = live.rows[1]
    assert re.search(r"blocked the event loop 0\.[3-9] s", blocked), blocked
    assert "<td class='osnb-num osnb-turn'>2</td>" in blocked
    # A long result is a one-line preview that opens on the whole value.
    assert "<details><summary>Paris: long result" in live.rows[0] and "long result </pre>" in live.rows[0]

    # The answer: rendered while streaming (table, highlighted code, nested list, safe link).
    answer = live.answer_html
    assert "<table>" in answer and "<span class='nb'>print</span>" in answer
    assert re.search(r"<li>one\s*<ul><li>nested</li></ul></li>", answer)
    assert "href='https://example.com'" in answer and "[bad](javascript:alert(1))" in answer
    tags = parse_tags(answer)
    assert "b" not in tags.tags and "&lt;b&gt;cities&lt;/b&gt;" in answer
    assert set(tags.attrs) <= {"href", "target", "rel", "class", "align"}
    assert static[static.index("<div class='osnb-output osnb-md'>") :].startswith(
        "<div class='osnb-output osnb-md'>" + answer
    )


def test_markdown_off_streams_plain_text(kernel: Kernel) -> None:
    code = (
        "import openstackai_nb.notebook.widgets as _w\n"
        "_w.LIVE_MARKDOWN = False\n"
        "try:\n"
        "    get_ipython().run_cell_magic('agent', '--agent thinker -o r2', 'Again')\n"
        "finally:\n"
        "    _w.LIVE_MARKDOWN = True\n"
    )
    ex = kernel.execute(code, timeout=60)
    assert ex.error is None, ex.error
    live = ex.live()
    assert not live.answer_html and live.tail.startswith("Both <b>cities</b>:")
    assert "<table>" in _static_html(ex)  # the static copy is rendered either way


def test_live_view_js_only_takes_allowed_html() -> None:
    js = (Path(__file__).parents[2] / "openstackai_nb/notebook/static/live_view.js").read_text()
    for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment"):
        assert sink not in js, sink
    assert "snapshot" not in js  # no sender uses it
