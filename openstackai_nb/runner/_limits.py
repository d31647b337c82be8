# pyright: strict
"""The run's time limits: `max_time` and `timeout_per_turn` over the run's `approval.Clock`.

One part of the run loop (`executor._Run`). Each turn gets one deadline, the nearer of the
turn's own and the run's (`next_turn`), enforced by the turn loop with `asyncio.timeout_at` around
everything the turn awaits, so a slow server or tool is cut off at the limit. The deadlines live on the
clock, which stops while a tool call waits for approval. A turn that reaches its deadline raises
`TurnTimeout` (which limit, what the run was waiting for); the run turns it into its FAILED
status and the `errors.TimeoutError` it raises (`timeout_message`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Literal

from openstackai_nb.runner.approval import Clock

if TYPE_CHECKING:
    from openstackai_nb.runner.config import RunConfig

__all__ = ["Limit", "RunLimits", "TurnTimeout"]

Limit = Literal["max_time", "timeout_per_turn"]
"""Which limit ended a turn."""


class TurnTimeout(Exception):
    """A turn reached its deadline."""

    def __init__(self, limit: Limit, waiting: str) -> None:
        super().__init__(limit, waiting)
        self.limit: Limit = limit
        self.waiting = waiting
        """What the run was waiting for: "the model (name)" or "tool 'x' (call id)"."""


class RunLimits:
    """The deadlines of one run's turns (see the module's docstring).

    Args:
        config: the run's config (`max_time`, `timeout_per_turn`).
    """

    __slots__ = ("clock", "max_time", "timeout_per_turn")

    def __init__(self, config: RunConfig) -> None:
        self.max_time = config.max_time
        self.timeout_per_turn = config.timeout_per_turn
        self.clock = Clock()
        """The run's clock: its deadlines, stopped while a call waits for approval."""

    def start(self, now: float) -> None:
        """The run starts at `now` (event-loop time): `max_time` counts from here."""
        self.clock.run_deadline = now + self.max_time

    def seconds(self, limit: Limit) -> float:
        """The seconds `limit` allows."""
        return self.max_time if limit == "max_time" else self.timeout_per_turn

    def next_turn(self) -> tuple[float, Limit]:
        """The deadline of a turn that starts now (event-loop time), and which limit sets it."""
        run_deadline = self.clock.run_deadline
        per_turn = asyncio.get_running_loop().time() + self.timeout_per_turn
        if run_deadline <= per_turn:
            return run_deadline, "max_time"
        return per_turn, "timeout_per_turn"

    def timeout_message(self, exc: TurnTimeout, turn: int) -> str:
        """What the run's error says when a turn reached its deadline."""
        advice = "for slow models" if exc.waiting.startswith("the model") else "or make the tool return sooner"
        return (
            f"{exc.limit}={self.seconds(exc.limit):g}s exceeded in turn {turn} while waiting for {exc.waiting}: "
            f"the {'run' if exc.limit == 'max_time' else 'turn'} was stopped at the limit"
            f"; raise RunConfig({exc.limit}=...) {advice}"
        )
