"""A local model in a real kernel: `%%agent` on the `ollama:` preset reached by a host name, with
OPENAI_API_KEY exported; a tool call written as text and a prompt cut by a small context window
show in the live view and in the saved output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._server import DONE, OpenAIServer, Reply, sse
from tests.notebook._kernel import Kernel, kernel_env

pytestmark = pytest.mark.kernel

KEY = "sk-openai-SECRET-0123456789abcdef"
SETUP = """
%load_ext openstackai_nb
from openstackai_nb import Agent
def add(a: int, b: int) -> int:
    '''Add two numbers.'''
    return a + b
adder = Agent(name="Adder", tools=[add], model="ollama:qwen2.5:7b")
"""
LONG = "Add 2 and 3, after reading this report. " + "The quarterly figures rose in every region. " * 400


def answer(text: str, prompt_tokens: int) -> Reply:
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 9, "total_tokens": prompt_tokens + 9}
    return sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": usage},
        DONE,
    )


def test_a_local_model_on_a_named_host_in_a_kernel(openai_server: OpenAIServer, tmp_path: Path) -> None:
    env = kernel_env(
        OLLAMA_BASE_URL=f"http://localhost:{openai_server.port}/v1",
        OPENAI_API_KEY=KEY,  # exported for other work: it must not reach the local server
        OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite"),
    )
    kernel = Kernel(env, str(tmp_path))
    try:
        assert kernel.execute(SETUP).error is None
        openai_server.script(
            answer('<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>', 2048),
            answer("2 + 3 = 5.", 2048),
        )
        ex = kernel.execute(f"%%agent --agent adder -o r\n{LONG}", timeout=90)
        assert ex.error is None, ex.error
        (out,) = ex.final_outputs()
        data = out["data"]
        assert "2 + 3 = 5." in data["text/plain"]
        for mime in ("text/html", "text/markdown", "text/plain"):
            assert "parsed from text" in data[mime], mime
            assert "⚠ the prompt was probably cut" in data[mime] or "Warning: the prompt" in data[mime], mime
        assert "OLLAMA_CONTEXT_LENGTH" in data["text/plain"]
        live = json.dumps([m["content"] for m in ex.of_type("comm_msg", "comm_open")])
        assert "parsed from text" in live  # the live tool table's row, before the static copy
        check = kernel.execute(
            "import openstackai_nb as o\n"
            "df = o.history.tool_calls_dataframe()\n"
            "print(r.provider, r.warnings[0][:27], bool(df['parsed_from_text'].iloc[-1]),"
            " o.history.to_dataframe()['warnings'].iloc[-1][:27])"
        )
        assert check.stdout.strip() == "ollama the prompt was probably cut True the prompt was probably cut", (
            check.stdout
        )
        assert all("authorization" not in r.headers for r in openai_server.requests)
        assert KEY not in json.dumps([m["content"] for m in ex.msgs])
    finally:
        kernel.close()
