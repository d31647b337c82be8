"""`%%agent` and `%agent`: run agents from notebook cells.

`%load_ext openstackai_nb` registers `AgentMagics`; `%unload_ext openstackai_nb` removes it.
A `%%agent` cell builds one run of the run loop (`runner.executor._Run`), starts it on the
private run loop (`runner._sync.start_events`) and reads its events in the kernel's main thread,
where the kernel's interrupt button arrives as KeyboardInterrupt: the run is then cancelled and
ends CANCELLED with what streamed so far. The live view (`widgets.py`) only displays events.

User mistakes (unknown option or agent, empty cell, bad limits or names, unterminated quotes,
missing key, a damaged history store) raise IPython's `UsageError`, which a notebook shows as one
line without a traceback; they are found before anything runs. A run that starts and then fails
(an unreachable endpoint, a timeout) ends FAILED and its view shows the error, where a limit's
advice names the magic's option (``%%agent --timeout-per-turn S``) instead of ``RunConfig(...)``.
Every message and view is scrubbed of secrets (`_secrets.scrub`).
"""

from __future__ import annotations

import keyword
import numbers
import os
import re
import shlex
import sys
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from openstackai_nb._secrets import scrub

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

OFFLINE_NOTE = "offline scripted model (set OPENAI_API_KEY or OPENAI_BASE_URL for a real one)"
SUMMARY_CHARS = 4000
"""Longest text a `{{name}}` substitution puts into a prompt."""
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def default_model() -> tuple[str, str]:
    """Return the model a `%%agent` cell uses when none is named, and a note for the status line.

    `OPENSTACKAI_NB_MODEL` if set; else "gpt-4o-mini" when `OPENAI_API_KEY` or `OPENAI_BASE_URL`
    is set; else the offline "scripted" model (with a note saying so).
    """
    env = os.environ.get("OPENSTACKAI_NB_MODEL")
    if env:
        return env, ""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        from openstackai_nb.models import DEFAULT_MODEL

        return DEFAULT_MODEL, ""
    return "scripted", OFFLINE_NOTE


def summarise(value: Any, limit: int = SUMMARY_CHARS) -> str:
    """Return `value` as prompt text of at most about `limit` characters.

    A DataFrame or Series becomes its first rows as text (with its shape), a long string is cut,
    anything else is its str (cut as well). pandas is never imported here.
    """
    if isinstance(value, str):
        text = value
    elif hasattr(value, "head") and hasattr(value, "to_string") and hasattr(value, "shape"):
        shape = "x".join(str(n) for n in value.shape)
        text = f"{value.head(10).to_string()}\n[{type(value).__name__}, shape {shape}]"
    else:
        text = str(value)
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit} more characters]"
    return text


def interpolate(prompt: str, namespace: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """Replace each `{{name}}` in `prompt` by a bounded summary of `namespace[name]`.

    Single braces (code, JSON, f-string examples) pass through untouched.

    Raises:
        UsageError: a `{{name}}` names no variable.
    """
    extra = extra or {}

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in extra:
            return summarise(extra[name])
        if name not in namespace:
            raise UsageError(f"{{{{{name}}}}} in the prompt names no variable: define {name} first")
        return summarise(namespace[name])

    return _PLACEHOLDER.sub(sub, prompt)


def _unquote(text: str | None) -> str | None:
    # IPython splits magic lines the non-POSIX way, which keeps the quotes around a value.
    if text and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


_VALUE_OPTIONS = ("agent", "model", "tools", "out", "agents", "over")
"""Options whose value names something: an empty value is a mistake (--instructions "" is not)."""
_LIMIT_OPTIONS = {"max_turns": "--max-turns N", "max_time": "--max-time S", "timeout_per_turn": "--timeout-per-turn S"}
"""RunConfig fields the magic sets, and the option (with its metavar) that sets each."""


def _parse(line: str) -> Any:
    try:
        args = parse_argstring(AgentMagics.agent_cell, line)
    except ValueError as exc:  # shlex: "No closing quotation" and the like
        raise UsageError(f"%%agent options: {exc} in {scrub(line).strip()!r}; close each quote you open") from None
    for name in ("agent", "model", "instructions", "tools", "out", "agents", "over"):
        setattr(args, name, _unquote(getattr(args, name)))
    for name in _VALUE_OPTIONS:
        value = getattr(args, name)
        if value is not None and not value.strip():
            option = "-o/--out" if name == "out" else f"--{name}"
            raise UsageError(f"{option} is empty; give it a value (see %%agent? for the options) or leave it out")
    if args.out is not None and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
        raise UsageError(f"-o {args.out}: not a variable name; use letters, digits and _ (e.g. -o result)")
    return args


_ADVICE = re.compile(r"(?i)\b(raise )?RunConfig\((\w+)=\.\.\.\)")


def in_magic_terms(text: str) -> str:
    """Rewrite advice about `RunConfig(...)` fields into the `%%agent` options that set them.

    Example:
        >>> in_magic_terms("max_time=5s exceeded; raise RunConfig(max_time=...) for slow models")
        'max_time=5s exceeded; raise it with %%agent --max-time S for slow models'
    """

    def advice(m: re.Match[str]) -> str:
        option = _LIMIT_OPTIONS.get(m.group(2))
        if option is None:
            return m.group(0)
        return f"{m.group(1)}it with %%agent {option}" if m.group(1) else f"%%agent {option}"

    text = _ADVICE.sub(advice, text)

    def invalid(m: re.Match[str]) -> str:
        option = _LIMIT_OPTIONS.get(m.group(1))
        return f"%%agent {option.split()[0]} " if option else m.group(0)

    return re.sub(r"invalid RunConfig: (\w+)=", invalid, text)


def _for_display(result: RunResult) -> RunResult:
    """The result as a magic shows it: a limit's advice names the magic's option."""
    if not result.error:
        return result
    error = in_magic_terms(result.error)
    return result if error == result.error else result.model_copy(update={"error": error})


_OVER_ACCEPTS = "--over takes a list, tuple, pandas Series or Index of strings or numbers"


def _over_items(name: str, value: Any) -> list[Any]:
    """The items of `--over NAME`, or a one-line UsageError saying what --over accepts."""
    kind = type(value).__name__
    pandas = sys.modules.get("pandas")
    ok = isinstance(value, list | tuple) or (
        pandas is not None
        and isinstance(value, pandas.Series | pandas.Index)
        and not isinstance(value, pandas.MultiIndex)
    )
    if not ok:
        raise UsageError(f"--over {name} is a {kind}; {_OVER_ACCEPTS} (e.g. {name} = ['first', 'second'])")
    items = list(value)
    for i, item in enumerate(items):
        if not _is_scalar(item):
            raise UsageError(f"--over {name}: item {i} is a {type(item).__name__}; {_OVER_ACCEPTS}")
    return items


def _is_scalar(item: Any) -> bool:
    if item is None or isinstance(item, str | bytes | numbers.Number | date | time | timedelta):
        return True
    # numpy scalars (np.str_, np.datetime64, ...) without importing numpy
    return type(item).__module__ == "numpy" and getattr(item, "ndim", None) == 0


def _split_names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@magics_class
class AgentMagics(Magics):
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
    @argument("--chat", action="store_true", help="continue the previous conversation of this agent")
    @argument("--quiet", action="store_true", help="no live view; store the result (-o) silently")
    @argument("--agents", metavar="A,B,C", help="run the prompt on several Agents in parallel, side by side")
    @argument(
        "--over", metavar="NAME", help="run the prompt for each item of a list, tuple, Series or Index ({{item}})"
    )
    @argument("--concurrency", type=int, default=8, metavar="N", help="parallel runs for --agents/--over (8)")
    @argument(
        "--scheduler", choices=("local", "dask"), default="local", help="where --agents/--over run: here, or on Dask"
    )
    @cell_magic("agent")
    def agent_cell(self, line: str, cell: str) -> None:
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
        agent, note = self._agent_for(args)
        prompt = interpolate(prompt, self._ns)
        self._run(agent, prompt, args, note)

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
            for tname in _split_names(args.tools):
                fn = ns.get(tname)
                if not callable(fn):
                    raise UsageError(f"--tools {tname}: no function named {tname} in this notebook")
                tools.append(fn)
            changes["tools"] = [*(agent.tools if agent is not None else ()), *tools]
        from openstackai_nb.errors import AgentError

        try:
            if agent is None:
                agent = Agent(**changes)
            elif changes:
                agent = agent.clone(**changes)
        except AgentError as exc:
            raise UsageError(str(exc)) from None
        return agent, note

    def _config(self, args: Any) -> Any:
        from openstackai_nb.errors import AgentError
        from openstackai_nb.runner.config import RunConfig

        fields = {}
        if args.max_turns is not None:
            fields["max_turns"] = args.max_turns
        if args.max_time is not None:
            fields["max_time"] = args.max_time
        if args.timeout_per_turn is not None:
            fields["timeout_per_turn"] = args.timeout_per_turn
        try:
            return RunConfig(**fields)
        except AgentError as exc:
            raise UsageError(" ".join(in_magic_terms(str(exc)).split())) from None

    def _run(self, agent: Agent, prompt: str, args: Any, note: str) -> RunResult | None:
        from openstackai_nb.errors import AgentError
        from openstackai_nb.notebook import widgets
        from openstackai_nb.results import RunStatus
        from openstackai_nb.runner import _sync
        from openstackai_nb.runner.executor import _Run

        config = self._config(args)
        history = self.conversations.get(agent.name) if args.chat else None
        try:
            run = _Run(agent, prompt, config, None, history)
        except AgentError as exc:
            raise UsageError(str(exc)) from None  # AgentError messages are scrubbed
        presenter = widgets.make_presenter(quiet=args.quiet, agent=agent.name, model=run.model.name, note=note)
        stream = _sync.start_events(lambda emit: run.execute(emit))
        result, interrupted = widgets.drive(stream, presenter)
        if result is None:
            # The task ended without its "done" event: a bug of ours, shown with its traceback.
            outcome = stream.outcome()
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
            presenter.finish(_for_display(result), note=note)
        if result.status is RunStatus.COMPLETED:
            self.conversations[agent.name] = result.history_messages()
        return result

    # -- --agents / --over ------------------------------------------------------------------------
    def _compare(self, args: Any, prompt: str) -> None:
        """`--agents a,b,c`: the prompt on each agent, side by side; `--over NAME`: once per item."""
        ns = self._ns
        if args.agents and args.over:
            raise UsageError("use either --agents or --over, not both")
        if args.chat:
            raise UsageError("--chat continues one conversation; it does not combine with --agents/--over")
        if args.concurrency < 1:
            raise UsageError(f"--concurrency must be >= 1, got {args.concurrency}")
        agents: dict[str, Agent] = {}
        if args.agents:
            names = _split_names(args.agents)
            if not names:
                raise UsageError("--agents needs names of Agents, e.g. --agents fast,careful")
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise UsageError(f"--agents names {', '.join(twice)} more than once; name each Agent once")
            for name in names:
                agents[name] = self._agent_for(args, name, "--agents")[0]
            inputs = [interpolate(prompt, ns)]
        else:
            if args.over not in ns:
                raise UsageError(f"--over {args.over} is not defined: {_OVER_ACCEPTS} of the notebook")
            items = _over_items(args.over, ns[args.over])
            if not items:
                raise UsageError(f"--over {args.over} is empty")
            if not re.search(r"\{\{\s*item\s*\}\}", prompt):
                raise UsageError("--over needs {{item}} in the prompt, where each item goes")
            agent = self._agent_for(args)[0]
            agents[args.agent or agent.name] = agent
            inputs = [interpolate(prompt, ns, {"item": item}) for item in items]
        try:
            from openstackai_nb import comparison
        except ImportError as exc:  # pandas is needed for the table
            raise UsageError(f"--agents/--over need pandas: pip install 'openstackai-nb[pandas]' ({exc})") from None
        from openstackai_nb.errors import AgentError

        config = self._config(args)
        try:
            scheduler = comparison.DaskScheduler() if args.scheduler == "dask" else None
            df = comparison.compare(
                agents,
                inputs,
                concurrency=args.concurrency,
                config=config,
                progress=not args.quiet,
                scheduler=scheduler,
            )
        except (AgentError, ImportError) as exc:  # ImportError: --scheduler dask without the [dask] extra
            raise UsageError(str(exc)) from None
        # The table is scrubbed of secrets like the history it mirrors: -o stores it so, since
        # displaying the variable later goes through pandas, not through our scrubber.
        df = _scrubbed_frame(df)
        if args.out:
            ns[args.out] = df
        if not args.quiet:
            from IPython.display import display

            display(comparison.side_by_side(df) if args.agents else df[["input", "status", "final_output"]])

    # -- %agent -----------------------------------------------------------------------------------
    @line_magic("agent")
    def agent_line(self, line: str) -> Any:
        """Settings and runs of openstackai-nb.

        Usage:
          %agent config            the resolved model, base URL, whether a key is set (never its value)
          %agent agents            the Agents defined in this notebook
          %agent last              show the last %%agent run again
          %agent history [-n N]    the last N runs of the history (a DataFrame, default 10)
          %agent record PATH       record model exchanges to a cassette file
          %agent record stop       stop recording
          %agent replay PATH       later %%agent cells (without --model) replay PATH offline
          %agent replay off        stop replaying
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

    def _cmd_config(self, rest: list[str]) -> Any:
        from openstackai_nb import render

        model, note = default_model()
        base = _without_credentials(os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1 (default)")
        key = "set" if os.environ.get("OPENAI_API_KEY") else "not set"
        rows = [
            ("model", f"replay:{self.replay_path}" if self.replay_path else model),
            ("base URL", base),
            ("OPENAI_API_KEY", key),
            ("history", os.environ.get("OPENSTACKAI_NB_HISTORY") or ".openstackai_nb/history.sqlite (default)"),
        ]
        if note:
            rows.append(("note", note))
        shown = [(k, render.preview(scrub(v), 200)) for k, v in rows]
        table = "\n".join(f"| {k} | {v} |" for k, v in shown)
        markdown = "| setting | value |\n|---|---|\n" + table.replace("<", "&lt;").replace(">", "&gt;")
        width = max(len(k) for k, _ in shown)
        return MarkdownText(markdown, "\n".join(f"{k.ljust(width)}  {v}" for k, v in shown))

    def _cmd_agents(self, rest: list[str]) -> Any:
        from openstackai_nb.agent import Agent

        found = {k: v for k, v in self._ns.items() if isinstance(v, Agent) and not k.startswith("_")}
        if not found:
            print("No Agents in this notebook yet: agent = Agent(name=..., instructions=..., tools=[...])")
            return None
        for var, agent in found.items():
            tools = ", ".join(t.name for t in agent.tools) or "no tools"
            print(f"{var}: {agent.name!r} · {agent.model_name} · {tools}")
        return None

    def _cmd_last(self, rest: list[str]) -> None:
        from IPython.display import display

        from openstackai_nb import render

        result = self.last
        if result is None:
            raise UsageError("no %%agent run yet in this session")
        display(render.run_bundle(_for_display(result)), raw=True)

    def _cmd_history(self, rest: list[str]) -> Any:
        n = 10
        if rest:
            if len(rest) != 2 or rest[0] != "-n" or not rest[1].isdigit():
                raise UsageError("usage: %agent history [-n N]")
            n = int(rest[1])
        import openstackai_nb
        from openstackai_nb.errors import HistoryError

        try:
            return openstackai_nb.history.to_dataframe().tail(n)
        except HistoryError as exc:
            raise UsageError(" ".join(str(exc).split())) from None

    def _cmd_record(self, rest: list[str]) -> None:
        replay = self._replay_module()
        if len(rest) != 1:
            raise UsageError("usage: %agent record PATH  |  %agent record stop")
        if rest[0] == "stop":
            replay.stop_recording()
            print("recording stopped")
        else:
            replay.start_recording(rest[0])
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

    def _replay_module(self) -> Any:
        from openstackai_nb.models import replay

        if not hasattr(replay, "start_recording"):
            raise UsageError("%agent record needs the cassette recorder, which is not available yet")
        return replay


def _without_credentials(url: str) -> str:
    """`url` with any user:password part shown as [REDACTED] (a password need not look like a key)."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if not sep or "@" not in host:
        return url
    return f"{scheme}://[REDACTED]@{host.rpartition('@')[2]}{slash}{path}"


class MarkdownText:
    """A display that is markdown in Jupyter and readable text in a terminal (`%agent config`).

    Args:
        markdown: what a notebook shows (`_repr_markdown_`).
        text: what terminal IPython and plain Python print (`repr`).
    """

    def __init__(self, markdown: str, text: str) -> None:
        self.data = markdown
        """The markdown (as `IPython.display.Markdown.data`)."""
        self.text = text
        """The plain text."""

    def _repr_markdown_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def _scrubbed_frame(frame: Any) -> Any:
    """A copy of a DataFrame whose strings (cells, row and column labels) are scrubbed, to display."""
    from pandas import MultiIndex
    from pandas.api.types import is_numeric_dtype

    from openstackai_nb._secrets import scrub_data

    def clean(value: Any) -> Any:
        return scrub_data(value) if isinstance(value, str | list | dict) else value

    out = frame.map(clean)
    for axis in ("index", "columns"):
        labels = getattr(frame, axis)
        if not isinstance(labels, MultiIndex) and not is_numeric_dtype(labels):
            setattr(out, axis, labels.map(clean))
    return out


_LINE_USAGE = "Usage: %agent config | agents | last | history [-n N] | record PATH|stop | replay PATH|off"


def load(ip: Any) -> None:
    """Register the magics on an IPython shell (`%load_ext openstackai_nb`)."""
    ip.register_magics(AgentMagics)


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
