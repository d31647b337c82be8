"""`%%agent --cache` in a real kernel: a hit still streams to the live view, sends no request, and
each output's display metadata says what produced it (provenance)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._server import OpenAIServer, text_stream
from tests.notebook._kernel import Execution, Kernel, kernel_env

pytestmark = pytest.mark.kernel

KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def kernel(tmp_path: Path, openai_server: OpenAIServer) -> Iterator[Kernel]:
    k = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite")), str(tmp_path))
    ex = k.execute(
        "%load_ext openstackai_nb\n"
        "from openstackai_nb import Agent\n"
        "from openstackai_nb.models import OpenAIChatModel\n"
        f"c = Agent(name='c', model=OpenAIChatModel('gpt-test', base_url={openai_server.url!r}, api_key={KEY!r}))\n"
    )
    assert ex.error is None, ex.error
    yield k
    k.close()


def _provenance(ex: Execution) -> dict:
    (out,) = ex.final_outputs()
    return out["metadata"]["openstackai_nb"]


ANSWER = "The cached answer streams in several words all the same"


def test_a_hit_streams_to_the_live_view_and_sends_no_request(kernel: Kernel, openai_server: OpenAIServer) -> None:
    openai_server.handler = lambda request: text_stream(ANSWER)
    cold = kernel.execute("%%agent --agent c --cache -o r1\nTell me")
    assert cold.error is None, cold.error
    assert len(openai_server.requests) == 1
    warm = kernel.execute("%%agent --agent c --cache -o r2\nTell me")
    assert warm.error is None, warm.error
    assert len(openai_server.requests) == 1, "the hit sent a request"
    assert warm.deltas(), "the live view got no delta on a hit"
    assert warm.live().tail.startswith("The cached answer streams in several words")
    (saved,) = warm.final_outputs()  # the static copy that replaced the live view
    assert ANSWER in saved["data"]["text/plain"]
    check = kernel.execute("print(r1.cached_calls, r2.cached_calls, r2.final_output == r1.final_output)")
    assert check.stdout.split() == ["0", "1", "True"]
    # Provenance: the run, the model, cost (nobody prices gpt-test on a loopback server: None),
    # the cache hits; never a key.
    first, second = _provenance(cold), _provenance(warm)
    assert first["run_id"].startswith("run_") and first["model"] == "gpt-test"
    assert (first["cached_calls"], second["cached_calls"]) == (0, 1)
    assert first["cost_usd"] is None and second["cost_usd"] == 0.0 and second["cassette"] is None
    assert KEY not in warm.raw() and KEY not in cold.raw()
    # Off again: the same prompt goes to the model.
    off = kernel.execute("%%agent --agent c --cache off\nTell me")
    assert off.error is None and len(openai_server.requests) == 2


def test_provenance_names_the_cassette_when_recording(kernel: Kernel, tmp_path: Path) -> None:
    cassette = tmp_path / "rec.cassette.jsonl"
    kernel.execute(f"%agent record {cassette}")
    ex = kernel.execute("%%agent --agent c\nHello")
    assert ex.error is None, ex.error
    assert _provenance(ex)["cassette"] == str(cassette)
    kernel.execute("%agent record stop")
