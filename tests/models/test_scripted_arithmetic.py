"""The scripted model's arithmetic: a bare number, right 95% of the time with careful instructions, else 70%, seeded."""

from __future__ import annotations

import pytest

from openstackai_nb import Agent, Runner, RunStatus

CAREFUL = "Be careful: check your work."
QUICK = "Answer quickly."


def ask(prompt: str, instructions: str = QUICK, seed: int | None = None, **kw: object) -> str:
    settings = {} if seed is None else {"seed": seed}
    agent = Agent(name="Q", instructions=instructions, model="scripted", model_settings=settings, **kw)  # type: ignore[arg-type]
    result = Runner.run_sync(agent, prompt)
    assert result.status is RunStatus.COMPLETED, result.error
    return str(result.final_output)


def answers(instructions: str, prompt: str = "What is 17 + 25?", seeds: range = range(200)) -> list[str]:
    return [ask(prompt, instructions, seed) for seed in seeds]


def test_careful_instructions_are_right_more_often() -> None:
    careful, quick = answers(CAREFUL), answers(QUICK)
    rate = {name: sum(a == "42" for a in got) / len(got) for name, got in (("careful", careful), ("quick", quick))}
    assert 0.9 <= rate["careful"] <= 0.99 and 0.6 <= rate["quick"] <= 0.8, rate
    # One draw per (seed, question), shared by the agents: careful is right whenever quick is.
    assert all(c == "42" for c, q in zip(careful, quick, strict=True) if q == "42")
    wrong = {int(a) for a in quick if a != "42"}
    assert wrong and wrong <= {39, 40, 41, 43, 44, 45}


def test_the_same_seed_gives_the_same_answer_and_seeds_vary_it() -> None:
    assert answers(QUICK, seeds=range(30)) == answers(QUICK, seeds=range(30))
    assert len(set(answers(QUICK, seeds=range(30)))) > 1
    assert ask("What is 17 + 25?") == ask("What is 17 + 25?", seed=0)  # no seed: seed 0


@pytest.mark.parametrize(
    ("prompt", "right"),
    [("12*3", "36"), ("Compute 7 x 6.", "42"), ("10 / 4 =", "2.5"), ("what's 9 - 12?", "-3"), ("1.5 + 1", "2.5")],
)
def test_the_forms_of_a_question(prompt: str, right: str) -> None:
    assert right in answers(CAREFUL, prompt, range(10))


def test_division_by_zero_and_what_is_no_question() -> None:
    assert ask("What is 3 / 0?") == "undefined"
    for prompt in ["Meet me on 2026-01-01", "Say 12 words", "What is 2 + 2 in French?"]:
        assert ask(prompt).startswith(("You asked:", "the agent")), prompt


def test_tools_and_typed_answers_are_not_arithmetic() -> None:
    def add(a: int, b: int) -> int:
        """Add.

        Args:
            a: one number.
            b: another.
        """
        return a + b

    assert "**add** returned: 42" in ask("What is 17 + 25?", tools=[add])
    assert ask("What is 17 + 25?", output_type=int) == "17"  # the schema's example, filled from the prompt


def test_compare_repeats_with_a_seed_draw_anew_and_reproducibly() -> None:
    pytest.importorskip("pandas")
    from openstackai_nb import Case, compare, scorers

    agents = [Agent(name="careful", instructions=CAREFUL, model="scripted"), Agent(name="quick", model="scripted")]
    cases = [Case(f"What is {a} + 7?", expected=a + 7) for a in range(10, 20)]

    def grid() -> list[str]:
        df = compare(agents, cases, repeats=5, seed=3, progress=False, score={"right": scorers.numeric()})
        return df["final_output"].tolist()

    first = grid()
    assert first == grid()  # the same seed: the same grid
    quick = first[50:]
    assert any(len(set(quick[i : i + 5])) > 1 for i in range(0, 50, 5))  # repeats differ
