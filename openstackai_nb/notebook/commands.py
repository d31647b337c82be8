"""The `%agent` line commands (`%agent config | agents | last | history | trace | diff | record | replay | mcp`).

`LineCommands` is a mixin of `magics.AgentMagics`: its `agent_line` dispatches `%agent WORD ...` to
`_cmd_WORD(rest)`. Each command shows only scrubbed text and turns our errors into one-line
UsageErrors.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from openstackai_nb._secrets import scrub, shown
from openstackai_nb.notebook.options import default_model
from openstackai_nb.notebook.settings_view import settings_view, without_credentials
from openstackai_nb.notebook.tables import inert_frame
from openstackai_nb.notebook.usage_errors import as_usage_errors, for_display

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["LineCommands"]


class LineCommands:
    """What `%agent WORD` does, for each WORD (mixed into the magics)."""

    last: RunResult | None
    replay_path: str | None

    @property
    def _ns(self) -> dict[str, Any]:
        raise NotImplementedError

    def _cmd_config(self, rest: list[str]) -> Any:
        model, note = default_model()
        base = without_credentials(os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1 (default)")
        key = "set" if os.environ.get("OPENAI_API_KEY") else "not set"
        rows = [
            ("model", f"replay:{self.replay_path}" if self.replay_path else model),
            ("base URL", base),
            ("OPENAI_API_KEY", key),
            ("history", os.environ.get("OPENSTACKAI_NB_HISTORY") or ".openstackai_nb/history.sqlite (default)"),
        ]
        if note:
            rows.append(("note", note))
        return settings_view(rows)

    def _cmd_agents(self, rest: list[str]) -> Any:
        from openstackai_nb.agent import Agent

        found = {k: v for k, v in self._ns.items() if isinstance(v, Agent) and not k.startswith("_")}
        if not found:
            print("No Agents in this notebook yet: agent = Agent(name=..., instructions=..., tools=[...])")
            return None
        for var, agent in found.items():
            # An MCP server's tools are known once connected: the listing names the server.
            sources = [f"MCP server {s.label or type(s).__name__}" for s in agent.mcp_servers]
            tools = ", ".join([t.name for t in agent.tools] + sources) or "no tools"
            print(shown(f"{var}: {agent.name!r} · {agent.model_name} · {tools}"))
        return None

    def _cmd_last(self, rest: list[str]) -> None:
        from IPython.display import display

        from openstackai_nb import render

        if rest:
            raise UsageError("usage: %agent last")
        display(render.run_bundle(for_display(self._last_run("%agent last"))), raw=True)

    def _cmd_history(self, rest: list[str]) -> Any:
        n = 10
        if rest:
            if len(rest) != 2 or rest[0] != "-n" or not rest[1].isdigit():
                raise UsageError("usage: %agent history [-n N]")
            n = int(rest[1])
        from openstackai_nb.store import get_history

        with as_usage_errors():  # shown now: control characters inert (the history keeps the text)
            return inert_frame(get_history().to_dataframe().tail(n))

    def _cmd_trace(self, rest: list[str]) -> None:
        from IPython.display import display

        from openstackai_nb import render

        if len(rest) > 1:
            raise UsageError("usage: %agent trace [RUN_ID]")
        result = self._run_for_trace(rest[0] if rest else None)
        display(render.trace_bundle(result), raw=True)

    def _run_for_trace(self, run_id: str | None) -> RunResult:
        """The run named, else the same run `%agent last` shows."""
        from openstackai_nb.store import get_history

        if run_id is None:
            return self._last_run("%agent trace")
        try:
            with as_usage_errors():
                return get_history()[run_id]
        except KeyError:
            raise UsageError(f"%agent trace: no run {scrub(run_id)!r} in the history; see %agent history") from None

    def _last_run(self, command: str) -> RunResult:
        """The last %%agent run of this kernel, else the history's newest run, which a line names.

        `%agent last` and `%agent trace` both use it, so after a kernel restart they show the
        same run, and say that it is the history's (maybe another agent's, or a compare run).
        """
        if self.last is not None:
            return self.last
        from openstackai_nb.store import get_history

        with as_usage_errors():
            newest = get_history().last(1)
        if not newest:
            raise UsageError(f"{command}: no run yet, in this kernel or in the history; run a %%agent cell")
        result = newest[0]
        when = result.started_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        print(
            scrub(
                f"{command}: no %%agent run in this kernel yet; showing the newest run of the history "
                f"({result.run_id}, agent {result.agent_name!r}, started {when})"
            )
        )
        return result

    def _cmd_diff(self, rest: list[str]) -> Any:
        if len(rest) != 2:
            raise UsageError(
                "usage: %agent diff RUN_A RUN_B: two run ids (or unique starts of them, see %agent history), "
                "'last' for the run %agent last shows, or history indices such as -2 -1"
            )
        from openstackai_nb.comparison import diff_runs

        runs: list[RunResult | str | int] = [self._run_for_diff(word) for word in rest]

        def wording(text: str) -> str:
            return text.replace("diff_runs: a=", "%agent diff: RUN_A ").replace("diff_runs: b=", "%agent diff: RUN_B ")

        with as_usage_errors(wording):
            return diff_runs(runs[0], runs[1])

    def _run_for_diff(self, word: str) -> RunResult | str | int:
        """'last': the run `%agent last` shows; '-2': a history index; else a run id or its start."""
        if word == "last":
            return self._last_run("%agent diff")
        if word.lstrip("-").isdigit():
            return int(word)
        return word

    def _cmd_record(self, rest: list[str]) -> None:
        from openstackai_nb.models import recording

        if len(rest) != 1:
            raise UsageError("usage: %agent record PATH  |  %agent record stop")
        if rest[0] == "stop":
            recording.stop_recording()
            print("recording stopped")
        else:
            recording.start_recording(rest[0])
            print(f"recording model exchanges to {rest[0]}")

    def _cmd_replay(self, rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError("usage: %agent replay PATH  |  %agent replay off")
        if rest[0] == "off":
            self.replay_path = None
            print("replay off: cells use their usual model again")
            return
        if not os.path.exists(rest[0]):
            raise UsageError(f"%agent replay: no cassette at {rest[0]}")
        self.replay_path = rest[0]
        print(f"replaying {rest[0]}: %%agent cells without --model use model 'replay:{rest[0]}'")

    def _cmd_mcp(self, rest: list[str]) -> None:
        if rest:
            raise UsageError("usage: %agent mcp")
        from openstackai_nb.mcp import connected

        servers = connected()
        if not servers:
            print("No MCP server connected: a run of an Agent(tools=[MCPServer.stdio(...)]) starts its servers")
        for server in servers:
            count = f"{len(server.tools)} tool{'' if len(server.tools) == 1 else 's'}"
            print(shown(f"{server.label} ({server.transport}, {count}): {', '.join(server.tools)}"))
