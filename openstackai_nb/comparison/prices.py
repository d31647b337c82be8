"""The documented path of `set_prices`, `get_prices` and the cost columns: `openstackai_nb.prices`.

The prices live one layer down, in `openstackai_nb.prices`, because the history prices its runs
too (`RunHistory.to_dataframe(cost=True)`) and the history sits below the comparison layer
(a comparison records into the history, never the other way round). Every name is the same
object as there.
"""

from __future__ import annotations

from openstackai_nb.prices import COST_COLUMNS, RunFacts, cost_columns, get_prices, run_facts, set_prices

__all__ = ["COST_COLUMNS", "RunFacts", "cost_columns", "get_prices", "run_facts", "set_prices"]
