"""side_by_side(): a `compare` table pivoted, inputs as rows and agents as columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from openstackai_nb._extras import require
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["side_by_side"]


def _pandas() -> Any:
    return require("pandas", "pandas", "side_by_side() builds a DataFrame: it")


def side_by_side(
    df: pd.DataFrame,
    values: str | Sequence[str] = "final_output",
    *,
    index: str = "input",
    columns: str = "agent",
) -> pd.DataFrame:
    """Pivot a `compare` table: inputs as rows, agents as columns (in their original order).

    When an (input, agent) pair appears more than once (`compare(..., repeats=N)`), numbers are
    averaged and other values keep the first run's.

    Args:
        df: the DataFrame `compare` returned (or any with these columns).
        values: the column to show (default the answers), or a list of columns.
        index: the row key (default "input").
        columns: the column key (default "agent").

    Example:
        >>> side_by_side(df, "score")  # doctest: +SKIP
    """
    pd = _pandas()
    names = [values] if isinstance(values, str) else list(values)
    missing = [c for c in [index, columns, *names] if c not in df.columns]
    if missing:
        raise ConfigError(f"side_by_side: no column {missing[0]!r}; the table has {list(df.columns)}")
    rows = pd.unique(df[index])
    cols = pd.unique(df[columns])
    grouped = df.groupby([index, columns], sort=False)
    parts = {}
    for name in names:
        numeric = pd.api.types.is_numeric_dtype(df[name]) and not pd.api.types.is_bool_dtype(df[name])
        series: Any = grouped[name].mean() if numeric else grouped[name].first()
        table = series.unstack(columns).reindex(index=rows, columns=cols)
        table.columns.name = columns
        parts[name] = table
    if isinstance(values, str):
        return parts[values]
    return pd.concat(parts, axis=1)
