"""Errors raised by openstackai_nb, split by whose fault they are.

The tree::

    AgentError                      root of everything this package raises
    ├── ConfigError (ValueError)    bad RunConfig, unknown model, missing API key, bad tool
    ├── UsageError                  a usage mistake (e.g. a nested run_sync on the run loop)
    ├── ModelError                  the model or its endpoint misbehaved
    │   ├── ModelHTTPError          a non-2xx answer (status_code, model, trimmed body)
    │   └── ReplayMissError         a replayed run asked for an exchange never recorded
    ├── ToolError                   a tool raised (with stop_on_tool_error=True)
    ├── HistoryError                the run history file cannot be opened, read or written
    ├── MaxTurnsExceeded            the run used all of RunConfig.max_turns
    │   └── OutputError             ... and the model's answer never matched the agent's output_type
    └── TimeoutError (builtins.TimeoutError)
                                    max_time or timeout_per_turn ran out; carries `.result`

    ToolArgumentsError (ValueError) a model's tool arguments did not validate (sent back to the
                                    model as a tool error, never raised to the caller)
    HistoryWarning (UserWarning)    something about the run history the user should know

Messages say what happened, the value seen and what to do. They name environment variables
and never print their values: every message is scrubbed of secrets when the error is made
(`_secrets.scrub`), so a key quoted by an endpoint or a tool never reaches a traceback. Every
error pickles.

`Runner.run_stream` has no result to return, so when its run does not complete it raises the
run's error (a `ModelError`, `ToolError`, `MaxTurnsExceeded`...) with `.result` set to the
FAILED RunResult (error, partial output); `.result` is None on errors raised outside a run.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Self, cast

from openstackai_nb._secrets import scrub

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = [
    "AgentError",
    "ConfigError",
    "HistoryError",
    "HistoryWarning",
    "MaxTurnsExceeded",
    "ModelError",
    "ModelHTTPError",
    "OutputError",
    "ReplayMissError",
    "TimeoutError",
    "ToolArgumentsError",
    "ToolError",
    "UsageError",
]


class AgentError(Exception):
    """Root of every error raised by openstackai_nb."""

    result: RunResult | None = None
    """The run's RunResult when the error ended a run (TimeoutError, errors raised by run_stream)."""

    def __init__(self, message: str, *args: Any) -> None:
        message = scrub(str(message))
        super().__init__(message, *args)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def replace(self, **changes: Any) -> Self:
        """A copy of this error (same class, same attributes) with `changes` applied.

        The run loop uses it to attach the run's result to the error that ended the run
        (`error.replace(result=result)`), a model to amend a message after its retries
        (`error.replace(message=...)`). A new message is scrubbed of secrets, as in the constructor.
        """
        if "message" in changes:
            changes["message"] = scrub(str(changes["message"]))
        return cast("Self", _rebuild(type(self), {**self.__dict__, **changes}))

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, self.args, self.__dict__)

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        self.__dict__.update(state or {})


class ConfigError(AgentError, ValueError):
    """A configuration mistake: bad RunConfig field, unknown model, missing API key."""


class UsageError(AgentError):
    """The API was used in a way that cannot work (the message says what to do instead)."""


class ModelError(AgentError):
    """The model or its endpoint answered something the run cannot use."""


class ModelHTTPError(ModelError):
    """The endpoint answered with a non-2xx status."""

    def __init__(self, message: str, *, status_code: int, model: str, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.model = model
        self.body = body

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.__class__, self.__dict__))


class ReplayMissError(ModelError):
    """A replay model was asked for an exchange that its cassette does not hold."""


class HistoryError(AgentError):
    """The run history store cannot be opened, read or written (the message names the file)."""


class HistoryWarning(UserWarning):
    """Something about the run history the user should know (fallback location, a bad row, a new file)."""


class ToolArgumentsError(ValueError):
    """The model's arguments for a tool did not validate (sent back to the model as a tool error)."""


class ToolError(AgentError):
    """A tool raised while stop_on_tool_error=True."""


class MaxTurnsExceeded(AgentError):
    """The run reached RunConfig.max_turns without a final answer."""


class OutputError(MaxTurnsExceeded):
    """The run used all of RunConfig.max_turns and the model's answer never matched the agent's output_type."""


class TimeoutError(AgentError, builtins.TimeoutError):  # noqa: A001 - the contract's name
    """max_time or timeout_per_turn ran out; `.result` holds the partial RunResult."""

    def __init__(self, message: str, *, result: RunResult | None = None) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.__class__, self.__dict__))


def _rebuild(cls: type[AgentError], state: dict[str, Any]) -> AgentError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err
