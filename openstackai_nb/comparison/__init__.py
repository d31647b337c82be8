"""Comparisons: every agent on every input into one DataFrame, with scores, prices and schedulers.

- `table`: `compare()`, `side_by_side()` and the DataFrame they build;
- `prices`: `set_prices()` / `get_prices()` and genai-prices, the cost columns' source;
- `scheduler`: the seam (`Job`, `Scheduler`, `Handle`) and `LocalScheduler`, the private run loop.

pandas is imported only when a comparison runs.
"""

from __future__ import annotations

from openstackai_nb.comparison.prices import get_prices, set_prices
from openstackai_nb.comparison.scheduler import Handle, Job, LocalScheduler, Report, Scheduler, run_job
from openstackai_nb.comparison.table import COMPARE_COLUMNS, ScoreWarning, compare, side_by_side

__all__ = [
    "COMPARE_COLUMNS",
    "Handle",
    "Job",
    "LocalScheduler",
    "Report",
    "Scheduler",
    "ScoreWarning",
    "compare",
    "get_prices",
    "run_job",
    "set_prices",
    "side_by_side",
]
