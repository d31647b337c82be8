"""Offline models that opt in: `FunctionModel(fn, cacheable=True)` and `ScriptedModel(cacheable=True)`."""

from __future__ import annotations

from typing import Any

import pytest

from openstackai_nb import Agent, Runner, compare, tool
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import AgentInfo, FunctionModel, ScriptedModel, call
from openstackai_nb.runner import RunConfig

ON = RunConfig(cache=True)


class Counted:
    """A model function that counts its calls (what a cache hit saves)."""

    def __init__(self, answer: str = "computed answer") -> None:
        self.calls = 0
        self.answer = answer

    def __call__(self, messages: Any, info: AgentInfo) -> str:
        self.calls += 1
        return f"{self.answer} {info.settings.get('seed', '')}".strip()


def test_a_function_model_is_not_cached_by_default() -> None:
    fn = Counted()
    agent = Agent(name="F", model=FunctionModel(fn, name="pipeline"))
    first = Runner.run_sync(agent, "hi", config=ON)
    second = Runner.run_sync(agent, "hi", config=ON)
    assert fn.calls == 2 and (first.cached_calls, second.cached_calls) == (0, 0)
    assert all(s.attributes.get("cache_hit") is not True for s in second.trace)


def test_a_cacheable_function_model_is_answered_from_the_cache() -> None:
    fn = Counted()
    agent = Agent(name="F", model=FunctionModel(fn, name="pipeline", cacheable=True))
    first = Runner.run_sync(agent, "hi", config=ON)
    second = Runner.run_sync(agent, "hi", config=ON)
    assert fn.calls == 1  # the hit did not call the function
    assert first.final_output == second.final_output == "computed answer"
    assert (first.cached_calls, second.cached_calls) == (0, 1)
    assert [s.attributes["cache_hit"] for s in second.trace if s.kind == "model"] == [True]
    assert second.usage.requests == 0 and second.cached_usage is not None and second.cached_usage.requests == 1
    # Without the cache in the run's config, it is asked as usual.
    Runner.run_sync(agent, "hi")
    assert fn.calls == 2


def test_the_key_holds_the_name_and_the_request_not_the_code() -> None:
    fn = Counted()
    Runner.run_sync(Agent(name="F", model=FunctionModel(fn, name="pipeline", cacheable=True)), "hi", config=ON)
    # Another prompt, other instructions, another seed: misses.
    Runner.run_sync(Agent(name="F", model=FunctionModel(fn, name="pipeline", cacheable=True)), "ho", config=ON)
    Runner.run_sync(
        Agent(name="F", instructions="Be brief.", model=FunctionModel(fn, name="pipeline", cacheable=True)),
        "hi",
        config=ON,
    )
    Runner.run_sync(
        Agent(name="F", model=FunctionModel(fn, name="pipeline", cacheable=True)),
        "hi",
        config=RunConfig(cache=True, model_settings={"seed": 3}),
    )
    assert fn.calls == 4
    # A changed function under the same name is a hit: the key cannot see code (hence: rename it).
    changed = Counted("a new answer")
    same_name = Runner.run_sync(
        Agent(name="F", model=FunctionModel(changed, name="pipeline", cacheable=True)), "hi", config=ON
    )
    assert changed.calls == 0 and same_name.final_output == "computed answer"
    renamed = Runner.run_sync(
        Agent(name="F", model=FunctionModel(changed, name="pipeline-v2", cacheable=True)), "hi", config=ON
    )
    assert changed.calls == 1 and renamed.final_output == "a new answer"


def test_tools_still_run_on_a_hit() -> None:
    ran: list[str] = []

    @tool
    def simulate(city: str) -> str:
        """Run the simulator."""
        ran.append(city)
        return f"sunny in {city}"

    def fn(messages: Any, info: AgentInfo) -> Any:
        if info.turn == 1:
            return call("simulate", city="Paris")
        return f"It is {messages[-1].content}."

    agent = Agent(name="T", tools=[simulate], model=FunctionModel(fn, name="sim", cacheable=True))
    first = Runner.run_sync(agent, "weather?", config=ON)
    second = Runner.run_sync(agent, "weather?", config=ON)
    assert ran == ["Paris", "Paris"]
    assert second.final_output == first.final_output == "It is sunny in Paris."
    assert (first.cached_calls, second.cached_calls) == (0, 2)


def test_a_cacheable_scripted_grid_is_served_from_the_cache() -> None:
    model = ScriptedModel(cacheable=True)
    agents = [
        Agent(name="careful", instructions="Be careful: check your work.", model=model),
        Agent(name="quick", instructions="Answer quickly.", model=model),
    ]
    cases = [f"What is {a} + {a * 3}?" for a in range(1, 5)]
    cold = compare(agents, cases, repeats=3, seed=10, cache=True, progress=False)
    warm = compare(agents, cases, repeats=3, seed=10, cache=True, progress=False)
    assert cold["cached_calls"].sum() == 0 and warm["cached_calls"].eq(1).all()
    assert warm["final_output"].tolist() == cold["final_output"].tolist()
    # The repeats are distinct samples (their seed and repeat index are in the key), not one answer.
    quick = cold[cold.agent == "quick"]
    assert quick.groupby("case_id")["final_output"].nunique().max() > 1


def test_scripted_and_function_models_of_one_name_do_not_share_answers() -> None:
    fn = Counted()
    scripted = Runner.run_sync(Agent(name="S", model=ScriptedModel(cacheable=True)), "What is 2 + 2?", config=ON)
    fake = Runner.run_sync(
        Agent(name="S", model=FunctionModel(fn, name="scripted", cacheable=True)), "What is 2 + 2?", config=ON
    )
    assert fn.calls == 1 and fake.cached_calls == 0 and fake.final_output != scripted.final_output


@pytest.mark.parametrize(
    "make", [lambda v: FunctionModel(Counted(), cacheable=v), lambda v: ScriptedModel(cacheable=v)]
)
def test_cacheable_must_be_a_bool(make: Any) -> None:
    with pytest.raises(ConfigError, match="cacheable must be True or False, got 'yes'"):
        make("yes")
