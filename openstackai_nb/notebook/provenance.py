"""What produced a `%%agent` output: the display metadata saved with the notebook (run, model, cost, cassette).

Scrubbed like everything that leaves the process (`_secrets`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openstackai_nb.agent import Agent
    from openstackai_nb.results import RunResult

__all__ = ["cassette_of", "provenance"]


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
