"""Statistics of a comparison: `summarize` (per agent) and `paired` (agent a against agent b).

The input is a `compare()` table (or any DataFrame like it): one row per run with ``agent``,
``case_id``, ``repeat`` (missing: every run is repeat 0), ``status``, the metric column
(default "score": a number, a bool, or NaN for a run without a score), ``cost_usd`` and
``elapsed_time``.

The unit is the case. A case's scored runs (its repeats) are averaged first, as Inspect's epoch
reducer does, and every mean, standard deviation and interval is over those case means: five
repeats of one question are not five independent questions. Without repeats this is the plain
per-run statistic. A run that did not complete (status other than COMPLETED) has no score: it is
left out and counted in ``failures``; a completed run whose metric is NaN (its scorer raised) is
left out and counted in ``unscored``. A bool metric is a rate (True = 1).

The numbers come from `comparison.intervals` (numpy only; no scipy at run time); each result
says which method and seed produced them (``attrs`` and the caption of its table).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from openstackai_nb._extras import require
from openstackai_nb.comparison.intervals import (
    bootstrap_interval,
    pass_at_k_mean,
    sign_flip_p_value,
    t_interval,
)
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from openstackai_nb.comparison.frames import PairedTest, Summary

__all__ = ["PAIRED_FIELDS", "SUMMARY_COLUMNS", "check_frame", "paired", "summarize"]

SUMMARY_COLUMNS = (
    "n",
    "runs",
    "mean",
    "std",
    "stderr",
    "ci_low",
    "ci_high",
    "failures",
    "unscored",
    "cost_mean",
    "cost_total",
    "latency_p50",
    "latency_p95",
)
"""The columns of every `summarize()` table, in order (``pass@k`` columns follow when there are repeats)."""

PAIRED_FIELDS = ("n", "mean_diff", "ci_low", "ci_high", "p_value", "wins", "ties", "losses", "dropped")
"""The statistics of every `paired()` result, in order (then ``method``, ``seed``, ``confidence``, ``metric``)."""


# -- checks and the scored runs ---------------------------------------------------------------------


def check_frame(fn: str, df: Any, needed: Sequence[str]) -> pd.DataFrame:
    """`df` when it is a DataFrame with the `needed` columns, else a ConfigError naming what `fn` lacks."""
    pd = require("pandas", "pandas", f"{fn}() reads a DataFrame: it")
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"{fn}: df must be a pandas DataFrame (the table compare() returns), got {type(df).__name__}")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ConfigError(f"{fn}: the table has no column {missing[0]!r}; its columns are {list(df.columns)}")
    return df


def _check_options(fn: str, confidence: float, seed: int, **counts: int) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, float | int) or not 0 < confidence < 1:
        raise ConfigError(f"{fn}: confidence must be a number between 0 and 1 (e.g. 0.95), got {confidence!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{fn}: seed must be a whole number >= 0, got {seed!r}")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{fn}: {name} must be a whole number >= 1, got {value!r}")


def _metric_values(fn: str, df: pd.DataFrame, metric: str) -> np.ndarray:
    """The metric as float64 (bool -> 0/1, None -> NaN), or a ConfigError naming a value that is not a number."""
    import numpy as np

    column = df[metric]
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        for i, v in zip(df.index, column, strict=True):
            try:
                float(v if v is not None else math.nan)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{fn}: metric {metric!r} must hold numbers or bools; row {i!r} has {type(v).__name__} {v!r:.60}"
                ) from None
        raise


def _prepared(fn: str, df: pd.DataFrame, metric: str) -> Any:
    """A frame with the columns the statistics need: _value (NaN when not scored), _completed, case_id."""
    import numpy as np

    values = _metric_values(fn, df, metric)
    if "status" in df.columns:
        completed = (df["status"].astype(str) == "COMPLETED").to_numpy()
    else:
        completed = np.ones(len(df), dtype=bool)
    out = df.copy()
    out["_completed"] = completed
    out["_value"] = np.where(completed, values, np.nan)
    if "case_id" not in out.columns:  # without case ids each run is its own case
        out["case_id"] = np.arange(len(df))
    return out


def _case_means(scored: Any) -> Any:
    return scored.groupby("case_id", sort=False)["_value"].mean()


# -- summarize ----------------------------------------------------------------------------------------


def summarize(
    df: pd.DataFrame,
    metric: str = "score",
    by: str | Sequence[str] = "agent",
    *,
    method: Literal["t", "bootstrap"] = "t",
    confidence: float = 0.95,
    ks: Sequence[int] = (1,),
    threshold: float | None = None,
    seed: int = 0,
    n_boot: int = 10_000,
) -> Summary:
    """One row per agent (or group): the mean of a metric over cases with its confidence interval.

    Each case's scored repeats are averaged first; then ``n`` counts cases, ``runs`` scored runs,
    and mean, std, stderr, ci_low and ci_high are over the case means. ``failures`` counts runs
    that did not complete and ``unscored`` completed runs whose metric is NaN (both left out of
    the mean). ``cost_mean``/``cost_total`` (USD) and ``latency_p50``/``latency_p95``
    (seconds) are over every run of the group, failed ones included (they cost and took that
    time); NaN when unknown. With repeats, one ``pass@k`` column per k: a run passes when its
    metric is truthy (or >= `threshold`); the unbiased estimator of Chen et al. (2021) over each
    case's scored runs, averaged over the cases that have at least k of them.

    Args:
        df: a `compare()` table (agent, case_id, repeat, status, the metric, cost_usd, elapsed_time).
        metric: the column to summarize (numbers or bools).
        by: the column (or list of columns) that makes a group.
        method: "t" (Student-t interval over case means) or "bootstrap" (seeded percentile
            bootstrap over cases, `n_boot` resamples; each group draws from its own generator
            seeded with `seed`, so a group's interval does not depend on the other groups).
        confidence: the intervals' coverage (0.95: 95%).
        ks: the k of each pass@k column.
        threshold: a run passes when its metric >= threshold (default: when it is truthy).
        seed: the bootstrap's seed (recorded for the t method too, which does not use it).
        n_boot: bootstrap resamples.

    Returns:
        A `Summary` (a pandas DataFrame indexed by the group) whose ``attrs`` hold method, seed,
        confidence, metric and notes; it shows itself as a table with a CI bar per row.

    Raises:
        ConfigError: not a DataFrame, a missing column, a metric that is not numeric, or a bad option.

    Example:
        >>> summary = summarize(df, "score", method="bootstrap", seed=1)  # doctest: +SKIP
    """
    groups = [by] if isinstance(by, str) else list(by)
    df = check_frame("summarize", df, [metric, *groups])
    _check_options("summarize", confidence, seed, n_boot=n_boot)
    if method not in ("t", "bootstrap"):
        raise ConfigError(f"summarize: method must be 't' or 'bootstrap', got {method!r}")
    ks = _check_ks(ks)
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
        raise ConfigError(f"summarize: threshold must be a number or None, got {threshold!r}")

    data = _prepared("summarize", df, metric)
    with_repeats = "repeat" in data.columns and data["repeat"].nunique(dropna=True) > 1
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    keys: list[Hashable] = []
    for key, group in data.groupby(groups if len(groups) > 1 else groups[0], sort=False, dropna=False):
        keys.append(key)
        row = _summary_row(group, method, float(confidence), seed, n_boot)
        if with_repeats:
            row.update(_pass_columns(group, ks, threshold, key, notes))
        rows.append(row)

    if with_repeats and threshold is None and _graded(data["_value"].to_numpy()):
        notes.append("pass@k counts every non-zero score as a pass: set threshold= for graded scores.")
    return _summary_frame(rows, keys, groups, metric, method, float(confidence), seed, n_boot, notes)


def _check_ks(ks: Sequence[int]) -> list[int]:
    try:
        out = list(ks)
    except TypeError:
        raise ConfigError(f"summarize: ks must be a list of whole numbers >= 1, got {ks!r}") from None
    for k in out:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"summarize: ks must be whole numbers >= 1, got {k!r} in {ks!r}")
    return sorted(set(out))


def _graded(values: np.ndarray) -> bool:
    import numpy as np

    finite = values[~np.isnan(values)]
    return bool(finite.size) and not bool(np.isin(finite, (0.0, 1.0)).all())


def _summary_row(group: Any, method: str, confidence: float, seed: int, n_boot: int) -> dict[str, Any]:
    import numpy as np

    completed = group["_completed"].to_numpy()
    scored = group[~np.isnan(group["_value"].to_numpy())]
    means = _case_means(scored).to_numpy()
    mean, std, stderr, low, high = t_interval(means, confidence)
    if method == "bootstrap":
        low, high = bootstrap_interval(means, confidence, n_boot=n_boot, seed=seed)
    cost = group["cost_usd"].to_numpy(dtype=np.float64, na_value=np.nan) if "cost_usd" in group else None
    known = cost[~np.isnan(cost)] if cost is not None else np.empty(0)
    latency = (
        group["elapsed_time"].to_numpy(dtype=np.float64, na_value=np.nan) if "elapsed_time" in group else np.empty(0)
    )
    latency = latency[~np.isnan(latency)]
    p50, p95 = np.quantile(latency, [0.5, 0.95]) if latency.size else (math.nan, math.nan)
    return {
        "n": int(means.size),
        "runs": len(scored),
        "mean": mean,
        "std": std,
        "stderr": stderr,
        "ci_low": low,
        "ci_high": high,
        "failures": int((~completed).sum()),
        "unscored": int(completed.sum()) - len(scored),
        "cost_mean": float(known.mean()) if known.size else math.nan,
        "cost_total": float(known.sum()) if known.size else math.nan,
        "latency_p50": float(p50),
        "latency_p95": float(p95),
    }


def _pass_columns(
    group: Any, ks: Sequence[int], threshold: float | None, key: Hashable, notes: list[str]
) -> dict[str, float]:
    import numpy as np

    scored = group[~np.isnan(group["_value"].to_numpy())]
    values = scored["_value"].to_numpy()
    passed = values >= threshold if threshold is not None else values != 0.0
    per_case = scored.assign(_passed=passed).groupby("case_id", sort=False)["_passed"].agg(["size", "sum"])
    counts = [(int(n), int(c)) for n, c in zip(per_case["size"], per_case["sum"], strict=True)]
    out: dict[str, float] = {}
    for k in ks:
        value, skipped = pass_at_k_mean(counts, k)
        out[f"pass@{k}"] = value
        if skipped and counts:
            most = max(n for n, _ in counts)
            if math.isnan(value):
                notes.append(f"pass@{k} of {key!s} is NaN: its cases have at most {most} scored runs.")
            else:
                notes.append(f"pass@{k} of {key!s} leaves out {skipped} case(s) with fewer than {k} scored runs.")
    return out


def _summary_frame(
    rows: list[dict[str, Any]],
    keys: list[Hashable],
    groups: list[str],
    metric: str,
    method: str,
    confidence: float,
    seed: int,
    n_boot: int,
    notes: list[str],
) -> Summary:
    import pandas as pd

    from openstackai_nb.comparison.frames import Summary

    if len(groups) > 1:
        index = pd.MultiIndex.from_tuples([k if isinstance(k, tuple) else (k,) for k in keys], names=groups)
    else:
        index = pd.Index(keys, name=groups[0])
    columns = list(SUMMARY_COLUMNS) + sorted({c for r in rows for c in r if c.startswith("pass@")}, key=_k_of)
    frame = Summary(pd.DataFrame(rows, columns=columns, index=index))
    for c in ("n", "runs", "failures", "unscored"):
        frame[c] = frame[c].astype("int64")
    how = (
        "Student-t interval over case means"
        if method == "t"
        else f"percentile bootstrap over cases ({n_boot} resamples)"
    )
    frame.attrs.update(
        {
            "metric": metric,
            "method": method,
            "description": f"{how}; each case's repeats averaged first; n = cases",
            "seed": seed,
            "confidence": confidence,
            "n_boot": n_boot if method == "bootstrap" else None,
            "notes": notes,
        }
    )
    return frame


def _k_of(column: str) -> int:
    return int(column.split("@", 1)[1])


# -- paired ---------------------------------------------------------------------------------------


def paired(
    df: pd.DataFrame,
    a: str,
    b: str,
    metric: str = "score",
    *,
    confidence: float = 0.95,
    seed: int = 0,
    n_boot: int = 10_000,
    n_perm: int = 10_000,
) -> PairedTest:
    """Agent `a` against agent `b` on the same cases: the mean difference a - b, its CI and p-value.

    Per case the mean over repeats of each agent's scored runs; a case where either side has
    none (all its runs failed or were unscored) is dropped and listed in ``dropped``, never
    silently. Over the n remaining cases: ``mean_diff`` (mean of a - b), ``ci_low``/``ci_high``
    (seeded paired bootstrap over cases, `n_boot` resamples), ``p_value`` (two-sided paired
    sign-flip permutation test: all 2^n sign vectors when n <= 16, else `n_perm` seeded random
    flips with p = (count + 1) / (n_perm + 1)), and ``wins``/``ties``/``losses`` (cases where
    a's mean is above, equal to, below b's).

    Args:
        df: a `compare()` table with agent, case_id, status and the metric.
        a: one agent's label.
        b: the other agent's label.
        metric: the column compared (numbers or bools).
        confidence: the interval's coverage.
        seed: the seed of the bootstrap and of the random sign flips.
        n_boot: bootstrap resamples.
        n_perm: random sign flips when n > 16.

    Returns:
        A `PairedTest` (a pandas Series named "a vs b") with n, mean_diff, ci_low, ci_high,
        p_value, wins, ties, losses, dropped, method, seed, confidence and metric.

    Raises:
        ConfigError: a missing column, an agent not in the table (the message lists those
            present), a = b, a metric that is not numeric, or a bad option.

    Example:
        >>> paired(df, "careful", "fast")  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    from openstackai_nb.comparison.frames import PairedTest

    df = check_frame("paired", df, ["agent", metric])
    _check_options("paired", confidence, seed, n_boot=n_boot, n_perm=n_perm)
    present = list(pd.unique(df["agent"].to_numpy()))
    for side in (a, b):
        if side not in present:
            raise ConfigError(f"paired: agent {side!r} is not in the table; its agents are {present}")
    if a == b:
        raise ConfigError(f"paired: a and b must be two different agents, got {a!r} twice")

    data = _prepared("paired", df, metric)
    data = data[data["agent"].isin([a, b])]
    cases = list(pd.unique(data["case_id"].to_numpy()))
    scored = data[~np.isnan(data["_value"].to_numpy())]
    side_a = _case_means(scored[scored["agent"] == a]).reindex(cases)
    side_b = _case_means(scored[scored["agent"] == b]).reindex(cases)
    both = side_a.notna().to_numpy() & side_b.notna().to_numpy()
    dropped = [c for c, ok in zip(cases, both, strict=True) if not ok]
    diffs = side_a.to_numpy()[both] - side_b.to_numpy()[both]

    low, high = bootstrap_interval(diffs, float(confidence), n_boot=n_boot, seed=seed)
    p_value, test = sign_flip_p_value(diffs, n_perm=n_perm, seed=seed)
    method = f"paired bootstrap CI over cases ({n_boot} resamples); {test}"
    values: dict[str, Any] = {
        "n": int(diffs.size),
        "mean_diff": float(diffs.mean()) if diffs.size else math.nan,
        "ci_low": low,
        "ci_high": high,
        "p_value": p_value,
        "wins": int((diffs > 0).sum()),
        "ties": int((diffs == 0).sum()),
        "losses": int((diffs < 0).sum()),
        "dropped": dropped,
        "method": method,
        "seed": seed,
        "confidence": float(confidence),
        "metric": metric,
    }
    result = PairedTest(values, dtype=object, name=f"{a} vs {b}")
    notes = []
    if dropped:
        notes.append(f"{len(dropped)} case(s) dropped: one side has no score (failed or unscored runs).")
    result.attrs.update(
        {
            "metric": metric,
            "method": method,
            "description": f"{a} - {b}, per case mean over repeats; {method}",
            "seed": seed,
            "confidence": float(confidence),
            "n_boot": n_boot,
            "n_perm": n_perm,
            "notes": notes,
        }
    )
    return result
