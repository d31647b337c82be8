"""`%agent diff RUN_A RUN_B` in a real kernel: the saved output, runs by id, 'last' and index, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._html import parse_tags
from tests.notebook._kernel import Kernel, kernel_env

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext openstackai_nb
from openstackai_nb import Agent, Runner
def get_weather(city: str) -> str:
    '''Weather.'''
    return f'Sunny in {city}'
terse = Agent(name='terse', instructions='Be terse.', tools=[get_weather], model='scripted')
chatty = Agent(name='chatty', instructions='Say more.', tools=[get_weather], model='scripted')
r = Runner.run_sync(terse, 'Weather in Oslo?')
"""


def test_agent_diff_in_a_kernel(tmp_path: Path) -> None:
    kernel = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite")), str(tmp_path))
    try:
        setup = kernel.execute(SETUP)
        assert setup.error is None, setup.error
        # No %%agent run in this kernel yet: 'last' is the history's newest run, named in a line.
        fresh = kernel.execute("d = %agent diff last {r.run_id}\nprint(d.identical)")
        assert fresh.error is None, fresh.error
        assert fresh.stdout.startswith("%agent diff: no %%agent run in this kernel yet; showing the newest run")
        assert fresh.stdout.strip().endswith("True")
        ran = kernel.execute("%%agent --agent chatty --quiet\nWeather in Oslo?")
        assert ran.error is None, ran.error

        shown = kernel.execute("%agent diff {r.run_id} last")
        assert shown.error is None, shown.error
        (data,) = [o["data"] for o in shown.final_outputs()]
        assert set(data) == {"text/html", "text/markdown", "text/plain"}
        html = data["text/html"]
        assert "first difference at step 3 (answer): different answer" in html
        assert "<mark>first difference</mark>" in html and "tool path: a: get_weather | b: get_weather (same)" in html
        assert "script" not in parse_tags(html).tags
        assert data["text/plain"].startswith("Runs run_") and "(terse) and run_" in data["text/plain"]

        by_index = kernel.execute(
            "d = %agent diff -2 -1\nprint(d.first_divergence.kind, d.same_tool_path, d.a.agent_name)"
        )
        assert by_index.error is None, by_index.error
        assert by_index.stdout.strip() == "answer True terse"

        for line, message in [
            ("%agent diff last", "usage: %agent diff RUN_A RUN_B"),
            ("%agent diff run_nope last", "%agent diff: RUN_A 'run_nope' is not a run id in RunHistory(2 runs"),
            ("%agent diff last 7", "%agent diff: RUN_B 7 is no run of RunHistory(2 runs"),
        ]:
            reply = kernel.execute(line).reply
            assert reply["status"] == "error" and reply["ename"] == "UsageError", (line, reply)
            assert reply["traceback"] == [] and message in reply["evalue"], (line, reply["evalue"])
    finally:
        kernel.close()
