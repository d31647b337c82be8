"""Agent's arguments: the name by position, everything else by keyword, and approval's two settings."""

from __future__ import annotations

import pickle

import pytest

from openstackai_nb import Agent, tool
from openstackai_nb.errors import ConfigError
from openstackai_nb.mcp import MCPServer


def search(query: str) -> str:
    """Search the web."""
    return f"results for {query}"


def test_only_the_name_goes_by_position() -> None:
    agent = Agent("Researcher", instructions="Be brief.", tools=[search], model="scripted")
    assert (agent.name, agent.instructions, [t.name for t in agent.tools]) == ("Researcher", "Be brief.", ["search"])
    assert Agent().name == "Assistant"


@pytest.mark.parametrize("args", [("a", "be brief"), ("a", "be brief", [search]), ("a", "b", [search], "scripted")])
def test_more_positional_arguments_are_a_type_error_naming_the_keywords(args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError) as caught:
        Agent(*args)  # type: ignore[misc]
    message = str(caught.value)
    assert message.startswith(f"Agent() takes only the name by position, got {len(args)} positional arguments")
    assert "Agent('a', instructions=..., tools=[...], model=...)" in message
    for keyword in ("instructions", "tools", "model", "model_settings", "output_type", "requires_approval", "approver"):
        assert keyword in message


def test_an_agent_still_pickles_and_clones() -> None:
    # __new__ checks the positional arguments; pickling (Dask sends agents by value) makes one without any.
    agent = Agent("A", model="scripted", requires_approval=True)
    copy = pickle.loads(pickle.dumps(agent))
    assert repr(copy) == repr(agent) == "Agent(name='A', model='scripted', requires_approval=True)"
    assert agent.clone(name="B").requires_approval()


def test_requires_approval_with_and_without_a_tool() -> None:
    gated, plain = tool(search, name="gated", requires_approval=True), tool(search)
    agent = Agent("A", tools=[gated, plain])
    assert agent.requires_approval(gated) and not agent.requires_approval(plain)
    assert not agent.requires_approval()  # not every call: only the gated tool's
    assert agent.may_require_approval
    every = agent.clone(requires_approval=True)
    assert every.requires_approval(plain) and every.requires_approval()
    assert not Agent("B", tools=[plain]).may_require_approval
    server = MCPServer.stdio("true", requires_approval=["delete"])
    assert Agent("C", tools=[server]).may_require_approval  # an MCP server's setting counts


def test_the_approver_is_kept_and_shown() -> None:
    def policy(request: object) -> bool:
        return True

    agent = Agent("A", approver=policy)
    assert agent.approver is policy and not agent.requires_approval()
    assert repr(agent) == "Agent(name='A', model='gpt-4o-mini', approver=policy)"


def test_bad_values_name_the_argument() -> None:
    with pytest.raises(ConfigError, match="Agent requires_approval must be True"):
        Agent("A", requires_approval=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Agent approver must be a function"):
        Agent("A", approver="me")  # type: ignore[arg-type]


def test_help_shows_the_real_signature() -> None:
    # __new__ takes (*args, **kwargs) to word its error; `Agent?` and IDEs still show __init__'s.
    import inspect

    params = inspect.signature(Agent).parameters
    assert list(params)[:3] == ["name", "instructions", "tools"]
    assert params["name"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(params.values())[1:])


def test_a_subclass_with_its_own_init_takes_its_own_arguments() -> None:
    class Named(Agent):
        def __init__(self, name: str, role: str) -> None:
            super().__init__(name, instructions=f"You are the {role}.")

    class Plain(Agent):
        pass

    assert Named("Bo", "reviewer").instructions == "You are the reviewer."
    with pytest.raises(TypeError, match="takes only the name by position"):
        Plain("a", "b")  # type: ignore[misc]
