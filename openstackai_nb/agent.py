"""Agent: a name, instructions, tools and a model."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, cast

from openstackai_nb._warnings import renamed
from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import FINAL_ANSWER_TOOL, ToolDefinition
from openstackai_nb.models import Model, default_model_name, resolve_model
from openstackai_nb.output.schema import OutputType
from openstackai_nb.tools import Approver, Tool, ToolSource, as_tool

__all__ = ["Agent"]


class Agent:
    """An LLM agent: instructions, tools from plain functions, and a model.

    Only the name may be given by position; every other argument is a keyword
    (`Agent("Calc", instructions=..., tools=[...])`).

    Args:
        name: shown in history and views.
        instructions: the system message.
        tools: functions (sync or async) or `tool()` objects the model may call, and MCP servers
            (`MCPServer.stdio(...)`, `MCPServer.http(...)`) whose tools are offered next to them.
        model: a model name ("gpt-4o-mini", "ollama:llama3.2", "scripted", "replay:PATH")
            or a Model object; default `OPENSTACKAI_NB_MODEL`, else "gpt-4o-mini".
        model_settings: extra request fields (temperature, max_tokens...).
        output_type: the type of the answer: a pydantic model class, a dataclass, a TypedDict or
            a type such as int or list[str]. `RunResult.final_output` is then the validated
            object (the model's text stays in `output_text`). None or str: a text answer.
        requires_approval: every tool call of this agent (MCP tools too) waits for approval
            before it runs, as if each tool were `tool(requires_approval=True)`. False (default):
            only the tools (and MCP servers) marked `requires_approval` wait.
        approver: decides about this agent's calls that wait for approval: a function, sync or
            async, of an `ApprovalRequest` that returns a `Decision` (or True/False), unless the
            run's `RunConfig(approver=...)` names another. None (default): the run's approver,
            or in a `%%agent` cell the live view's buttons. It decides; it does not make calls
            wait (that is `requires_approval`).
        approve: deprecated, the old name of both: `approve=True` is `requires_approval=True`,
            `approve=fn` is `requires_approval=True, approver=fn` (a DeprecationWarning says so).

    Raises:
        ConfigError: an argument has a value that cannot work (the message names it).
        TypeError: an argument other than the name was given by position.

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     '''Add two numbers.'''
        ...     return a + b
        >>> Agent(name="Calc", instructions="Use tools.", tools=[add], model="scripted")
        Agent(name='Calc', model='scripted', tools=['add'])
    """

    __signature__: ClassVar[inspect.Signature]
    """`__init__`'s signature, which help(Agent), `Agent?` and IDEs show (not `__new__`'s)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Agent:
        """Refuse arguments after the name given by position, with a TypeError that names the keywords.

        `Agent("a", "b", [f])` would be read in the order of a signature the reader cannot see.
        """
        if len(args) > 1 and cls.__init__ is Agent.__init__:  # a subclass with its own __init__ decides its own
            raise TypeError(
                f"Agent() takes only the name by position, got {len(args)} positional arguments: pass the "
                f"others by keyword, e.g. Agent({args[0]!r}, instructions=..., tools=[...], model=...) "
                f"(keywords: {', '.join(_KEYWORDS)})"
            )
        return super().__new__(cls)

    def __init__(
        self,
        name: str = "Assistant",
        *,
        instructions: str = "You are a helpful assistant.",
        tools: Iterable[Callable[..., Any] | Tool | ToolSource] = (),
        model: str | Model | None = None,
        model_settings: Mapping[str, Any] | None = None,
        output_type: Any = None,
        requires_approval: bool = False,
        approver: Approver | None = None,
        approve: bool | Approver | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"Agent name must be a non-empty string, got {name!r}")
        if not isinstance(instructions, str):
            raise ConfigError(f"Agent instructions must be a string, got {type(instructions).__name__}")
        if model is not None and not isinstance(model, str | Model):
            raise ConfigError(f"Agent model must be a name or a Model object, got {type(model).__name__}")
        if approve is not None:
            renamed("Agent(approve=...)", "Agent(requires_approval=True) and, for a function, Agent(approver=fn)")
            requires_approval, approver = _from_approve(approve, requires_approval, approver)
        if not isinstance(requires_approval, bool):
            raise ConfigError(
                "Agent requires_approval must be True (every tool call waits for approval) or False, "
                f"got {type(requires_approval).__name__}: {requires_approval!r:.80}"
            )
        if approver is not None and not callable(approver):
            raise ConfigError(
                "Agent approver must be a function that decides (returns a Decision or True/False), or None; "
                f"got {type(approver).__name__}: {approver!r:.80}"
            )
        self.name = name
        self.instructions = instructions
        self._requires_approval = requires_approval
        self.approver: Approver | None = approver
        """The agent's own approver (`approver=`), else None: the run's approver decides."""
        tools = list(tools)
        self.mcp_servers: list[ToolSource] = [t for t in tools if isinstance(t, ToolSource)]
        """The MCP servers among `tools`: their tools are listed when a run starts (`resolve_tools`)."""
        self.tools: list[Tool] = [as_tool(t) for t in tools if not isinstance(t, ToolSource)]
        """The Python tools."""
        seen: set[str] = set()
        for t in self.tools:
            if t.name in seen:
                raise ConfigError(f"Agent {name!r} has two tools named {t.name!r}: give one tool(name=...)")
            seen.add(t.name)
        self.model = model
        self.model_settings = dict(model_settings or {})
        self._resolved: Model | None = model if isinstance(model, Model) else None
        self.output_type = output_type
        self._output = None if output_type is None or output_type is str else OutputType(output_type)
        if self._output is not None and FINAL_ANSWER_TOOL in seen:
            raise ConfigError(
                f"Agent {name!r} has a tool named {FINAL_ANSWER_TOOL!r}, the name of the tool that gives a typed "
                "answer (output_type=...): give it another name with tool(name=...)"
            )

    def requires_approval(self, tool: Tool | None = None) -> bool:
        """True when a call of `tool` waits for approval: the tool asks for it, or the agent does for every tool.

        Without a tool: True when every call of this agent waits (`Agent(requires_approval=True)`).
        Whether some call may wait (a tool's or an MCP server's own setting): `may_require_approval`.
        """
        return self._requires_approval or (tool is not None and tool.requires_approval)

    @property
    def may_require_approval(self) -> bool:
        """True when some call of this agent may wait for approval (its own setting, its tools', its MCP servers')."""
        if self._requires_approval:
            return True
        return any(t.requires_approval for t in self.tools) or any(
            getattr(s, "requires_approval", False) for s in self.mcp_servers
        )

    @property
    def may_ask_approval(self) -> bool:
        """Deprecated: the old name of `may_require_approval`."""
        renamed("Agent.may_ask_approval", "Agent.may_require_approval")
        return self.may_require_approval

    @property
    def approve(self) -> bool | Approver | None:
        """Deprecated: the old `approve=` value (True, the approver or None): `requires_approval()` and `approver`."""
        renamed("Agent.approve", "Agent.requires_approval() and Agent.approver")
        if not self._requires_approval:
            return None
        return self.approver if self.approver is not None else True

    @property
    def model_name(self) -> str:
        """The model's name as given (resolved lazily)."""
        if isinstance(self.model, Model):
            return self.model.name
        return self.model or default_model_name()

    def get_model(self, *, cache: Callable[[Model], Model] | None = None) -> Model:
        """Resolve the model (once); ConfigError for unknown names or missing keys.

        Args:
            cache: wraps the model so that its calls are answered from the response cache (the
                runner passes it for a run that uses the cache).

        The run's observers may wrap it further as the run starts (`RunObserver.wrap_model`: the
        cassette's `RecordingModel` while `%agent record` or `models.replay.recording` is on).
        """
        if self._resolved is None:
            self._resolved = resolve_model(self.model)
        return cache(self._resolved) if cache is not None else self._resolved

    @property
    def output(self) -> OutputType | None:
        """The output_type's schema and validator (None for a text answer); its TypeAdapter is built on first use."""
        return self._output

    def tool_definitions(self) -> list[ToolDefinition]:
        """What the model is told about the Python tools (a run adds the MCP servers' own)."""
        return [t.definition for t in self.tools]

    async def resolve_tools(self) -> list[Tool]:
        """Every tool a run on this event loop offers: the Python tools, then each MCP server's.

        A server is started (or connected to) and its tools listed once per event loop; later
        runs on the same loop share that session.

        Raises:
            ConfigError: two tools have the same name (the message names both owners).
            openstackai_nb.mcp.MCPServerError: a server could not be started or reached.
        """
        if not self.mcp_servers:
            return list(self.tools)
        listed = await asyncio.gather(*(server.list_tools() for server in self.mcp_servers))
        owners = {t.name: f"the Python tool {t.name!r}" for t in self.tools}
        tools = list(self.tools)
        for server, served in zip(self.mcp_servers, listed, strict=True):
            for t in served:
                owner = f"the tool {t.name!r} of MCP server {server.label!r}"
                if t.name in owners:
                    raise ConfigError(
                        f"Agent {self.name!r} has two tools named {t.name!r}: {owners[t.name]} and {owner}; "
                        "give the server a prefix (MCPServer.stdio(..., prefix='name')) or rename the Python "
                        "tool (tool(fn, name=...))"
                    )
                owners[t.name] = owner
                tools.append(t)
        return tools

    def clone(self, **changes: Any) -> Agent:
        """A copy with some fields changed, e.g. `agent.clone(model="ollama:llama3.2")`."""
        fields: dict[str, Any] = {
            "name": self.name,
            "instructions": self.instructions,
            "tools": [*self.tools, *self.mcp_servers],
            "model": self.model,
            "model_settings": self.model_settings,
            "output_type": self.output_type,
            "requires_approval": self._requires_approval,
            "approver": self.approver,
        }
        if "approve" in changes:
            renamed("Agent.clone(approve=...)", "clone(requires_approval=True) and, for a function, clone(approver=fn)")
            # The old keyword set both: it replaces the agent's own setting and approver.
            gated, approver = changes.get("requires_approval", False), changes.get("approver")
            changes["requires_approval"], changes["approver"] = _from_approve(changes.pop("approve"), gated, approver)
        fields.update(changes)
        return Agent(**fields)

    def __repr__(self) -> str:
        tools = f", tools={[t.name for t in self.tools]}" if self.tools else ""
        output = f", output_type={self._output.name}" if self._output is not None else ""
        servers = f", mcp_servers={self.mcp_servers!r}" if self.mcp_servers else ""
        gated = ", requires_approval=True" if self._requires_approval else ""
        who = getattr(self.approver, "__name__", None) or type(self.approver).__name__
        approver = f", approver={who}" if self.approver is not None else ""
        return f"Agent(name={self.name!r}, model={self.model_name!r}{tools}{output}{servers}{gated}{approver})"


_INIT = inspect.signature(Agent.__init__)
Agent.__signature__ = _INIT.replace(parameters=list(_INIT.parameters.values())[1:], return_annotation=_INIT.empty)

_KEYWORDS = tuple(p.name for p in _INIT.parameters.values() if p.kind is p.KEYWORD_ONLY and p.name != "approve")
"""Agent's keyword-only arguments (but the deprecated one), named by the error for positional ones."""


def _from_approve(approve: Any, requires_approval: bool, approver: Approver | None) -> tuple[bool, Approver | None]:
    """The deprecated `approve=` as (requires_approval, approver): True gates every call, a function also decides."""
    if approve is None or isinstance(approve, bool):
        return requires_approval or bool(approve), approver
    if callable(approve):
        if approver is not None and approver is not approve:
            raise ConfigError("Agent got both approve= (deprecated) and approver=: give only approver=fn")
        return True, cast("Approver", approve)
    raise ConfigError(
        "Agent approve must be True (every tool call waits for approval), a function that decides "
        f"(returns a Decision or True/False), or None; got {type(approve).__name__}: {approve!r:.80}"
    )
