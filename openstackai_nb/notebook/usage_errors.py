"""Our errors as a notebook shows them: one line of IPython's UsageError, a limit's advice in `%%agent` terms.

Everything here leaves the process toward a person: it passes the one scrubber (`_secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from openstackai_nb._secrets import shown
from openstackai_nb.errors import AgentError

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["LIMIT_OPTIONS", "as_usage_errors", "for_display", "in_magic_terms"]
LIMIT_OPTIONS = {"max_turns": "--max-turns N", "max_time": "--max-time S", "timeout_per_turn": "--timeout-per-turn S"}
"""The RunConfig limits a `%%agent` option sets, and that option."""

_ADVICE = re.compile(r"(?i)\b(raise )?RunConfig\((\w+)=\.\.\.\)")


def in_magic_terms(text: str) -> str:
    """Rewrite advice about `RunConfig(...)` fields into the `%%agent` options that set them.

    Example:
        >>> in_magic_terms("max_time=5s exceeded; raise RunConfig(max_time=...) for slow models")
        'max_time=5s exceeded; raise it with %%agent --max-time S for slow models'
    """

    def advice(m: re.Match[str]) -> str:
        option = LIMIT_OPTIONS.get(m.group(2))
        if option is None:
            return m.group(0)
        return f"{m.group(1)}it with %%agent {option}" if m.group(1) else f"%%agent {option}"

    text = _ADVICE.sub(advice, text)

    def invalid(m: re.Match[str]) -> str:
        option = LIMIT_OPTIONS.get(m.group(1))
        return f"%%agent {option.split()[0]} " if option else m.group(0)

    return re.sub(r"invalid RunConfig: (\w+)=", invalid, text)


def for_display(result: RunResult) -> RunResult:
    """The result as a magic shows it: a limit's advice names the magic's option."""
    if not result.error:
        return result
    error = in_magic_terms(result.error)
    return result if error == result.error else result.model_copy(update={"error": error})


@contextmanager
def as_usage_errors(
    wording: Callable[[str], str] | None = None, *, also: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """Turn an AgentError (a user's mistake, a damaged store...) into one line of IPython's UsageError.

    A notebook shows a UsageError as that line, without a traceback. AgentError messages are
    already scrubbed; their control characters are made inert here (`_secrets.shown`). `wording`
    may rephrase them (e.g. `in_magic_terms`). `also`: more exception types to show as one line
    (e.g. ImportError for a missing extra).
    """
    try:
        yield
    except (AgentError, *also) as exc:
        text = wording(str(exc)) if wording is not None else str(exc)
        raise UsageError(" ".join(shown(text).split())) from None  # a server's text may hold ANSI
