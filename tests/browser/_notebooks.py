"""The notebooks the browser tests open, written into each server's root folder.

- `e2e.ipynb`: an agent with two tools (one slow and returning a long text, one that fails) and a
  `%%agent` cell whose answer streams for several seconds at the tests' scripted rate.
- `xss.ipynb`: a FunctionModel whose answer carries `<script>` and `<img onerror>` payloads that
  would bump `window.__xss` and call console.error if they ever ran.
- `interrupt.ipynb`: a long scripted answer to interrupt, then a cell that must still run.
- `markdown.ipynb`: a FunctionModel that thinks, calls a tool, then streams a markdown-heavy answer
  (a table, Python code, a nested list, a link) at a visible rate.
- `approval.ipynb`: an agent whose model asks to send two emails with a tool that needs approval,
  so the live view shows two pending rows with Approve / Reject buttons.
- `01-quickstart.ipynb`: the repository's quickstart notebook, when it exists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "notebooks" / "01-quickstart.ipynb"

LOAD = "%load_ext openstackai_nb"

E2E_TOOLS = '''\
import time
from openstackai_nb import Agent

def lookup_notes(topic: str) -> str:
    """Look up the notes kept about a topic."""
    time.sleep(1.5)
    return " ".join(f"{topic.lower()}-note-{i}" for i in range(150))

def check_stock(item: str) -> str:
    """Check the stock of an item (always fails here)."""
    time.sleep(0.5)
    raise ValueError(f"stock service unreachable for {item}")

researcher = Agent(name="researcher", instructions="Use the tools, then answer.",
                   tools=[lookup_notes, check_stock], model="scripted")
print("ready")'''
E2E_RUN = "%%agent --agent researcher -o res\nUse lookup_notes and check_stock for Paris, then write it all up."
E2E_AFTER = 'print("after run:", res.status.value, len(res.tool_calls), len(res.final_output))'

XSS_PAYLOAD = (
    "Plain words first. "
    "<script>window.__xss += 1; console.error('xss: script tag ran')</script> "
    "<img src=x onerror=\"window.__xss += 1; console.error('xss: img onerror ran')\"> "
    '<svg onload="window.__xss += 1"></svg> '
    "and **bold** text at the end."
)
XSS_AGENT = f"""\
from openstackai_nb import Agent
from openstackai_nb.models import FunctionModel

PAYLOAD = {XSS_PAYLOAD!r}

def evil_model(messages, info):
    return PAYLOAD

evil = Agent(name="evil", model=FunctionModel(evil_model))
print("ready")"""
XSS_RUN = "%%agent --agent evil -o evil_res\nSay something."
XSS_REPR = "evil_res"

INTERRUPT_RUN = "%%agent -o partial\nwrite 600 words"
INTERRUPT_AFTER = 'print("next cell ran:", partial.status.value, len(partial.final_output or "") > 0)'


MARKDOWN_ANSWER = """## Weather in Paris

The tool says it is **sunny**, with a light breeze from the west. Here is the week at a glance,
with temperatures in degrees Celsius and a note for each day.

| day | high | low | note |
|:----|-----:|----:|------|
| Monday | 21 | 12 | sunny |
| Tuesday | 19 | 11 | a few clouds |
| Wednesday | 17 | 10 | showers in the evening |

To compute the average high yourself:

```python
highs = {"Monday": 21, "Tuesday": 19, "Wednesday": 17}
average = sum(highs.values()) / len(highs)  # 19.0
print(f"average high: {average:.1f} °C")
```

What to pack:

- a light jacket
  - waterproof, for Wednesday
  - with a hood
- sunglasses for Monday
- an umbrella, just in case

More details are on [the forecast page](https://example.com/forecast/paris), updated hourly.

Enjoy the trip, and check the forecast again on Tuesday evening before you leave.
"""
MARKDOWN_AGENT = f'''\
from openstackai_nb import Agent
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import Reply, call

ANSWER = {MARKDOWN_ANSWER!r}

def get_forecast(city: str) -> str:
    """The week's forecast for a city."""
    return f"{{city}}: sunny, 21/12; cloudy, 19/11; showers, 17/10"

def forecaster(messages, info):
    if info.turn == 1:
        return Reply(reasoning="The user wants the weather. I should call get_forecast for Paris first, "
                               "then summarise it as a table with code and a packing list.",
                     tool_calls=[call("get_forecast", city="Paris")])
    return Reply(text=ANSWER)

weather = Agent(name="weather", tools=[get_forecast], model=FunctionModel(forecaster, delay=0.04))
print("ready")'''
MARKDOWN_RUN = "%%agent --agent weather -o forecast\nWhat is the weather in Paris this week?"


APPROVAL_AGENT = '''\
from openstackai_nb import Agent, tool
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import Reply, call

SENT = []

@tool(requires_approval=True)
def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return f"sent to {to}"

def mail_model(messages, info):
    if info.turn == 1:
        return Reply(tool_calls=[call("send_email", to="ana@example.com", body="Lunch at noon?"),
                                 call("send_email", to="boss@example.com", body="I quit")])
    return "Done: " + " | ".join(str(m.content) for m in messages if m.role == "tool")

mailer = Agent(name="mailer", tools=[send_email], model=FunctionModel(mail_model, delay=0.02))
print("ready")'''
APPROVAL_RUN = "%%agent --agent mailer -o mailed\nEmail Ana about lunch, and tell my boss I quit."
APPROVAL_AFTER = 'print("after:", SENT, sorted(c.status for c in mailed.tool_calls))'


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


NOTEBOOKS = {
    "e2e.ipynb": _notebook(LOAD, E2E_TOOLS, E2E_RUN, E2E_AFTER),
    "xss.ipynb": _notebook(LOAD, XSS_AGENT, XSS_RUN, XSS_REPR),
    "interrupt.ipynb": _notebook(LOAD, INTERRUPT_RUN, INTERRUPT_AFTER),
    "markdown.ipynb": _notebook(LOAD, MARKDOWN_AGENT, MARKDOWN_RUN),
    "approval.ipynb": _notebook(LOAD, APPROVAL_AGENT, APPROVAL_RUN, APPROVAL_AFTER),
}


def write_all(root: Path) -> None:
    """Write the test notebooks (and a copy of the quickstart, when present) into `root`."""
    for name, nb in NOTEBOOKS.items():
        nbformat.write(nb, root / name)
    if QUICKSTART.exists():
        shutil.copy(QUICKSTART, root / QUICKSTART.name)
