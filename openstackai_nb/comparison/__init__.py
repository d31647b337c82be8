"""Comparisons: every agent on every case into one DataFrame, with scores, judges, prices and schedulers.

- `table`: `compare()` and the DataFrame it builds (its run columns' cells: `store.frames`);
  `grid`: the jobs, made when read; `running`: jobs on a scheduler, each finished run scored,
  shown and its cells kept (the RunResult let go); `progress`: the view protocol, the counts and
  the terminal line (a notebook passes its table in); `pivot`: `side_by_side()`;
- `resume`: a grid's identity and its finished runs in history (`compare(resume=...)`);
- `cases`: `Case` and `load_cases()`, every form of inputs `compare` takes;
- `scoring`: the score columns, each run scored as it ends; `judge`: LLM judges, a second pass;
- `prices`: `set_prices()` / `get_prices()` and genai-prices, the cost columns' source (the
  documented path of `openstackai_nb.prices`);
- `scheduler`: the seam (`Job`, `Scheduler`, `Handle`) and `LocalScheduler`, the private run loop;
- `scheduler_names`: `as_scheduler`, the names `compare(scheduler=)` and `%%agent --scheduler` take;
- `dask`: `DaskScheduler`, the same comparison on a Dask cluster (`_dask_worker`: its workers' side);
- `diff`: `diff_runs()`, two runs' transcripts side by side, where they first diverge, their tool paths;
- `stats`: `summarize()` and `paired()`, the statistics of a comparison table (`figures`: `plot_summary()`);
  `intervals`: their numeric core (t quantile, bootstrap, sign-flip test, pass@k; numpy only);
  `frames`: their results, `Summary` and `PairedTest`, which show themselves as static tables.

pandas is imported only when a comparison runs or a statistic is computed; `DaskScheduler` is imported when first asked
for, and dask itself only when one is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openstackai_nb.comparison.cases import Case, load_cases
from openstackai_nb.comparison.diff import Divergence, RunDiff, Step, diff_runs
from openstackai_nb.comparison.figures import plot_summary
from openstackai_nb.comparison.pivot import side_by_side
from openstackai_nb.comparison.prices import get_prices, set_prices
from openstackai_nb.comparison.scheduler import Handle, Job, LocalScheduler, Report, Scheduler, run_job
from openstackai_nb.comparison.stats import paired, summarize
from openstackai_nb.comparison.table import COMPARE_COLUMNS, ScoreWarning, compare

if TYPE_CHECKING:
    from openstackai_nb.comparison.dask import DaskScheduler

__all__ = [
    "COMPARE_COLUMNS",
    "Case",
    "DaskScheduler",
    "Divergence",
    "Handle",
    "Job",
    "LocalScheduler",
    "Report",
    "RunDiff",
    "Scheduler",
    "ScoreWarning",
    "Step",
    "compare",
    "diff_runs",
    "get_prices",
    "load_cases",
    "paired",
    "plot_summary",
    "run_job",
    "set_prices",
    "side_by_side",
    "summarize",
]


def __getattr__(name: str) -> Any:
    # PEP 562: the Dask scheduler's module is imported when first asked for (dask itself later).
    if name == "DaskScheduler":
        from openstackai_nb.comparison.dask import DaskScheduler

        return DaskScheduler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
