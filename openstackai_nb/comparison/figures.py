"""`plot_summary()`: a summary's means and confidence intervals as a matplotlib figure.

matplotlib is imported when a figure is drawn (the ``plot`` extra installs it); every label
(group names, metric, caption) is scrubbed of secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openstackai_nb._extras import require
from openstackai_nb.comparison.stats import check_frame

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["plot_summary"]


def plot_summary(summary: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Draw a summary's means with their confidence intervals as error bars, one line per group.

    Args:
        summary: what `summarize()` returned (any frame with mean, ci_low and ci_high).
        ax: the matplotlib Axes to draw on (default: the current one).

    Returns:
        The Axes.

    Raises:
        ImportError: matplotlib is not installed (the message names the extra).
        ConfigError: the frame has no mean, ci_low or ci_high column.
    """
    import numpy as np

    from openstackai_nb._secrets import scrub
    from openstackai_nb.comparison.frames import caption

    summary = check_frame("plot_summary", summary, ["mean", "ci_low", "ci_high"])
    if ax is None:
        plt = require("matplotlib.pyplot", "plot", "plot_summary() draws with matplotlib: it")
        ax = plt.gca()
    assert ax is not None
    mean = summary["mean"].to_numpy(dtype=np.float64, na_value=np.nan)
    low = summary["ci_low"].to_numpy(dtype=np.float64, na_value=np.nan)
    high = summary["ci_high"].to_numpy(dtype=np.float64, na_value=np.nan)
    err = np.vstack([mean - low, high - mean])
    err = np.where(np.isnan(err), 0.0, err)
    labels = [scrub(" / ".join(map(str, k)) if isinstance(k, tuple) else str(k)) for k in summary.index]
    y = np.arange(len(labels))
    ax.errorbar(mean, y, xerr=err, fmt="o", capsize=4)
    ax.set_yticks(y, labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)  # the first group on top
    confidence = summary.attrs.get("confidence")
    what = f"{confidence:.0%} CI" if isinstance(confidence, float) else "CI"
    ax.set_xlabel(scrub(f"{summary.attrs.get('metric', 'mean')} (mean, {what})"))
    ax.set_title(scrub(caption(summary.attrs)), fontsize="small", loc="left", wrap=True)
    return ax
