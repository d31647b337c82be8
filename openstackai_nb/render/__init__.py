"""Every view of a run built from its data: the only place that builds HTML, markdown or text.

- `runs`: a run's card (status line, input, reasoning, answer, error, tool table) as HTML,
  markdown and text, and the mime bundle the notebook shows at the end of a run;
- `tools`: the tool table's rows (one builder for the live view and the static copy);
- `markdown`: untrusted markdown to safe HTML and safe markdown (markdown-it-py, Pygments), and
  `LiveMarkdown`, the same rendering block by block while an answer streams; `blocks` cuts it;
- `theme`: the CSS shared by the static copy and the live view (`--jp-*` variables);
- `report`: one self-contained HTML file of many runs (`write_report`);
- `trace`: a run's spans as a static waterfall (`trace_html`, `TraceView` of `RunResult.show_trace()`);
- `progress`: compare's live progress table.

markdown-it-py and Pygments are imported on first use, so `RunResult._repr_*_` can import this
package lazily; the run loop never imports it.
"""

from __future__ import annotations

from openstackai_nb.render.markdown import LiveMarkdown, esc, markdown_to_html, markdown_to_markdown
from openstackai_nb.render.report import render_report, write_report
from openstackai_nb.render.runs import (
    answer_html,
    reasoning_html,
    run_bundle,
    run_html,
    run_markdown,
    run_status,
    run_text,
    status_html,
    status_line,
)
from openstackai_nb.render.theme import CODE_CSS, VIEW_CSS
from openstackai_nb.render.tools import (
    preview,
    several_turns,
    tool_head_html,
    tool_row,
    tool_row_html,
    tool_rows,
    tool_table_html,
)
from openstackai_nb.render.trace import TraceView, trace_bundle, trace_html, trace_text

__all__ = [
    "CODE_CSS",
    "LiveMarkdown",
    "TraceView",
    "VIEW_CSS",
    "answer_html",
    "esc",
    "markdown_to_html",
    "markdown_to_markdown",
    "preview",
    "reasoning_html",
    "render_report",
    "run_bundle",
    "run_html",
    "run_markdown",
    "run_status",
    "run_text",
    "several_turns",
    "status_html",
    "status_line",
    "tool_head_html",
    "tool_row",
    "tool_row_html",
    "tool_rows",
    "tool_table_html",
    "trace_bundle",
    "trace_html",
    "trace_text",
    "write_report",
]
