"""The run loop's parts: every attribute of a run exists once it is made, and the limits on their own."""

from __future__ import annotations

import asyncio

from openstackai_nb import Agent
from openstackai_nb.runner import RunConfig
from openstackai_nb.runner._limits import RunLimits, TurnTimeout
from openstackai_nb.runner.executor import _Run  # pyright: ignore[reportPrivateUsage]
from tests._aio import arun


def test_a_run_gains_no_attribute_while_it_executes() -> None:
    run = _Run(Agent(name="A", model="scripted"), "hi", RunConfig(observers=[]), None, None)
    made = dict(vars(run))
    parts = {name: vars(part).copy() for name, part in made.items() if hasattr(part, "__dict__")}
    result = arun(run.execute())
    assert result.final_output and set(vars(run)) == set(made)
    assert {name: set(vars(made[name])) for name in parts} == {name: set(p) for name, p in parts.items()}
    assert run.turns.tool_calls is run.tool_calls and run.tool_calls.clock is run.limits.clock


def test_the_nearer_limit_sets_a_turn_s_deadline_and_names_itself() -> None:
    async def deadlines() -> tuple[str, str]:
        limits = RunLimits(RunConfig(max_time=5, timeout_per_turn=60))
        limits.start(asyncio.get_running_loop().time())
        first = limits.next_turn()[1]
        limits = RunLimits(RunConfig(max_time=300, timeout_per_turn=1))
        limits.start(asyncio.get_running_loop().time())
        return first, limits.next_turn()[1]

    assert arun(deadlines()) == ("max_time", "timeout_per_turn")
    limits = RunLimits(RunConfig(timeout_per_turn=2.5))
    message = limits.timeout_message(TurnTimeout("timeout_per_turn", "tool 'slow' (call_1)"), 3)
    assert message == (
        "timeout_per_turn=2.5s exceeded in turn 3 while waiting for tool 'slow' (call_1): the turn was "
        "stopped at the limit; raise RunConfig(timeout_per_turn=...) or make the tool return sooner"
    )
