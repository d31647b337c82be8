"""Every view of a run built from its data: the only place that builds HTML, markdown or text.

- `runs`: a run's card (status line, answer, error, tool table) as HTML, markdown and text, and
  the mime bundle the notebook shows at the end of a run;
- `markdown`: untrusted text to safe HTML (`esc`, `markdown_to_html`);
- `report`: one self-contained HTML file of many runs (`write_report`);
- `trace`: a run's spans as a static waterfall (`trace_html`, `TraceView` of `RunResult.show_trace()`).

Stdlib only, so `RunResult._repr_*_` can import it lazily; the run loop never imports it.
"""

from __future__ import annotations

from openstackai_nb.render.markdown import esc, markdown_to_html
from openstackai_nb.render.report import render_report, write_report
from openstackai_nb.render.runs import (
    preview,
    run_bundle,
    run_html,
    run_markdown,
    run_text,
    status_line,
    tool_rows,
)
from openstackai_nb.render.trace import TraceView, trace_bundle, trace_html, trace_text

__all__ = [
    "TraceView",
    "esc",
    "markdown_to_html",
    "preview",
    "render_report",
    "run_bundle",
    "run_html",
    "run_markdown",
    "run_text",
    "status_line",
    "tool_rows",
    "trace_bundle",
    "trace_html",
    "trace_text",
    "write_report",
]
