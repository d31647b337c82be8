"""How long a session lives: across a kernel's cells (listed by `%agent mcp`), until the kernel or program exits."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mcp.conftest import SERVER
from tests.notebook._kernel import Kernel, kernel_env

SETUP = f"""
%load_ext openstackai_nb
import sys
from openstackai_nb import Agent, MCPServer
from openstackai_nb.models.function import call
from tests.mcp._models import calls
server = MCPServer.stdio(sys.executable, [{SERVER!r}, "--linger"])
agent = Agent(name="Tools", tools=[server], model=calls(call("pid")))
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited (its parent, the kernel, is gone)


@pytest.mark.kernel
def test_a_server_stays_up_across_cells_and_closes_at_kernel_shutdown(tmp_path: Path) -> None:
    kernel = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite")), str(tmp_path))
    pid_1 = "0"
    try:
        assert kernel.execute(SETUP).error is None
        none_yet = kernel.execute("%agent mcp")
        assert none_yet.stdout.startswith("No MCP server connected")
        agents = kernel.execute("%agent agents")  # the agent's server is named before it connects
        assert agents.stdout.strip().endswith(f"MCP server {sys.executable} {SERVER} --linger"), agents.stdout

        first = kernel.execute("%%agent --agent agent -o first\nWhich process?")
        assert first.error is None, first.error
        listed = kernel.execute("%agent mcp")
        assert listed.error is None, listed.error
        assert listed.stdout.strip() == (
            f"{sys.executable} {SERVER} --linger (stdio, 6 tools): add, shout, fail, hang, pid, die"
        )
        kernel.execute("%%agent --agent agent -o second\nWhich process again?")
        kernel.execute("def note(text: str) -> str:\n    'A Python tool.'\n    return text")
        kernel.execute("%%agent --agent agent --tools note -o third\nAnd with one more tool?")
        code = "for r in (first, second, third): print(r.status.value, r.tool_calls[0].result['result'])"
        lines = kernel.execute(code).stdout.splitlines()
        (status_1, pid_1), (status_2, pid_2), (status_3, pid_3) = (line.split() for line in lines)
        assert (status_1, status_2, status_3) == ("COMPLETED", "COMPLETED", "COMPLETED")
        assert pid_1 == pid_2 == pid_3 and _alive(int(pid_1))  # one server across cells
    finally:
        kernel.kc.stop_channels()
        kernel.km.shutdown_kernel(now=False)  # a graceful shutdown, as the notebook's "Shut down kernel"
    # The server ignores its closed stdin for 60 s ("--linger"): only the exit hook's close, which
    # ends its process group, stops it sooner.
    deadline = time.monotonic() + 30
    while _alive(int(pid_1)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(int(pid_1))


EXIT_SCRIPT = f"""
import asyncio, sys, threading
from openstackai_nb import Agent, MCPServer, Runner
from openstackai_nb.models.function import call
from tests.mcp._models import calls

loop = asyncio.new_event_loop()  # a loop of the program's own, in a thread of its own
threading.Thread(target=loop.run_forever, daemon=True).start()
agent = Agent(name="A", tools=[MCPServer.stdio(sys.executable, [{SERVER!r}, "--linger"])], model=calls(call("pid")))
result = asyncio.run_coroutine_threadsafe(Runner.run_async(agent, "go"), loop).result(60)
print(result.tool_calls[0].result["result"], flush=True)
"""


def test_a_program_that_exits_closes_its_servers(tmp_path: Path) -> None:
    # The session is on a loop of the program's own (not the run loop, which closes its tasks
    # itself): only the exit hook of openstackai_nb.mcp stops the lingering server.
    env = kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp_path / "h.sqlite"))
    out = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)
