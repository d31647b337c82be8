"""The notebook layer in a real kernel (jupyter_client) against the loopback OpenAI server.

Every iopub message of every cell is recorded: the tests read the saved outputs, the live view's
comm traffic, and search all of it for the API key.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._html import html_of_markdown, parse_tags
from tests._server import OpenAIServer, error, refusing_url, text_stream, tool_stream
from tests.notebook._answers import markdown_answer
from tests.notebook._kernel import Execution, Kernel, kernel_env

pytestmark = pytest.mark.kernel

KEY = "sk-test-SECRET-0123456789abcdef"
EVIL = "Look: <script>alert(1)</script> <img src=x onerror=alert(2)> done"
SETUP = """
%load_ext openstackai_nb
from tests._html import html_of_markdown, parse_tags
from openstackai_nb import Agent, Runner
def get_weather(city: str) -> str:
    '''Get the weather for a city.'''
    return f"Sunny in {city}"
def lookup(key: str) -> str:
    '''Look a key up.'''
    raise KeyError(key)
weather = Agent(name="Weather", tools=[get_weather], model="gpt-4o-mini")
"""


def _start(server: OpenAIServer, tmp: Path) -> Kernel:
    env = kernel_env(OPENAI_BASE_URL=server.url, OPENAI_API_KEY=KEY, OPENSTACKAI_NB_HISTORY=str(tmp / "h.sqlite"))
    kernel = Kernel(env, str(tmp))
    ex = kernel.execute(SETUP)
    assert ex.error is None, ex.error
    return kernel


@pytest.fixture(scope="module")
def kernel(_server: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    k = _start(_server, tmp_path_factory.mktemp("kernel"))
    k.seen: list[Execution] = []  # type: ignore[misc]
    yield k
    k.close()


def run(kernel: Kernel, code: str, **kwargs: Any) -> Execution:
    ex = kernel.execute(code, **kwargs)
    getattr(kernel, "seen", []).append(ex)
    return ex


def _static(ex: Execution) -> dict[str, str]:
    outs = ex.final_outputs()
    assert len(outs) == 1, outs
    data = outs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" not in data
    assert {"text/html", "text/markdown", "text/plain"} <= set(data)
    return data


def test_cell_ends_as_static_bundle_with_tool_table(kernel: Kernel, openai_server: OpenAIServer) -> None:
    openai_server.script(
        tool_stream([("call_7", "get_weather", {"city": "Paris"})]),
        text_stream("It is sunny in Paris."),
    )
    ex = run(kernel, "%%agent --agent weather -o r\nWhat is the weather in Paris?")
    assert ex.error is None, ex.error
    # live: a widget was shown, then replaced in the same output, then closed
    shown = ex.of_type("display_data")[0]["content"]
    assert "application/vnd.jupyter.widget-view+json" in shown["data"]
    assert ex.of_type("update_display_data")[0]["content"]["transient"] == shown["transient"]
    assert ex.of_type("comm_close")
    data = _static(ex)
    assert "It is sunny in Paris." in data["text/html"] and "COMPLETED" in data["text/plain"]
    assert ">get_weather</td>" in data["text/html"] and "Sunny in Paris" in data["text/html"]
    assert "| get\\_weather |" in data["text/markdown"]
    # the tool row went running -> ok in the live view, and ended as the static copy's row
    live = ex.live()
    assert live.row_statuses() == ["running", "ok"]
    assert live.rows[0] in data["text/html"] and live.head in data["text/html"]
    assert "Sunny in Paris" in live.rows[0] and "{&quot;city&quot;: &quot;Paris&quot;}" in live.rows[0]
    check = run(kernel, "print(r.status.value, r.tool_calls[0].name, r.final_output)")
    assert check.stdout.strip() == "COMPLETED get_weather It is sunny in Paris."


def test_text_before_a_tool_call_stays_in_the_static_copy(kernel: Kernel, openai_server: OpenAIServer) -> None:
    # The live view streams every turn's text; when the run ends the static copy shows the same
    # text in the same order (nothing the reader saw disappears), the answer last.
    openai_server.script(
        tool_stream([("call_8", "get_weather", {"city": "Paris"})], text="Let me look that up."),
        text_stream("It is sunny in Paris."),
    )
    ex = run(kernel, "%%agent --agent weather -o r2\nWhat is the weather in Paris?")
    assert ex.error is None, ex.error
    live = ex.live()
    shown_live = live.answer_html + live.tail
    assert "Let me look that up." in live.answer_html and "It is sunny in" in shown_live
    data = _static(ex)
    html = data["text/html"]
    assert html[html.index("<div class='osnb-output osnb-md'>") :].startswith(
        "<div class='osnb-output osnb-md'>" + live.answer_html
    )
    assert html.index("Let me look that up.") < html.index("It is sunny in Paris.") < html.index(">get_weather</td>")
    assert "Let me look that up.\n\nIt is sunny in Paris." in data["text/plain"]
    assert "Let me look that up." in data["text/markdown"]
    check = run(kernel, "print(r2.final_output)")
    assert check.stdout.strip() == "It is sunny in Paris."  # the answer itself is the last turn's


def test_failed_tool_row_and_failed_run(kernel: Kernel, openai_server: OpenAIServer) -> None:
    openai_server.script(tool_stream([("call_1", "lookup", {"key": "k"})]), error(401, "no key"))
    ex = run(kernel, "%%agent --tools lookup -o bad\nLook k up")
    assert ex.error is None, ex.error
    live = ex.live()
    assert live.row_statuses()[-1] == "error" and "KeyError" in live.rows[0]
    data = _static(ex)
    assert "FAILED" in data["text/plain"] and "401" in data["text/plain"]
    assert run(kernel, "print(bad.status.value)").stdout.strip() == "FAILED"


def test_model_text_is_escaped(kernel: Kernel, openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream(EVIL))
    ex = run(kernel, "%%agent -o r\nSay something")
    data = _static(ex)
    parsed = parse_tags(data["text/html"])
    assert "script" not in parsed.tags and "img" not in parsed.tags and "onerror" not in parsed.attrs
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in data["text/html"]
    shown = parse_tags(html_of_markdown(data["text/markdown"]))  # as Jupyter/GitHub render markdown
    assert "script" not in shown.tags and "img" not in shown.tags and "onerror" not in shown.attrs
    # the live view got the text as text, and HTML only from render (escaped)
    live = ex.live()
    assert EVIL.startswith(live.tail)
    parsed = parse_tags(live.answer_html)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "onerror" not in parsed.attrs
    # the front end sets text through Text nodes, and HTML only through an inert parser and an allowlist
    js = (Path(__file__).parents[2] / "openstackai_nb/notebook/static/live_view.js").read_text()
    for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "createContextualFragment"):
        assert sink not in js, sink
    assert "new DOMParser()" in js and "clean(doc.body)" in js


def test_long_markdown_answer_is_rendered_live_coalesced_and_append_only(
    kernel: Kernel, openai_server: OpenAIServer
) -> None:
    text = markdown_answer(2000)
    openai_server.script(text_stream(text, chunk_delay=0.0005))
    ex = run(kernel, "%%agent -o long\nWrite 2000 words")
    assert ex.error is None, ex.error
    deltas = ex.deltas()
    live = ex.live()  # asserts that every drop only removes text already shown
    # Append-only: each piece of text went out once as text (the end arriving with the run's end
    # goes straight into the static copy), and each finished block once as HTML.
    assert live.text_sent <= len(text)
    blocks = [b for b in live.blocks if b]  # the HTML of each delta message that carried some
    assert len(blocks) >= 5, len(blocks)  # rendered while streaming, not at the end
    # Rendered: a table, highlighted code, a nested list and a link, already in the live view.
    html = live.answer_html
    assert "<table>" in html and "<span class='k'>def</span>" in html
    assert re.search(r"<li>[^<]*\n<ul>", html) and "href='https://example.com/docs/0'" in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not" not in html
    # Nothing jumps: the static copy's answer is the live blocks, then the rest.
    static = _static(ex)["text/html"]
    answer = static[static.index("<div class='osnb-output osnb-md'>") :]
    assert answer.startswith("<div class='osnb-output osnb-md'>" + html)
    # Coalesced: at most ~30 messages a second, far fewer than the tokens.
    elapsed = float(run(kernel, "print(long.elapsed_time)").stdout)
    live_msgs = ex.of_type("comm_msg")
    assert len(live_msgs) <= 30 * elapsed + 5, (len(live_msgs), elapsed)
    assert len(deltas) < len(text.split()) / 10
    size = len(text.encode())
    live_bytes = ex.wire_bytes(live_msgs)
    print(
        f"\n2000-word markdown answer ({size} B) in {elapsed:.2f}s: {len(live_msgs)} live messages "
        f"({len(deltas)} answer deltas, {len(blocks)} blocks), {live_bytes} B = {live_bytes / size:.2f}x the answer"
    )
    assert live_bytes < 3 * size


def test_plain_api_in_a_cell(kernel: Kernel, openai_server: OpenAIServer) -> None:
    ex = run(kernel, 'res = Runner.run_sync(Agent(model="scripted"), "Hello there")\nres')
    assert ex.error is None, ex.error
    result = ex.of_type("execute_result")[0]["content"]["data"]
    assert "You asked: Hello there" in result["text/html"] and "COMPLETED" in result["text/markdown"]
    assert result["text/plain"].startswith("RunResult(status=COMPLETED")


def test_line_magics(kernel: Kernel, openai_server: OpenAIServer) -> None:
    cfg = run(kernel, "%agent config")
    text = json.dumps(cfg.displayed())
    assert "gpt-4o-mini" in text and openai_server.url in text and "| OPENAI_API_KEY | set |" in text
    assert "Weather" in run(kernel, "%agent agents").stdout
    openai_server.script(text_stream("again"))
    run(kernel, "%%agent --quiet\nHi")
    last = run(kernel, "%agent last")
    assert "again" in last.displayed()[0]["data"]["text/html"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("%%agent --agent nope\nhi", "--agent nope is not defined"),
        ("%%agent -o x\n  \n", "%%agent needs a prompt"),
        ("%%agent\n", "the cell body is empty"),  # IPython's own message
        ("%%agent --frobnicate\nhi", "unrecognized arguments: --frobnicate"),
        ("%%agent --instructions 'Be brief\nhi", "No closing quotation"),
        ('%%agent --model ""\nhi', "--model is empty"),
        ("%%agent -o weather\nhi", "-o weather would replace the Agent weather"),
        ("%%agent --agents weather,weather\nhi", "--agents names weather more than once"),
        (
            "q = 'one question'\nget_ipython().run_cell_magic('agent', '--over q', 'Answer {{item}}')",
            "--over q is a str",
        ),
    ],
)
def test_bad_input_is_one_line(kernel: Kernel, code: str, message: str) -> None:
    ex = run(kernel, code)
    reply = ex.reply
    assert reply["status"] == "error" and reply["ename"] == "UsageError" and message in reply["evalue"]
    assert reply["traceback"] == [] and not ex.of_type("error")  # no traceback, one line on stderr
    stderr = [m["content"]["text"] for m in ex.of_type("stream") if m["content"]["name"] == "stderr"]
    assert len(stderr) == 1 and stderr[0].startswith("UsageError: ") and stderr[0].count("\n") == 1


def test_unreachable_endpoint_fails_with_one_line(kernel: Kernel) -> None:
    # The kernel's base URL is the loopback server; point this run at a port that refuses instead.
    # Whether the provider's retries run out first or max_time cuts the last retry off (the
    # backoff's jitter decides), the one line says where it could not connect.
    with refusing_url() as url:
        ex = run(
            kernel,
            f"import os; _b = os.environ['OPENAI_BASE_URL']; os.environ['OPENAI_BASE_URL'] = {url!r}\n"
            "get_ipython().run_cell_magic('agent', '-o down --max-time 3', 'Hi')\n"
            "os.environ['OPENAI_BASE_URL'] = _b",
        )
    assert ex.error is None, ex.error
    text = _static(ex)["text/plain"]
    assert text.startswith("FAILED") and f"could not reach {url}" in text


def test_no_key_in_any_message(kernel: Kernel, openai_server: OpenAIServer) -> None:
    openai_server.script(error(401, f"Incorrect API key provided: {KEY}"))
    run(kernel, "%%agent -o r\nHi")
    run(kernel, "%agent config")
    run(kernel, "print(r.to_json()); r")
    seen = kernel.seen  # type: ignore[attr-defined]
    assert len(seen) >= 3  # every cell this module ran so far (all of them when run in full)
    for ex in seen:
        assert KEY not in ex.raw()
        assert "0123456789abcdef" not in ex.raw()


def test_unload_ext(kernel: Kernel) -> None:
    run(kernel, "%unload_ext openstackai_nb")
    ex = run(kernel, "%%agent\nhi")
    assert ex.reply["status"] == "error" and "not found" in ex.reply["evalue"]
    run(kernel, "%load_ext openstackai_nb")
    assert run(kernel, "%agent agents").error is None


@pytest.mark.slow
def test_interrupt_cancels_keeps_partial_text_and_kernel(openai_server: OpenAIServer, tmp_path: Path) -> None:
    k = _start(openai_server, tmp_path)
    try:
        words = " ".join(f"w{i}" for i in range(400))
        openai_server.script(text_stream(words, chunk_delay=0.05))  # 20 s if not interrupted
        interrupted: list[float] = []

        def on_msg(msg: dict[str, Any]) -> None:
            data = msg["content"].get("data", {}) if msg["msg_type"] == "comm_msg" else {}
            if not interrupted and data.get("content", {}).get("kind") == "delta":
                interrupted.append(time.monotonic())
                k.km.interrupt_kernel()

        ex = k.execute("%%agent -o r\nWrite a long story", on_msg=on_msg, timeout=60)
        assert interrupted, "no text streamed before the interrupt"
        latency = ex.idle_at - interrupted[0]
        print(f"\ninterrupt -> kernel idle: {latency:.3f}s")
        assert ex.error is None, ex.error  # the cell returns normally
        data = _static(ex)
        assert "CANCELLED" in data["text/plain"] and "interrupted" in data["text/plain"]
        check = k.execute("print(r.status.value, len(r.final_output.split()))")
        status, n = check.stdout.split()
        assert status == "CANCELLED" and 0 < int(n) < 400  # partial text kept; stopped long before the end
        assert k.execute("print(6 * 7)").stdout.strip() == "42"
        openai_server.script(text_stream("still works"))
        again = k.execute("%%agent -o r2\nHi")
        assert "still works" in _static(again)["text/html"]
    finally:
        k.close()


def test_kernel_without_anywidget_streams_text_then_static_view(kernel: Kernel, openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("plain streamed answer"))
    code = (
        "import openstackai_nb.notebook.widgets as _w\n"
        "_saved, _w._widgets_available = _w._widgets_available, lambda: False\n"
        "try:\n"
        "    get_ipython().run_cell_magic('agent', '-o plain', 'Hi')\n"
        "finally:\n"
        "    _w._widgets_available = _saved\n"
    )
    ex = run(kernel, code)
    assert ex.error is None, ex.error
    assert not ex.of_type("comm_open")
    types = [m["msg_type"] for m in ex.msgs]
    assert "clear_output" in types and types.index("clear_output") < types.index("display_data")
    data = ex.of_type("display_data")[-1]["content"]["data"]
    assert "plain streamed answer" in data["text/html"] and "COMPLETED" in data["text/plain"]


def test_agents_over_cases_repeats_seed_score(kernel: Kernel, openai_server: OpenAIServer) -> None:
    # Issue 21: agents x cases, repeated, seeded and scored, from one cell of a real kernel.
    ex = run(
        kernel,
        "terse = Agent(name='Terse', model='gpt-4o-mini', instructions='Be terse.')\n"
        "qs = [{'input': 'six times seven', 'expected': 42, 'id': 'mul'}, {'input': 'half of 84', 'expected': 42}]\n"
        "get_ipython().run_cell_magic('agent', '--agents weather,terse --over qs --repeats 2 --seed 9 "
        "--score numeric,exact -o grid', 'Compute {{item}}')\n"
        "print(grid[['agent', 'case_id', 'repeat', 'numeric', 'exact']].to_string())",
    )
    assert ex.error is None, ex.error
    # The weather agent calls its tool first: 2 requests per run; terse: 1.
    seeds = sorted(r.body["seed"] for r in openai_server.requests)
    assert seeds == [9] * 6 + [10] * 6
    lines = ex.stdout.splitlines()
    assert len(lines) == 9 and "mul" in lines[5] and lines[5].split()[-2:] == ["1.0", "0.0"]  # terse: "...is 42."
    assert lines[1].split()[-2:] == ["NaN", "0.0"]  # weather says what its tool said: no number
    shown = json.dumps([m["content"] for m in ex.of_type("display_data", "update_display_data")])
    assert "numeric" in shown and "exact" in shown and KEY not in shown


def test_compare_called_in_a_kernel_shows_the_notebook_progress_table(kernel: Kernel) -> None:
    # compare() is the comparison layer's; in a kernel its progress=True view is the notebook's
    # table (comparison.progress.NOTEBOOK_PROGRESS), updated in place through one display id.
    ex = run(
        kernel,
        "import sys\n"
        "from openstackai_nb import compare\n"
        "df = compare(Agent(name='Plain', model='scripted'), ['say 2 words', 'say 3 words'])\n"
        "print(len(df), 'openstackai_nb.notebook.progress' in sys.modules)",
    )
    assert ex.error is None, ex.error
    assert ex.stdout.split() == ["2", "True"]
    shown = [m["content"]["data"] for m in ex.of_type("display_data", "update_display_data")]
    assert shown and all("osnb-cmp" in d["text/html"] for d in shown)
    assert "compare done: 2/2 runs" in shown[-1]["text/plain"]
