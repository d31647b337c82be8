"""Typed answers (`Agent(output_type=...)`): the one home of the concept, in three modules.

- `output.schema`: `OutputType`, the output type itself: its JSON schema, what a model is told
  (`OutputSpec`, strict when the schema fits) and the validator (`parse`, `validate`). Read by
  `Agent` (which holds one) and by the run loop.
- `output.answers`: the answer of one model response: found (`find_answer`), checked, and the
  messages that go back to the model when it does not match (`Answer.replies`, `never_valid`).
  Read by the run loop only.
- `output.columns`: typed answers as DataFrame columns (``output.<field>``, dtypes from the
  schema: `output_columns`) and the key a schema is stored under (`schema_key`). Read by the
  history and by `compare()`.

Why one package: the three are one idea seen from the agent, the loop and the tables, and they
change together (a new kind of output type changes its schema, how it is validated and its
columns). Why three modules: each has its own reader, and as one module they would be over the size cap.
Each imports only the vocabulary (pydantic, pandas and numpy inside functions), so the runner,
the history and `compare()` all import it without importing each other.

What stays in the vocabulary, because providers and the records speak it: `messages.OutputSpec`,
`FINAL_ANSWER_TOOL` and `OUTPUT_ERRORS` (what a model is told), `errors.OutputError`, and
`RunResult.final_output`, `output_text`, `output_schema` and `output_as()` (what a run keeps).

The old import paths `openstackai_nb.runner.output` and `openstackai_nb.store.outputs` still
work and warn (DeprecationWarning).
"""

from __future__ import annotations

__all__: list[str] = []
