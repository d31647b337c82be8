"""Commands that agree: `%agent last` and `%agent trace`, and options spelled out.

`%agent last` and `%agent trace` both show the last `%%agent` run of the kernel; in a kernel that
has none (a fresh or restarted one) both show the history's newest run, with one line naming it;
with no run anywhere both say so (a real kernel, a real restart). `%%agent` options are taken
only as written: an abbreviation is an unknown option, and that error points at `%%agent?`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from openstackai_nb.notebook import magics
from openstackai_nb.notebook.magics import AgentMagics
from tests.notebook._kernel import Execution, Kernel, kernel_env


def _ok(ex: Execution) -> Execution:
    assert ex.error is None and ex.reply.get("status") == "ok", ex.reply
    return ex


def _usage_error(ex: Execution) -> str:
    assert ex.reply["status"] == "error" and ex.reply["ename"] == "UsageError", ex.reply
    return ex.reply["evalue"]


def _settle(kernel: Kernel) -> None:
    """After a restart, wait (bounded) until the iopub channel delivers output again."""
    for _ in range(20):
        if "ready" in kernel.execute("print('ready')", timeout=30).stdout:
            return
        time.sleep(0.25)
    pytest.fail("the restarted kernel never delivered output")


def _shown(ex: Execution) -> str:
    """The text/plain of what the command displayed (one display)."""
    outs = _ok(ex).displayed()
    assert len(outs) == 1, outs
    return outs[0]["data"]["text/plain"]


@pytest.mark.kernel
@pytest.mark.slow
def test_last_and_trace_show_the_same_run_before_and_after_a_restart(tmp_path: Path) -> None:
    kernel = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp_path / "history.sqlite")), str(tmp_path))
    try:
        _ok(kernel.execute("%load_ext openstackai_nb\nimport json\nfrom openstackai_nb import Agent, Runner"))
        # No run anywhere: both say so, in the same words.
        none_last = _usage_error(kernel.execute("%agent last"))
        none_trace = _usage_error(kernel.execute("%agent trace"))
        assert none_last == "%agent last: no run yet, in this kernel or in the history; run a %%agent cell"
        assert none_trace == none_last.replace("%agent last", "%agent trace")

        _ok(kernel.execute("%%agent --model scripted --quiet -o mine\nFrom the cell"))
        # A later run that is not a %%agent cell's (an API run of another agent; a compare run is the same).
        ex = _ok(
            kernel.execute(
                "other = Runner.run_sync(Agent(name='Other', model='scripted'), 'From the API')\n"
                "print(json.dumps([mine.run_id, other.run_id]))"
            )
        )
        mine, other = json.loads(ex.stdout.strip().splitlines()[-1])

        # In this kernel: the %%agent cell's run, without a note.
        last, trace = kernel.execute("%agent last"), kernel.execute("%agent trace")
        assert "From the cell" in _shown(last) and _shown(trace).startswith(f"Trace of {mine} ")
        assert last.stdout == trace.stdout == ""

        kernel.km.restart_kernel(now=True)
        kernel.kc.wait_for_ready(timeout=60)
        _settle(kernel)
        _ok(kernel.execute("%load_ext openstackai_nb"))

        # After the restart: both show the history's newest run (the other agent's) and say so.
        last, trace = kernel.execute("%agent last"), kernel.execute("%agent trace")
        assert "From the API" in _shown(last) and _shown(trace).startswith(f"Trace of {other} ")
        said = [ex.stdout.strip() for ex in (last, trace)]
        for command, line in zip(("%agent last", "%agent trace"), said, strict=True):
            assert line.startswith(
                f"{command}: no %%agent run in this kernel yet; showing the newest run of the history "
            )
            assert f"({other}, agent 'Other', started 20" in line and line.endswith(" UTC)")
        assert said[0].partition(";")[2] == said[1].partition(";")[2]

        # A %%agent run in the new kernel: both show it again, without a note.
        _ok(kernel.execute("%%agent --model scripted --quiet\nAfter the restart"))
        last, trace = kernel.execute("%agent last"), kernel.execute("%agent trace")
        assert "After the restart" in _shown(last) and "Trace of " in _shown(trace)
        assert last.stdout == trace.stdout == ""
        assert other not in _shown(trace)
    finally:
        kernel.close()


# -- options are spelled out ------------------------------------------------------------------------
def _long_options() -> list[str]:
    parser = AgentMagics.agent_cell.parser  # type: ignore[attr-defined]
    return sorted(o for a in parser._actions for o in a.option_strings if o.startswith("--"))


def test_an_abbreviated_option_is_an_unknown_option() -> None:
    with pytest.raises(UsageError) as caught:
        magics._parse("--max-turn 1")
    assert str(caught.value) == "unrecognized arguments: --max-turn 1; see %%agent?"
    options = _long_options()
    assert "--max-turns" in options and "--timeout-per-turn" in options
    for option in options:
        for end in range(3, len(option)):
            prefix = option[:end]
            if prefix in options:
                continue
            with pytest.raises(UsageError, match=r"unrecognized arguments: .*; see %%agent\?$"):
                magics._parse(f"{prefix} 1")


def test_options_as_written_still_parse() -> None:
    args = magics._parse("--max-turns=2 --max-time 3 --timeout-per-turn 4 -o r --quiet")
    assert (args.max_turns, args.max_time, args.timeout_per_turn, args.out, args.quiet) == (2, 3.0, 4.0, "r", True)


@pytest.mark.parametrize(
    ("line", "start"),
    [
        ("--frobnicate", "unrecognized arguments: --frobnicate"),
        ("--max-turns x", "argument --max-turns: invalid int value: 'x'"),
        ("--max-turns", "argument --max-turns: expected one argument"),
        ("--scheduler nowhere", "argument --scheduler: invalid choice: 'nowhere'"),
    ],
)
def test_an_option_error_ends_with_where_to_look(line: str, start: str) -> None:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "openstackai_nb")
    try:
        with pytest.raises(UsageError) as caught:
            shell.run_cell_magic("agent", f"{line} --model scripted", "hi")
    finally:
        shell.run_line_magic("unload_ext", "openstackai_nb")
    assert str(caught.value).startswith(start) and str(caught.value).endswith("; see %%agent?")
