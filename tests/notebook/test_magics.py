"""%%agent / %agent in an in-process IPython shell (terminal mode: streamed text, no widgets)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from openstackai_nb.notebook import magics, options, placeholders
from openstackai_nb.notebook.magics import AgentMagics, default_model, interpolate, summarise
from openstackai_nb.runner import RunResult, RunStatus
from tests._server import error, refusing_url, text_stream

KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "openstackai_nb")
    shell.run_cell(
        "from openstackai_nb import Agent\n"
        "def get_weather(city: str) -> str:\n"
        "    '''Get the weather for a city.'''\n"
        "    return f'Sunny in {city}'\n"
        "weather = Agent(name='Weather', tools=[get_weather], model='scripted')\n"
        "not_an_agent = 3\n"
    )
    yield shell
    shell.run_line_magic("unload_ext", "openstackai_nb")
    for name in ("weather", "not_an_agent", "get_weather", "r", "Agent"):
        shell.user_ns.pop(name, None)


def cell(ip: InteractiveShell, line: str, body: str) -> Any:
    return ip.run_cell_magic("agent", line, body)


# -- parsing and help (no run) ---------------------------------------------------------------------
def test_help_lists_every_option() -> None:
    doc = AgentMagics.agent_cell.__doc__ or ""
    assert doc.startswith("::\n\n  %%agent")
    for opt in ("--agent NAME", "--model NAME", "--instructions TEXT", "--tools F,G", "-o NAME, --out NAME",
                "--max-turns N", "--max-time S", "--chat", "--quiet", "--agents A,B,C", "--over NAME",
                "--concurrency N", "{{name}}"):  # fmt: skip
        assert opt in doc, opt
    line_doc = AgentMagics.agent_line.__doc__ or ""
    for sub in ("config", "agents", "last", "history [-n N]", "trace [RUN_ID]", "record PATH", "replay PATH"):
        assert sub in line_doc


def test_parse_arguments() -> None:
    args = magics._parse(
        "--agent a -o res --max-turns 3 --max-time 2.5 --chat --quiet --tools f,g --instructions 'Be brief.'"
    )
    assert (args.agent, args.out, args.max_turns, args.max_time) == ("a", "res", 3, 2.5)
    assert args.chat and args.quiet and args.tools == "f,g" and args.instructions == "Be brief."
    assert args.concurrency == 8 and args.model is None


# -- interpolation and defaults ---------------------------------------------------------------------
def test_interpolation_is_opt_in_and_bounded() -> None:
    ns = {"city": "Paris", "long": "x" * 10_000, "n": 3}
    assert interpolate("Weather in {{city}}? {{ n }}", ns) == "Weather in Paris? 3"
    code = "def f(d): return {k: v for k, v in d.items()}  # {city} {0}"
    assert interpolate(code, ns) == code
    assert len(interpolate("{{long}}", ns)) < placeholders.SUMMARY_CHARS + 50
    with pytest.raises(UsageError, match="define missing first"):
        interpolate("{{missing}}", ns)


def test_dataframe_is_summarised() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": range(1000), "b": ["text"] * 1000})
    out = summarise(df)
    assert "shape 1000x2" in out and len(out.splitlines()) == 12


def test_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_model() == ("scripted", options.OFFLINE_NOTE)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert default_model() == ("gpt-4o-mini", "")
    monkeypatch.setenv("OPENSTACKAI_NB_MODEL", "ollama:llama3.2")
    assert default_model() == ("ollama:llama3.2", "")


# -- runs ---------------------------------------------------------------------------------------------
def test_cell_streams_text_and_stores_result(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    cell(ip, "--agent weather -o r", "What is the weather in Paris?")
    out = capsys.readouterr().out
    assert '[get_weather({"city": "Paris"}) running]' in out
    assert "[get_weather ok" in out and "Sunny in Paris" in out
    assert "COMPLETED · Weather · scripted · 2 turns" in out
    res = ip.user_ns["r"]
    assert isinstance(res, RunResult) and res.status is RunStatus.COMPLETED
    assert res.tool_calls[0].result == "Sunny in Paris"
    assert ip.magics_manager.registry["AgentMagics"].last is res


def test_default_agent_is_offline_with_a_note(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    cell(ip, "-o r --instructions 'Be brief.'", "Write 12 words")
    out = capsys.readouterr().out
    assert "offline scripted model" in out
    res = ip.user_ns["r"]
    assert res.model == "scripted" and len((res.final_output or "").split()) == 12
    assert res.messages[0].content == "Be brief."


def test_real_endpoint_chat_and_tools(
    ip: InteractiveShell, openai_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.script(text_stream("First answer."), text_stream("Second answer."))
    cell(ip, "-o r", "Hello {{not_an_agent}}")
    assert ip.user_ns["r"].final_output == "First answer."
    assert ip.user_ns["r"].model == "gpt-4o-mini"
    cell(ip, "--chat -o r", "And again?")
    sent = [m["content"] for m in openai_server.requests[1].messages if m["role"] != "system"]
    assert sent == ["Hello 3", "First answer.", "And again?"]
    out = capsys.readouterr().out
    assert "First answer." in out and "Second answer." in out and KEY not in out
    openai_server.script(text_stream("Third."))
    cell(ip, "--tools get_weather --model gpt-4o-mini -o r", "Use tools")
    assert [t["function"]["name"] for t in openai_server.requests[2].body["tools"]] == ["get_weather"]


def test_failed_run_is_stored_and_shown(
    ip: InteractiveShell, openai_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.script(error(400, "bad request <script>x</script>"))
    cell(ip, "-o r", "Hello")
    res = ip.user_ns["r"]
    assert res.status is RunStatus.FAILED and "400" in (res.error or "")
    out = capsys.readouterr().out
    assert "Error:" in out and "FAILED" in out and KEY not in out


def test_unreachable_endpoint_fails_the_run(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with refusing_url() as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        cell(ip, "-o r --max-time 3", "Hello")
    res = ip.user_ns["r"]
    assert res.status is RunStatus.FAILED
    out = capsys.readouterr().out
    assert "FAILED" in out and f"could not reach {url}" in out


@pytest.mark.parametrize(
    ("line", "body", "message"),
    [
        ("--agent nope", "hi", "--agent nope is not defined; Agents in this notebook: weather"),
        ("--agent not_an_agent", "hi", "--agent not_an_agent is not an Agent"),
        ("", "   \n ", "%%agent needs a prompt"),
        ("--bogus", "hi", "unrecognized arguments: --bogus"),
        ("--max-turns 0", "hi", "%%agent --max-turns 0: "),
        ("--max-time -1", "hi", "%%agent --max-time -1.0: "),
        ("--timeout-per-turn 0", "hi", "%%agent --timeout-per-turn 0.0: "),
        ("--instructions 'Be brief", "hi", "No closing quotation"),
        ('--model ""', "hi", "--model is empty"),
        ("--agent ''", "hi", "--agent is empty"),
        ("-o 1x", "hi", "-o 1x: not a variable name"),
        ("-o class", "hi", "-o class: not a variable name"),
        ("-o weather", "hi", "-o weather would replace the Agent weather; choose another name, or add --force"),
        ("--agents weather,weather", "hi", "--agents names weather more than once"),
        ("--tools nothing_here", "hi", "--tools nothing_here: no function named nothing_here"),
        ("--model ollam:llama3", "hi", "did you mean 'ollama'"),
        ("--model gpt-4o-mini", "hi", "OPENAI_API_KEY is not set"),
        ("", "{{undefined_var}}", "define undefined_var first"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(ip: InteractiveShell, line: str, body: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        cell(ip, line, body)
    text = str(info.value)
    assert message in text
    assert "\n" not in text.strip()


def test_quiet_stores_silently(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    cell(ip, "--quiet -o r", "Write 5 words")
    assert capsys.readouterr().out == ""
    assert ip.user_ns["r"].status is RunStatus.COMPLETED


# -- %agent --------------------------------------------------------------------------------------------
def test_line_subcommands(ip: InteractiveShell, openai_server: Any, capsys: pytest.CaptureFixture[str]) -> None:
    config = ip.run_line_magic("agent", "config")
    assert "gpt-4o-mini" in config.data and openai_server.url in config.data
    assert "| OPENAI_API_KEY | set |" in config.data and KEY not in config.data
    ip.run_line_magic("agent", "agents")
    assert "weather: 'Weather' · scripted · get_weather" in capsys.readouterr().out
    with pytest.raises(UsageError, match="unknown subcommand"):
        ip.run_line_magic("agent", "frobnicate")
    with pytest.raises(UsageError, match="Usage"):
        ip.run_line_magic("agent", "")
    with pytest.raises(UsageError, match="no cassette"):
        ip.run_line_magic("agent", "replay /nonexistent/cassette.jsonl")
    with pytest.raises(UsageError, match="history"):
        ip.run_line_magic("agent", "history -n x")


def test_last_reshows_the_run(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    cell(ip, "--agent weather", "Weather in Oslo?")
    capsys.readouterr()
    ip.run_line_magic("agent", "last")
    out = capsys.readouterr().out
    assert "COMPLETED" in out and "Sunny in Oslo" in out and "> Weather in Oslo?" in out


def test_unload_removes_the_magics(ip: InteractiveShell) -> None:
    ip.run_line_magic("unload_ext", "openstackai_nb")
    assert "agent" not in ip.magics_manager.magics["cell"]
    assert "agent" not in ip.magics_manager.magics["line"]
    ip.run_line_magic("load_ext", "openstackai_nb")
    assert "agent" in ip.magics_manager.magics["cell"]


# -- issue 5 and 6 options: --agents / --over, %agent history, record / replay -----------------------
def test_agents_side_by_side(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pandas")
    ip.run_cell("terse = Agent(name='Terse', instructions='Be terse.', model='scripted')")
    cell(ip, "--agents weather,terse -o df --quiet", "Write 4 words")
    df = ip.user_ns["df"]
    assert list(df["agent"]) == ["weather", "terse"] and set(df["status"]) == {"COMPLETED"}
    with pytest.raises(UsageError, match="--agents nope is not defined"):
        cell(ip, "--agents weather,nope", "hi")
    ip.user_ns.pop("terse")


def test_over_items(ip: InteractiveShell) -> None:
    pytest.importorskip("pandas")
    ip.user_ns["cities"] = ["Paris", "Oslo", "Lima"]
    cell(ip, "--over cities --agent weather --concurrency 2 -o df --quiet", "Weather in {{ item }}?")
    df = ip.user_ns["df"]
    assert list(df["input"]) == ["Weather in Paris?", "Weather in Oslo?", "Weather in Lima?"]
    assert all("Sunny in" in out for out in df["final_output"])
    with pytest.raises(UsageError, match="needs \\{\\{item\\}\\}"):
        cell(ip, "--over cities", "no placeholder")
    with pytest.raises(UsageError, match="--over nothing is not defined"):
        cell(ip, "--over nothing", "{{item}}")
    with pytest.raises(UsageError, match="--concurrency must be >= 1"):
        cell(ip, "--over cities --concurrency 0", "{{item}}")
    ip.user_ns.pop("cities")


def test_history_subcommand(ip: InteractiveShell) -> None:
    pytest.importorskip("pandas")
    cell(ip, "--quiet", "Write 3 words")
    df = ip.run_line_magic("agent", "history -n 2")
    assert len(df) <= 2 and df.iloc[-1]["input"] == "Write 3 words"


def test_record_and_replay(ip: InteractiveShell, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = tmp_path / "c.jsonl"
    ip.run_line_magic("agent", f"record {cassette}")
    cell(ip, "-o first", "Write 7 words")
    ip.run_line_magic("agent", "record stop")
    assert cassette.exists()
    ip.run_line_magic("agent", f"replay {cassette}")
    try:
        assert "replay:" in ip.run_line_magic("agent", "config").data
        cell(ip, "-o again", "Write 7 words")
    finally:
        ip.run_line_magic("agent", "replay off")
    first, again = ip.user_ns.pop("first"), ip.user_ns.pop("again")
    assert again.model.startswith("replay:") and again.final_output == first.final_output
    with pytest.raises(UsageError, match="usage: %agent record"):
        ip.run_line_magic("agent", "record")


def test_terminal_ipython_streams_plain_text(tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "run.ipy"
    script.write_text("%load_ext openstackai_nb\nget_ipython().run_cell_magic('agent', '-o r', 'Write 9 words')\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("OPENAI_", "OPENSTACKAI_NB_M"))}
    ipython = Path(sys.executable).with_name("ipython")
    out = subprocess.run(
        [str(ipython), "--no-banner", "--colors=nocolor", str(script)],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "the agent walked through the quiet notebook reading each\n" in out.stdout  # 9 words
    assert "[COMPLETED · Assistant · scripted · 1 turn" in out.stdout
    assert "LiveView" not in out.stdout and "<IPython" not in out.stdout


def test_max_time_ends_failed_with_the_limit(
    ip: InteractiveShell, openai_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.script(text_stream("too late " * 50, chunk_delay=0.2))
    cell(ip, "-o r --max-time 0.5", "Hello")
    res = ip.user_ns["r"]
    assert res.status is RunStatus.FAILED and "max_time=0.5s exceeded" in (res.error or "")
    out = capsys.readouterr().out
    assert "FAILED" in out and "max_time=0.5s exceeded" in out


# -- issue 12: the magic under misuse ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("'What is the capital of France?'", "str"),
        ("{'a': 1, 'b': 2}", "dict"),
        ("{'a', 'b'}", "set"),
        ("(c for c in 'ab')", "generator"),
        ("3", "int"),
    ],
)
def test_over_rejects_what_is_not_a_list_of_items(ip: InteractiveShell, value: str, kind: str) -> None:
    pytest.importorskip("pandas")
    ip.run_cell(f"q = {value}")
    with pytest.raises(UsageError) as info:
        cell(ip, "--over q -o over_df --quiet", "Answer {{item}}")
    text = str(info.value)
    assert f"--over q is a {kind}; --over takes a list, tuple, pandas Series or Index" in text and "\n" not in text
    assert "over_df" not in ip.user_ns  # nothing ran
    with pytest.raises(UsageError, match="item 1 is a list; --over takes"):
        ip.user_ns["q"] = ["fine", ["nested"]]
        cell(ip, "--over q --quiet", "Answer {{item}}")
    ip.user_ns.pop("q")


@pytest.mark.parametrize(
    "value", ["('Paris', 'Oslo')", "pd.Series(['Paris', 'Oslo'])", "pd.Index(['Paris', 'Oslo'])", "pd.Series([1, 2])"]
)
def test_over_accepts_lists_tuples_series_and_indexes(ip: InteractiveShell, value: str) -> None:
    pytest.importorskip("pandas")
    ip.run_cell(f"import pandas as pd\nq = {value}")
    cell(ip, "--over q --agent weather -o df --quiet", "Weather in {{item}}?")
    df = ip.user_ns.pop("df")
    assert len(df) == 2 and set(df["status"]) == {"COMPLETED"}
    ip.user_ns.pop("q")


def test_out_replaces_an_agent_only_with_force(ip: InteractiveShell) -> None:
    ip.run_cell("spare = Agent(name='Spare', model='scripted')")
    with pytest.raises(UsageError, match="-o spare would replace the Agent spare"):
        cell(ip, "-o spare --quiet", "Write 2 words")
    assert type(ip.user_ns["spare"]).__name__ == "Agent"
    cell(ip, "-o spare --force --quiet", "Write 2 words")
    assert isinstance(ip.user_ns.pop("spare"), RunResult)


def test_timeout_per_turn_option_and_the_limit_names_it(
    ip: InteractiveShell, openai_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.script(text_stream("too late " * 50, chunk_delay=0.2))
    cell(ip, "-o r --timeout-per-turn 0.5", "Hello")
    res = ip.user_ns["r"]
    assert res.status is RunStatus.FAILED and "timeout_per_turn=0.5s exceeded" in (res.error or "")
    out = capsys.readouterr().out
    assert "raise it with %%agent --timeout-per-turn S" in out and "RunConfig(" not in out
    ip.run_line_magic("agent", "last")
    out = capsys.readouterr().out
    assert "raise it with %%agent --timeout-per-turn S" in out and "RunConfig(" not in out


def test_config_is_readable_text_outside_jupyter(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ip.run_line_magic("agent", "config")
    text = repr(config)
    assert text.startswith("model ") and "OPENAI_API_KEY  not set" in text and "<IPython" not in text
    assert "| OPENAI_API_KEY | not set |" in config._repr_markdown_()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://me:hunter2hunter@proxy.local:8080/v1")
    config = ip.run_line_magic("agent", "config")
    assert "hunter2" not in repr(config) + config._repr_markdown_()
    assert "http://[REDACTED]@proxy.local:8080/v1" in repr(config)


def test_history_that_cannot_be_opened_is_one_line(ip: InteractiveShell, tmp_path: Any) -> None:
    pytest.importorskip("pandas")
    from openstackai_nb import store

    (tmp_path / "file").write_text("a file where the store's folder should be")
    previous = store.set_history(None)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("OPENSTACKAI_NB_HISTORY", str(tmp_path / "file" / "h.sqlite"))
            with pytest.warns(store.HistoryWarning, match="runs are not recorded"):
                with pytest.raises(UsageError) as info:
                    ip.run_line_magic("agent", "history")
    finally:
        store.set_history(previous)
    assert "cannot write the run history file" in str(info.value) and "\n" not in str(info.value)


def test_config_in_terminal_ipython_prints_text(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENSTACKAI_NB_M"))}
    ipython = Path(sys.executable).with_name("ipython")
    out = subprocess.run(
        [str(ipython), "--no-banner", "--colors=nocolor", "--simple-prompt"],
        input="%load_ext openstackai_nb\n%agent config\nexit\n",
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "OPENAI_API_KEY  not set" in out.stdout and "model           scripted" in out.stdout
    assert "<IPython" not in out.stdout and "object at" not in out.stdout


# -- issue 21: agents x cases, --repeats, --seed, --score -------------------------------------------
def test_agents_over_cases_with_repeats_seed_and_score(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pandas")
    ip.run_cell(
        "from openstackai_nb import Case\n"
        "from openstackai_nb.models.function import FunctionModel\n"
        "seeded = Agent(name='Seeded', model=FunctionModel(lambda m, i: f\"seed {i.settings['seed']}\"))\n"
        "cases = [Case('Paris', expected='sunny', id='p'), {'input': 'Oslo', 'expected': 'rain', 'topic': 'n'}]\n"
        "def length(result, case):\n"
        "    return len(result.final_output)\n"
    )
    cell(
        ip,
        "--agents weather,seeded --over cases --repeats 2 --seed 3 --score contains,length -o df",
        "Weather in {{item}}?",
    )
    df = ip.user_ns["df"]
    assert len(df) == 8 and df["agent"].tolist() == ["weather"] * 4 + ["seeded"] * 4
    assert df["case_id"].tolist()[:4] == ["p", "p", df["case_id"][2], df["case_id"][2]] and df["case_id"][2] != "p"
    assert df["case_id"][2] == ip.user_ns["Case"]("Oslo").case_id  # the case's id, not the prompt's
    assert df["input"].tolist()[:3] == ["Weather in Paris?", "Weather in Paris?", "Weather in Oslo?"]
    assert df["repeat"].tolist() == [0, 1] * 4 and df["topic"].tolist()[2] == "n"
    assert df.loc[df.agent == "seeded", "final_output"].tolist() == ["seed 3", "seed 4"] * 2
    assert df.loc[df.agent == "weather", "contains"].tolist() == [1.0, 1.0, 0.0, 0.0]  # "Sunny in Paris"
    assert df["length"].notna().all()
    out = capsys.readouterr().out
    assert "contains" in out and "length" in out  # the side-by-side table of the scores
    for name in ("seeded", "cases", "length", "df", "Case", "FunctionModel"):
        ip.user_ns.pop(name, None)


def test_score_takes_a_dict_variable_and_a_dataframe_of_cases(ip: InteractiveShell) -> None:
    pd = pytest.importorskip("pandas")
    ip.user_ns["qs"] = pd.DataFrame({"input": ["Paris", "Lima"], "expected": ["Paris", "Lima"]})
    ip.user_ns["checks"] = {"named": lambda r, case: case.expected in r.final_output, "one": lambda r, i: 1}
    cell(ip, "--over qs --agent weather --score checks -o df --quiet", "Weather in {{item}}?")
    df = ip.user_ns.pop("df")
    assert df["named"].tolist() == [1.0, 1.0] and df["one"].tolist() == [1.0, 1.0]
    for name in ("qs", "checks"):
        ip.user_ns.pop(name)


@pytest.mark.parametrize(
    ("line", "body", "message"),
    [
        (
            "--agents weather --score exactt",
            "hi",
            "--score exactt: no ready scorer or variable of that name; did you mean exact?",
        ),
        ("--agents weather --score not_an_agent", "hi", "--score not_an_agent is a int, not a scorer"),
        ("--repeats 2", "hi", "--repeats applies to --agents/--over"),
        ("--seed 1", "hi", "--seed applies to --agents/--over"),
        ("--score exact", "hi", "--score applies to --agents/--over"),
        ("--agents weather --repeats 0", "hi", "--repeats must be >= 1, got 0"),
        ("--agents weather --seed -1", "hi", "--seed must be >= 0"),
        ("--over bad_cases --agent weather", "{{item}}", "inputs[1] has no 'input'"),
        ("--over no_input --agent weather", "{{item}}", "the DataFrame has no 'input' column"),
    ],
)
def test_compare_options_misuse_is_one_line(ip: InteractiveShell, line: str, body: str, message: str) -> None:
    pd = pytest.importorskip("pandas")
    ip.user_ns["bad_cases"] = [{"input": "a"}, {"prompt": "b"}]
    ip.user_ns["no_input"] = pd.DataFrame({"q": ["a", "b"]})
    with pytest.raises(UsageError) as info:
        cell(ip, line, body)
    assert message in str(info.value) and "\n" not in str(info.value)
    for name in ("bad_cases", "no_input"):
        ip.user_ns.pop(name)


# -- issue 22: --resume ----------------------------------------------------------------------------
def test_resume_takes_the_grid_s_finished_runs(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], session_history
) -> None:
    pytest.importorskip("pandas")
    ip.user_ns["towns"] = ["Paris", "Lima"]
    cell(ip, "--over towns --agents weather --quiet -o first", "Weather in {{item}}?")
    cell(ip, "--over towns --agents weather --quiet --resume -o again", "Weather in {{item}}?")
    first, again = ip.user_ns.pop("first"), ip.user_ns.pop("again")
    assert again["resumed"].tolist() == [True, True] and again["run_id"].tolist() == first["run_id"].tolist()
    assert "2 of 2 runs from history, running 0" in capsys.readouterr().err
    compare_id = session_history[first["run_id"][0]].metadata["compare_id"]
    cell(ip, f"--over towns --agents weather --quiet --resume {compare_id} -o by_id", "Weather in {{item}}?")
    assert ip.user_ns.pop("by_id")["resumed"].all()
    with pytest.raises(UsageError, match="--resume applies to --agents/--over"):
        cell(ip, "--agent weather --resume", "Hi")
    ip.user_ns.pop("towns")
