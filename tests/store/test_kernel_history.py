"""History in a real kernel: magic, API and compare runs recorded; a restart and a killed kernel."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from openstackai_nb.results import RunStatus
from openstackai_nb.store import RunHistory
from tests.notebook._kernel import Kernel, kernel_env

pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def _ok(ex) -> None:
    assert ex.error is None, ex.error and "\n".join(ex.error["traceback"])


def _settle(kernel: Kernel) -> None:
    """After a restart, wait (bounded) until the iopub channel delivers output again."""
    for _ in range(20):
        if "ready" in kernel.execute("print('ready')", timeout=30).stdout:
            return
        time.sleep(0.25)
    pytest.fail("the restarted kernel never delivered output")


def _json_out(ex) -> object:
    _ok(ex)
    return json.loads(ex.stdout.strip().splitlines()[-1])


def test_runs_survive_a_restart_and_a_killed_kernel(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    kernel = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(store)), str(tmp_path))
    try:
        _ok(kernel.execute("%load_ext openstackai_nb"))
        _ok(kernel.execute("%%agent --model scripted --quiet -o res\nFrom the magic: say 4 words"))
        _ok(
            kernel.execute(
                "from openstackai_nb import Agent, Runner, compare, history\n"
                "api = Runner.run_sync(Agent(name='Api', model='scripted'), 'From the API')\n"
                "a = Agent(name='<b>Bold</b>', model='scripted')\n"
                "df = compare([a, Agent(name='Other', model='scripted')], ['x', 'y'])\n"
            )
        )
        before = _json_out(kernel.execute("import json; print(json.dumps([[r.input, r.agent_name] for r in history]))"))
        assert len(before) == 6
        assert before[0] == ["From the magic: say 4 words", before[0][1]] and before[1] == ["From the API", "Api"]
        shown = _json_out(kernel.execute("h = %agent history -n 3\nprint(json.dumps(h['input'].tolist()))"))
        assert shown == ["y", "x", "y"]

        # The compare progress table: one display, updated in place, escaped, final state saved.
        ex = kernel.execute("df2 = compare([a], ['z'])")
        _ok(ex)
        outs = ex.final_outputs()
        assert len(outs) == 1
        html = outs[0]["data"]["text/html"]
        assert "compare done: 1/1 runs" in html and "&lt;b&gt;Bold&lt;/b&gt;" in html and "<b>Bold" not in html
        assert "compare done" in outs[0]["data"]["text/plain"]

        # A slow run in flight when the kernel is killed (killed, then a new kernel).
        kernel.kc.execute(
            "from openstackai_nb.models.function import ScriptedModel\n"
            "Runner.run_sync(Agent(name='Slow', model=ScriptedModel(delay=0.05)), 'say 2000 words')\n"
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if store.exists() and len(RunHistory(store).filter(agent="Slow", status="RUNNING")) == 1:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the slow run never showed up as RUNNING")
        # SIGKILL the kernel process (no chance to clean up), then start a new kernel.
        os.kill(kernel.km.provisioner.process.pid, signal.SIGKILL)
        kernel.km.provisioner.process.wait(30)
        kernel.km.restart_kernel(now=True)
        kernel.kc.wait_for_ready(timeout=60)
        _settle(kernel)

        after = _json_out(
            kernel.execute(
                "import json\nfrom openstackai_nb import history\n"
                "print(json.dumps([[r.input, r.status.value, r.error] for r in history]))"
            )
        )
        assert [x[0] for x in after[:7]] == [x[0] for x in before] + ["z"]
        assert all(x[1] == "COMPLETED" for x in after[:7])
        assert after[7][0] == "say 2000 words" and after[7][1] == "FAILED" and after[7][2].startswith("interrupted:")
    finally:
        kernel.close()
    h = RunHistory(store)
    assert len(h) == 8 and h[-1].status is RunStatus.FAILED


def test_interrupting_compare_cancels_runs_and_keeps_the_finished_ones(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    kernel = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(store)), str(tmp_path))
    try:
        _ok(
            kernel.execute(
                "import asyncio\n"
                "from openstackai_nb import Agent, compare\n"
                "from openstackai_nb.models.function import FunctionModel\n"
                "async def slow(messages, info):\n"
                "    if 'slow' in messages[-1].content:\n"
                "        await asyncio.sleep(60)\n"
                "    return 'done'\n"
                "agent = Agent(name='A', model=FunctionModel(slow))\n"
            )
        )
        msg_id = kernel.kc.execute("df = compare([agent], ['fast 1', 'fast 2', 'slow 1', 'slow 2'], concurrency=2)")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if store.exists() and len(RunHistory(store).filter(status="RUNNING")) == 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the slow runs never showed up as RUNNING")
        kernel.km.interrupt_kernel()
        reply = kernel.kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kernel.kc.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        statuses = _json_out(
            kernel.execute(
                "import json\nfrom openstackai_nb import history\n"
                "print(json.dumps({r.input: r.status.value for r in history}))"
            )
        )
        assert statuses == {"fast 1": "COMPLETED", "fast 2": "COMPLETED", "slow 1": "CANCELLED", "slow 2": "CANCELLED"}
        assert _json_out(kernel.execute("print(json.dumps('df' in globals()))")) is False
    finally:
        kernel.close()


def test_deleting_the_store_folder_while_the_kernel_runs(tmp_path: Path) -> None:
    # The default store: .openstackai_nb/history.sqlite in the kernel's working directory.
    kernel = Kernel(kernel_env(), str(tmp_path))
    folder = tmp_path / ".openstackai_nb"
    try:
        _ok(
            kernel.execute(
                "from openstackai_nb import Agent, Runner, history\n"
                "before = Runner.run_sync(Agent(name='Before', model='scripted'), 'one')\n"
            )
        )
        assert (folder / "history.sqlite").exists()
        shutil.rmtree(folder)  # the file, its -wal and -shm, while the kernel has them open

        ex = kernel.execute(
            "import json\n"
            "after = Runner.run_sync(Agent(name='After', model='scripted'), 'two')\n"
            "later = Runner.run_sync(Agent(name='Later', model='scripted'), 'three')\n"
            "print(json.dumps([after.run_id, later.run_id, [r.agent_name for r in history]]))"
        )
        after, later, seen = _json_out(ex)  # type: ignore[misc]
        stderr = "".join(m["content"]["text"] for m in ex.of_type("stream") if m["content"]["name"] == "stderr")
        assert stderr.count("was deleted while this process had it open") == 1, stderr
        assert "runs from now on go to the new file" in stderr
        assert seen == ["After", "Later"]  # the kernel shows what the file holds
    finally:
        kernel.close()
    # A new kernel (here: this process) sees the runs made after the deletion.
    assert [r.run_id for r in RunHistory(folder / "history.sqlite")] == [after, later]
