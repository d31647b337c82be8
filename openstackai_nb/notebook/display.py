"""What the magics show: results and tables scrubbed, limit advice in the magic's own terms.

Everything here leaves the process toward a person: it passes the one scrubber (`_secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from openstackai_nb._secrets import shown
from openstackai_nb.errors import AgentError

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.results import RunResult

__all__ = [
    "LIMIT_OPTIONS",
    "MarkdownText",
    "as_usage_errors",
    "cassette_of",
    "for_display",
    "in_magic_terms",
    "inert_frame",
    "provenance",
    "scrubbed_frame",
    "settings_view",
    "without_credentials",
]
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


def cassette_of(agent: Agent) -> Path | None:
    """The cassette a run of `agent` records to (`%agent record`) or replays from, else None."""
    from openstackai_nb.models.recording import recording_path

    model = agent.get_model()
    if getattr(model, "replays", False):
        path = getattr(model, "path", None)
        return path if isinstance(path, Path) else None
    return recording_path()


def provenance(result: RunResult, cassette: object = None) -> dict[str, Any]:
    """The display metadata of a `%%agent` output: what produced it, saved with the notebook.

    ``{"openstackai_nb": {"run_id", "model", "cost_usd", "cached_calls", "cassette"}}``, scrubbed:
    cost_usd is None when nobody prices the model (`comparison.prices`), cassette the path of the
    cassette recorded to or replayed from (None otherwise). nbval compares no output metadata.
    """
    import math

    from openstackai_nb._secrets import scrub_data

    cost: float | None = None
    try:
        from openstackai_nb.comparison.prices import cost_columns, run_facts

        value = float(cost_columns([run_facts(result)], [result.cached_calls])["cost_usd"][0])
        cost = None if math.isnan(value) else value
    except ImportError:  # numpy (the pandas extra) is not installed: no cost
        pass
    facts = {
        "run_id": result.run_id,
        "model": result.model,
        "cost_usd": cost,
        "cached_calls": result.cached_calls,
        "cassette": None if cassette is None else str(cassette),
    }
    return {"openstackai_nb": scrub_data(facts)}


def without_credentials(url: str) -> str:
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


def scrubbed_frame(frame: Any) -> Any:
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


def inert_frame(frame: Any) -> Any:
    """A copy of a DataFrame to show now: its text cells' control characters made inert (`_secrets.inert`).

    The magic's table is shown through pandas, whose HTML escapes markup but passes ESC and the
    bidi overrides on; the frame `-o` stores keeps the text as the history does.
    """
    from openstackai_nb._secrets import inert

    return frame.map(lambda value: inert(value) if isinstance(value, str) else value)


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


def settings_view(rows: list[tuple[str, str]]) -> MarkdownText:
    """A two-column table of settings: markdown in Jupyter, aligned text in a terminal (scrubbed, escaped)."""
    from openstackai_nb import render

    cells = [(k, render.preview(shown(v), 200)) for k, v in rows]
    table = "\n".join(f"| {render.esc(k)} | {render.esc(v)} |" for k, v in cells)
    width = max(len(k) for k, _ in cells)
    return MarkdownText(
        "| setting | value |\n|---|---|\n" + table, "\n".join(f"{k.ljust(width)}  {v}" for k, v in cells)
    )
