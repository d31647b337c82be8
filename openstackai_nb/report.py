"""Kept for the documented import path `from openstackai_nb.report import write_report`.

The report lives in `openstackai_nb.render.report`.
"""

from __future__ import annotations

from openstackai_nb.render.report import render_report, write_report

__all__ = ["render_report", "write_report"]
