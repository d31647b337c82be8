"""`%%agent` in a real kernel (jupyter_client) against the real llama-server and model."""

from __future__ import annotations

import pytest

from tests.local_model._llama import LlamaServer
from tests.notebook._kernel import Kernel, kernel_env

pytestmark = [pytest.mark.local_model, pytest.mark.kernel]

SETUP = """
%load_ext openstackai_nb
from openstackai_nb import Agent
local = Agent(name="Local", model="llamacpp:smollm2", model_settings={"temperature": 0, "seed": 42, "max_tokens": 24})
"""


def test_agent_cell_streams_and_ends_as_a_static_bundle(llama_server: LlamaServer, tmp_path) -> None:
    env = kernel_env(LLAMACPP_BASE_URL=llama_server.url, OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite"))
    kernel = Kernel(env, str(tmp_path))
    try:
        ex = kernel.execute(SETUP)
        assert ex.error is None, ex.error
        ex = kernel.execute("%%agent --agent local -o r\nName three animals.", timeout=90)
        assert ex.error is None, ex.error
        # Live: the widget was shown and got the answer as deltas, then was replaced in place.
        shown = ex.of_type("display_data")[0]["content"]
        assert "application/vnd.jupyter.widget-view+json" in shown["data"]
        live = ex.live()
        assert len(ex.deltas()) >= 1 and live.text_sent > 0
        outs = ex.final_outputs()
        assert len(outs) == 1
        data = outs[0]["data"]
        assert "application/vnd.jupyter.widget-view+json" not in data
        assert "COMPLETED" in data["text/plain"] and "smollm2" in data["text/plain"]
        check = kernel.execute(
            "print(r.status.value, r.finish_reason, r.usage.completion_tokens > 0, bool(r.final_output))"
        )
        assert check.stdout.split() == ["COMPLETED", check.stdout.split()[1], "True", "True"]
        assert check.stdout.split()[1] in ("stop", "length")
        # What the saved output shows is the model's answer.
        answer = kernel.execute("print(r.final_output)").stdout.strip()
        assert answer.splitlines()[0] in data["text/plain"]
    finally:
        kernel.close()
