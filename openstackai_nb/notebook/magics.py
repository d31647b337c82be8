"""`%%agent` and `%agent`: run agents from notebook cells.

`%load_ext openstackai_nb` registers `AgentMagics`; `%unload_ext openstackai_nb` removes it.
A `%%agent` cell starts one run on the private run loop (`Runner.start`, the runner's public
face) and reads its events in the kernel's main thread (`driver.py`), where the kernel's
interrupt button arrives as KeyboardInterrupt: the run is then cancelled and ends CANCELLED with
what streamed so far. The live view (`widgets.py`) only displays events, and takes your
decision about tool calls that wait for approval: a run whose agent may ask for one (and names
no approver of its own) gets a `DeferredApprover` that the live view's buttons
answer; such a cell awaits while it follows the run, so that the clicks reach the kernel
(`approvals.py` says why, and how the `%%agent` cell becomes an awaiting one).

User mistakes (unknown option or agent, empty cell, bad limits or names, unterminated quotes,
missing key, a damaged history store) raise IPython's `UsageError`, which a notebook shows as one
line without a traceback; they are found before anything runs. A run that starts and then fails
(an unreachable endpoint, a timeout) ends FAILED and its view shows the error, where a limit's
advice names the magic's option (``%%agent --timeout-per-turn S``) instead of ``RunConfig(...)``.
Every message and view is scrubbed of secrets (`_secrets.scrub`).
"""

from __future__ import annotations

import inspect
import keyword
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from openstackai_nb._secrets import scrub
from openstackai_nb.notebook.commands import LineCommands
from openstackai_nb.notebook.options import OVER_ACCEPTS, VALUE_OPTIONS, default_model, split_names, unquote
from openstackai_nb.notebook.placeholders import interpolate, summarise
from openstackai_nb.notebook.provenance import cassette_of, provenance
from openstackai_nb.notebook.settings_view import MarkdownText
from openstackai_nb.notebook.tables import inert_frame, scrubbed_frame
from openstackai_nb.notebook.usage_errors import as_usage_errors, for_display, in_magic_terms

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.messages import Message
    from openstackai_nb.results import RunResult

__all__ = [
    "AgentMagics",
    "MarkdownText",
    "default_model",
    "in_magic_terms",
    "interpolate",
    "load",
    "summarise",
    "unload",
]


def _parse(line: str) -> Any:
    try:
        args = parse_argstring(AgentMagics.agent_cell, line)
    except ValueError as exc:  # shlex: "No closing quotation" and the like
        raise UsageError(f"%%agent options: {exc} in {scrub(line).strip()!r}; close each quote you open") from None
    except UsageError as exc:  # argparse: an unknown option, a missing or bad value
        raise UsageError(f"{scrub(str(exc))}; see %%agent?") from None
    for name in ("agent", "model", "instructions", "tools", "out", "agents", "over", "score"):
        setattr(args, name, unquote(getattr(args, name)))
    for name in VALUE_OPTIONS:
        value = getattr(args, name)
        if value is not None and not value.strip():
            option = "-o/--out" if name == "out" else f"--{name}"
            raise UsageError(f"{option} is empty; give it a value (see %%agent? for the options) or leave it out")
    if args.out is not None and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
        raise UsageError(f"-o {args.out}: not a variable name; use letters, digits and _ (e.g. -o result)")
    return args


@magics_class
class AgentMagics(LineCommands, Magics):
    """The `%%agent` cell magic and the `%agent` line magic."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.last: RunResult | None = None
        """The last run of a `%%agent` cell."""
        self.conversations: dict[str, list[Message]] = {}
        """Per agent name: the conversation `--chat` continues."""
        self.replay_path: str | None = None
        """Set by `%agent replay PATH`: later cells use model "replay:PATH"."""

    @property
    def _ns(self) -> dict[str, Any]:
        """The notebook's namespace."""
        if self.shell is None:  # pragma: no cover - magics are always registered on a shell
            raise UsageError("openstackai_nb magics need an IPython shell")
        return self.shell.user_ns

    # -- %%agent --------------------------------------------------------------------------------
    @magic_arguments("%agent")  # the help formatter adds one more %
    @argument("--agent", metavar="NAME", help="an Agent variable of the notebook (default: a new default agent)")
    @argument("--model", metavar="NAME", help='the model, e.g. "gpt-4o-mini", "ollama:llama3.2", "scripted"')
    @argument("--instructions", metavar="TEXT", help="the system instructions (quote them)")
    @argument("--tools", metavar="F,G", help="functions of the notebook the agent may call, comma-separated")
    @argument("-o", "--out", metavar="NAME", help="store the RunResult in this variable (also when it fails)")
    @argument("--force", action="store_true", help="let -o replace a variable that holds an Agent")
    @argument("--max-turns", type=int, metavar="N", help="RunConfig.max_turns (default 10)")
    @argument("--max-time", type=float, metavar="S", help="RunConfig.max_time in seconds (default 300)")
    @argument(
        "--timeout-per-turn", type=float, metavar="S", help="RunConfig.timeout_per_turn: seconds per model turn (60)"
    )
    @argument(
        "--cache",
        nargs="?",
        const="on",
        choices=("on", "read", "write", "off"),
        metavar="MODE",
        help="answer model calls from the response cache (on, read, write, off; default: OPENSTACKAI_NB_CACHE)",
    )
    @argument("--chat", action="store_true", help="continue the previous conversation of this agent")
    @argument("--quiet", action="store_true", help="no live view; store the result (-o) silently")
    @argument("--agents", metavar="A,B,C", help="run the prompt on several Agents in parallel, side by side")
    @argument(
        "--over",
        metavar="NAME",
        help="run the prompt for each item of a list, tuple, Series or Index ({{item}}), or each case "
        "of a list of dicts / Case objects or a DataFrame with an 'input' column",
    )
    @argument("--repeats", type=int, default=1, metavar="N", help="runs of each agent on each item (1)")
    @argument("--seed", type=int, metavar="S", help="send seed S + repeat with each run's request")
    @argument(
        "--score", metavar="NAMES", help="score each run: ready scorers (exact, contains, numeric, regex) or variables"
    )
    @argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CMP_ID",
        help="take the runs of this grid already finished in history (or of compare CMP_ID) and run the rest",
    )
    @argument("--concurrency", type=int, default=8, metavar="N", help="parallel runs for --agents/--over (8)")
    @argument(
        "--scheduler", choices=("local", "dask"), default="local", help="where --agents/--over run: here, or on Dask"
    )
    @cell_magic("agent")
    def agent_cell(self, line: str, cell: str) -> Any:
        """Run the cell body as the prompt of an agent, streaming the answer and the tool calls.

        `{{name}}` in the prompt is replaced by the variable `name` (DataFrames and long values
        are summarised); single braces are left alone. Without --agent and --model the model is
        OPENSTACKAI_NB_MODEL, else gpt-4o-mini when OPENAI_API_KEY or OPENAI_BASE_URL is set, else
        the offline scripted model. The kernel's interrupt button stops the run (CANCELLED).
        """
        args = _parse(line)
        prompt = (cell or "").strip()
        if not prompt:
            raise UsageError("%%agent needs a prompt: write it in the cell body, below the %%agent line")
        self._check_out(args)
        if args.agents or args.over:
            self._compare(args, prompt)
            return
        if args.scheduler != "local":
            raise UsageError("--scheduler applies to --agents/--over; a single %%agent run always runs in this kernel")
        for option, value, default in (("--repeats", args.repeats, 1), ("--seed", args.seed, None)):
            if value != default:
                raise UsageError(f"{option} applies to --agents/--over; a single %%agent cell runs once")
        if args.score:
            raise UsageError("--score applies to --agents/--over; score a single run with scorer(result, case)")
        if args.resume is not False:
            raise UsageError("--resume applies to --agents/--over; a single %%agent run is not a grid")
        agent, note = self._agent_for(args)
        prompt = interpolate(prompt, self._ns)
        following = self._run(agent, prompt, args, note)
        # A coroutine only in an awaiting cell (approvals.awaited awaits it); None otherwise.
        return following if inspect.iscoroutine(following) else None

    def _check_out(self, args: Any) -> None:
        """-o must not replace an Agent of the notebook (unless --force): checked before any run."""
        from openstackai_nb.agent import Agent

        if args.out and not args.force and isinstance(self._ns.get(args.out), Agent):
            raise UsageError(
                f"-o {args.out} would replace the Agent {args.out}; choose another name, or add --force to replace it"
            )

    def _agent_for(self, args: Any, name: str | None = None, option: str = "--agent") -> tuple[Agent, str]:
        from openstackai_nb.agent import Agent

        ns = self._ns
        note = ""
        changes: dict[str, Any] = {}
        name = name or args.agent
        if name:
            agent = ns.get(name)
            if not isinstance(agent, Agent):
                known = ", ".join(sorted(k for k, v in ns.items() if isinstance(v, Agent) and not k.startswith("_")))
                what = "is not an Agent" if name in ns else "is not defined"
                raise UsageError(f"{option} {name} {what}; Agents in this notebook: {known or 'none'}")
        else:
            agent = None
        if args.model:
            changes["model"] = args.model
        elif self.replay_path:
            changes["model"] = f"replay:{self.replay_path}"
        elif agent is None:
            changes["model"], note = default_model()
        if args.instructions is not None:
            changes["instructions"] = args.instructions
        if args.tools:
            tools = []
            for tname in split_names(args.tools):
                fn = ns.get(tname)
                if not callable(fn):
                    raise UsageError(f"--tools {tname}: no function named {tname} in this notebook")
                tools.append(fn)
            kept = [*agent.tools, *agent.mcp_servers] if agent is not None else []
            changes["tools"] = [*kept, *tools]
        with as_usage_errors():
            if agent is None:
                agent = Agent(**changes)
            elif changes:
                agent = agent.clone(**changes)
        return agent, note

    def _config(self, args: Any, **fields: Any) -> Any:
        from openstackai_nb.runner.config import RunConfig

        if args.max_turns is not None:
            fields["max_turns"] = args.max_turns
        if args.max_time is not None:
            fields["max_time"] = args.max_time
        if args.timeout_per_turn is not None:
            fields["timeout_per_turn"] = args.timeout_per_turn
        if args.cache is not None:
            fields["cache"] = {"on": True, "off": False}.get(args.cache, args.cache)
        with as_usage_errors(in_magic_terms):
            return RunConfig(**fields)

    def _run(self, agent: Agent, prompt: str, args: Any, note: str) -> Any:
        """Start the run and follow it; in an awaiting cell with approvals, return the coroutine that follows it."""
        from openstackai_nb.notebook import approvals, driver, widgets
        from openstackai_nb.runner import Runner
        from openstackai_nb.runner.approval import DeferredApprover

        # The live view decides about calls that wait for approval, unless the agent has its own approver.
        approver = DeferredApprover(name="you") if agent.may_require_approval and agent.approver is None else None
        config = self._config(args, **({"approver": approver} if approver is not None else {}))
        history = self.conversations.get(agent.name) if args.chat else None
        with as_usage_errors():
            handle = Runner.start(agent, prompt, config=config, history=history)
        buttons = approver is not None and approvals.in_awaited_cell()
        presenter = widgets.make_presenter(
            quiet=args.quiet, buttons=buttons, agent=agent.name, model=handle.model, note=note, approvals=approver
        )
        if getattr(presenter, "buttons", False):

            async def follow() -> None:  # returns nothing: the cell's value would be shown again
                self._ended(agent, args, note, handle, presenter, *await driver.drive_async(handle, presenter))

            return follow()
        return self._ended(agent, args, note, handle, presenter, *driver.drive(handle, presenter))

    def _ended(
        self,
        agent: Agent,
        args: Any,
        note: str,
        handle: Any,
        presenter: Any,
        result: RunResult | None,
        interrupted: bool,
    ) -> RunResult | None:
        """Store and show the run's end (the static copy replaces the live view)."""
        from openstackai_nb.notebook import widgets
        from openstackai_nb.results import RunStatus

        if result is None:
            # The task ended without its "done" event: a bug of ours, shown with its traceback.
            outcome = handle.outcome()
            if outcome is not None:
                raise outcome
            return None
        # Stored first, so that even a failing display (or a second interrupt) keeps the result.
        self.last = result
        if args.out:
            self._ns[args.out] = result
        if interrupted:
            note = f"{note} · interrupted" if note else "interrupted"
        if not args.quiet or result.status is not RunStatus.COMPLETED:
            if args.quiet:
                presenter = widgets.TextPresenter(bundle_at_end=widgets.is_jupyter())
            presenter.finish(for_display(result), note=note, metadata=provenance(result, cassette_of(agent)))
        if result.status is RunStatus.COMPLETED:
            self.conversations[agent.name] = result.history_messages()
        return result

    # -- --agents / --over ------------------------------------------------------------------------
    def _compare(self, args: Any, prompt: str) -> None:
        """`--agents a,b,c`: the prompt on each agent, side by side; `--over NAME`: once per item or case; both."""
        from openstackai_nb.notebook.comparing import over_inputs, scorers_named

        ns = self._ns
        if args.chat:
            raise UsageError("--chat continues one conversation; it does not combine with --agents/--over")
        if args.concurrency < 1:
            raise UsageError(f"--concurrency must be >= 1, got {args.concurrency}")
        if args.repeats < 1:
            raise UsageError(f"--repeats must be >= 1, got {args.repeats}")
        if args.seed is not None and args.seed < 0:
            raise UsageError(f"--seed must be >= 0, got {args.seed}")
        agents: dict[str, Agent] = {}
        if args.agents:
            names = split_names(args.agents)
            if not names:
                raise UsageError("--agents needs names of Agents, e.g. --agents fast,careful")
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise UsageError(f"--agents names {', '.join(twice)} more than once; name each Agent once")
            for name in names:
                agents[name] = self._agent_for(args, name, "--agents")[0]
        else:
            agent = self._agent_for(args)[0]
            agents[args.agent or agent.name] = agent
        if args.over:
            if args.over not in ns:
                raise UsageError(f"--over {args.over} is not defined: {OVER_ACCEPTS} of the notebook")
            inputs: list[Any] = over_inputs(args.over, ns[args.over], prompt, ns)
        else:
            inputs = [interpolate(prompt, ns)]
        score = scorers_named(args.score, ns) if args.score else None
        try:
            from openstackai_nb import comparison
        except ImportError as exc:  # pandas is needed for the table
            raise UsageError(f"--agents/--over need pandas: pip install 'openstackai-nb[pandas]' ({exc})") from None
        config = self._config(args)
        # ImportError: --scheduler dask without the [dask] extra
        with as_usage_errors(also=(ImportError,)):
            df = comparison.compare(
                agents,
                inputs,
                concurrency=args.concurrency,
                config=config,
                progress=not args.quiet,
                scheduler=args.scheduler,
                repeats=args.repeats,
                seed=args.seed,
                score=score,
                resume=args.resume,
            )
        # The table is scrubbed of secrets like the history it mirrors: -o stores it so, since
        # displaying the variable later goes through pandas, not through our scrubber.
        df = scrubbed_frame(df)
        if args.out:
            ns[args.out] = df
        if not args.quiet:
            from IPython.display import display

            scores = [c for c in df.columns if c in (score or {}) or c.split(".")[0] in (score or {})]
            if args.agents:
                table = comparison.side_by_side(df, scores if len(scores) > 1 else (scores or ["final_output"])[0])
            else:
                table = df[["input", *(["repeat"] if args.repeats > 1 else []), "status", "final_output", *scores]]
            display(inert_frame(table))

    # -- %agent -----------------------------------------------------------------------------------
    @line_magic("agent")
    def agent_line(self, line: str) -> Any:
        """Settings and runs of openstackai-nb.

        Usage:
          %agent config            the resolved model, base URL, whether a key is set (never its value)
          %agent agents            the Agents defined in this notebook
          %agent last              show the last %%agent run again
          %agent history [-n N]    the last N runs of the history (a DataFrame, default 10)
          %agent trace [RUN_ID]    a run's spans as a waterfall (default: the last %%agent run)
          %agent diff RUN_A RUN_B  two runs side by side, where they first diverge, their tool paths
                                   (ids or unique starts of them, 'last', or history indices: -2 -1)
          %agent record PATH       record model exchanges to a cassette file
          %agent record stop       stop recording
          %agent replay PATH       later %%agent cells (without --model) replay PATH offline
          %agent replay off        stop replaying
          %agent mcp               the connected MCP servers and their tools
        """
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%agent: {exc}") from None
        if not words:
            raise UsageError(_LINE_USAGE)
        command, rest = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            raise UsageError(f"%agent {command}: unknown subcommand. {_LINE_USAGE}")
        return handler(rest)


# Options are spelled out: argparse's abbreviations would take `--max-turn 1` as --max-turns and
# make a new option that shares a prefix (--max-t...) silently change what old cells mean.
# IPython's MagicArgumentParser takes no allow_abbrev argument; argparse reads it when parsing.
AgentMagics.agent_cell.parser.allow_abbrev = False  # pyright: ignore[reportFunctionMemberAccess]

_LINE_USAGE = (
    "Usage: %agent config | agents | last | history [-n N] | trace [RUN_ID] | diff RUN_A RUN_B | record PATH|stop"
    " | replay PATH|off | mcp"
)


def load(ip: Any) -> None:
    """Register the magics on an IPython shell (`%load_ext openstackai_nb`).

    Also registers the input transformer that makes a `%%agent` cell an awaiting one in a kernel
    where that lets the live view take approval clicks (`approvals.await_agent_cells`).
    """
    from openstackai_nb.notebook.approvals import await_agent_cells

    ip.register_magics(AgentMagics)
    cleanup = getattr(ip, "input_transformers_cleanup", None)  # before IPython reads the `%%agent` line
    if cleanup is not None and await_agent_cells not in cleanup:
        cleanup.append(await_agent_cells)


def unload(ip: Any) -> None:
    """Remove the magics from an IPython shell (`%unload_ext openstackai_nb`)."""
    manager = ip.magics_manager
    for kind in ("line", "cell"):
        if manager.magics[kind].get("agent") is not None:
            owner = getattr(manager.magics[kind]["agent"], "__self__", None)
            if isinstance(owner, AgentMagics):
                del manager.magics[kind]["agent"]
    for name in [n for n, m in manager.registry.items() if isinstance(m, AgentMagics)]:
        del manager.registry[name]
    from openstackai_nb.notebook.approvals import await_agent_cells

    cleanup = getattr(ip, "input_transformers_cleanup", None)
    if cleanup is not None and await_agent_cells in cleanup:
        cleanup.remove(await_agent_cells)
