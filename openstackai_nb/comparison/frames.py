"""The results of `summarize` and `paired`: a DataFrame and a Series that show themselves as tables.

`Summary` (a pandas DataFrame) and `PairedTest` (a pandas Series) are pandas objects in every
respect; they add a caption that says which metric, method, confidence and seed produced the
numbers (also in ``.attrs``: method, seed, confidence, metric, notes) and a static HTML view
(`_repr_html_`, built by `render.evaluation`: every confidence interval drawn as a bar) that a
saved notebook keeps, readable on GitHub and nbviewer. Their text view is pandas' own plus the
caption, scrubbed of secrets as the HTML is. Frames derived from a `Summary` (sorting,
selecting rows) stay `Summary`; the view draws bars only while mean, ci_low and ci_high are there.

This module imports pandas, so the comparison package imports it only when a statistic is computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from openstackai_nb._secrets import scrub
from openstackai_nb.render.evaluation import paired_html, summary_html

__all__ = ["PairedTest", "Summary", "caption"]


def caption(attrs: Mapping[Any, Any]) -> str:
    """The one-line caption of a result from its ``attrs`` (metric, confidence, method, seed, notes)."""
    parts = []
    metric = attrs.get("metric")
    if metric is not None:
        parts.append(f"metric {metric!s}")
    confidence = attrs.get("confidence")
    if isinstance(confidence, float) and not math.isnan(confidence):
        parts.append(f"{confidence:.0%} CI")
    how = attrs.get("description") or attrs.get("method")
    if how:
        parts.append(str(how))
    if "seed" in attrs:
        parts.append(f"seed {attrs['seed']}")
    text = "; ".join(parts)
    notes = attrs.get("notes") or []
    if notes:
        text += ". " + " ".join(str(n) for n in notes)
    return text


def _text_view(text: str, attrs: Mapping[Any, Any]) -> str:
    """The text of a result (pandas') plus its caption, scrubbed of secrets (agent names and case ids are shown)."""
    cap = caption(attrs)
    return scrub(f"{text}\n{cap}" if cap else text)


class Summary(pd.DataFrame):
    """`summarize()`'s table: one row per group; shows a caption and each CI as a bar."""

    @property
    def _constructor(self) -> Any:
        return Summary

    def _repr_html_(self) -> str:  # pyright: ignore[reportIncompatibleMethodOverride]
        names = [str(n) if n is not None else "" for n in self.index.names]
        rows = [
            (list(key) if isinstance(key, tuple) else [key], list(values))
            for key, values in zip(self.index, self.itertuples(index=False, name=None), strict=True)
        ]
        return summary_html(names, [str(c) for c in self.columns], rows, caption(self.attrs))

    def __repr__(self) -> str:
        return _text_view(super().__repr__(), self.attrs)


class PairedTest(pd.Series):
    """`paired()`'s result: one field per statistic; shows a caption and the CI of the difference as a bar."""

    @property
    def _constructor(self) -> Any:
        return PairedTest

    @property
    def _constructor_expanddim(self) -> Any:
        return pd.DataFrame

    def _repr_html_(self) -> str:
        fields = [(str(k), v) for k, v in self.items()]
        return paired_html(str(self.name) if self.name is not None else "", fields, caption(self.attrs))

    def __repr__(self) -> str:
        return _text_view(super().__repr__(), self.attrs)
