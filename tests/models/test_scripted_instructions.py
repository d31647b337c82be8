"""The scripted model follows a few words of the agent's instructions, visibly and deterministically."""

from __future__ import annotations

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.models.function import ScriptedModel


def get_weather(city: str) -> str:
    """Today's weather for a city.

    Args:
        city: the city's name.
    """
    return f"Sunny, 21 C in {city}"


def answer(instructions: str, prompt: str = "What is the weather in Paris?", *, tools: bool = True) -> str:
    agent = Agent(name="A", instructions=instructions, tools=[get_weather] if tools else [], model="scripted")
    result = Runner.run_sync(agent, prompt)
    assert result.status is RunStatus.COMPLETED, result.error
    return str(result.final_output)


PLAIN_TOOLS = "Here is what the tools found:\n\n- **get_weather** returned: Sunny, 21 C in Paris\n\nDone."


@pytest.mark.parametrize(
    "instructions",
    ["", "You are helpful.", "You are a concise travel helper. Use the tools.", "Shorten nothing; be explicit."],
)
def test_instructions_without_the_words_keep_the_usual_answers(instructions: str) -> None:
    assert answer(instructions) == PLAIN_TOOLS
    echoed = answer(instructions, "Hi!", tools=False)
    assert echoed.startswith("You asked: Hi!\n\nThis answer comes from the offline *scripted* model")


@pytest.mark.parametrize("instructions", ["Be terse.", "Be BRIEF.", "Answer in one line.", "Keep it short."])
def test_brevity_gives_one_sentence(instructions: str) -> None:
    assert answer(instructions) == "get_weather: Sunny, 21 C in Paris."
    assert answer(instructions, "Hi!", tools=False) == "You asked: Hi!"


@pytest.mark.parametrize("instructions", ["Say more.", "Be detailed.", "Explain your answer.", "Elaborate."])
def test_detail_adds_an_explanation(instructions: str) -> None:
    text = answer(instructions)
    assert text.startswith(PLAIN_TOOLS.removesuffix("Done."))
    assert "How I got there: I called 1 tool (get_weather)" in text and text.endswith("\n\nDone.")
    echoed = answer(instructions, "Hi there!", tools=False)
    assert "In more detail: your message has 2 words and 9 characters." in echoed


def test_brevity_wins_over_detail() -> None:
    assert answer("Be brief, but explain.") == "get_weather: Sunny, 21 C in Paris."


def test_french_and_uppercase_combine_with_length() -> None:
    french = answer("Answer in French.")
    assert (
        french
        == "Voici ce que les outils ont trouvé :\n\n- **get_weather** a renvoyé : Sunny, 21 C in Paris\n\nTerminé."
    )
    assert answer("Réponds en français.", "Salut", tools=False).startswith("Vous avez demandé : Salut\n\nCette réponse")
    assert answer("Shout!") == PLAIN_TOOLS.upper()
    assert answer("Be terse, in French, ALL CAPS.", "Hi!", tools=False) == "VOUS AVEZ DEMANDÉ : HI!"


def test_a_word_count_asked_for_wins_over_the_length_rules() -> None:
    for instructions in ("Be brief.", "Say more."):
        assert len(answer(instructions, "Write 12 words", tools=False).split()) == 12
    shouted = answer("uppercase", "Write 5 words", tools=False)
    assert shouted == shouted.upper() and len(shouted.split()) == 5


def test_same_instructions_same_answer_and_streaming_and_usage_unchanged() -> None:
    agent = Agent(name="A", instructions="Say more.", model=ScriptedModel())
    first, second = (Runner.run_sync(agent, "Hi!") for _ in range(2))
    assert first.final_output == second.final_output
    words = len(str(first.final_output).split())
    assert first.usage.completion_tokens == words and first.usage.prompt_tokens == 2 + 1  # "Say more." + "Hi!"
