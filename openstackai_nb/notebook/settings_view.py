"""What `%agent config` shows: a settings table, and URLs without their credentials.

The table is markdown in Jupyter and aligned text in a terminal (`MarkdownText`).

Everything here leaves the process toward a person: it passes the one scrubber (`_secrets`).
"""

from __future__ import annotations

from openstackai_nb._secrets import shown

__all__ = ["MarkdownText", "settings_view", "without_credentials"]


def without_credentials(url: str) -> str:
    """`url` with any user:password part shown as [REDACTED] (a password need not look like a key)."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if not sep or "@" not in host:
        return url
    return f"{scheme}://[REDACTED]@{host.rpartition('@')[2]}{slash}{path}"


class MarkdownText:
    """A display that is markdown in Jupyter and readable text in a terminal (`%agent config`).

    Args:
        markdown: what a notebook shows (`_repr_markdown_`).
        text: what terminal IPython and plain Python print (`repr`).
    """

    def __init__(self, markdown: str, text: str) -> None:
        self.data = markdown
        """The markdown (as `IPython.display.Markdown.data`)."""
        self.text = text
        """The plain text."""

    def _repr_markdown_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def settings_view(rows: list[tuple[str, str]]) -> MarkdownText:
    """A two-column table of settings: markdown in Jupyter, aligned text in a terminal (scrubbed, escaped)."""
    from openstackai_nb import render

    cells = [(k, render.preview(shown(v), 200)) for k, v in rows]
    table = "\n".join(f"| {render.esc(k)} | {render.esc(v)} |" for k, v in cells)
    width = max(len(k) for k, _ in cells)
    return MarkdownText(
        "| setting | value |\n|---|---|\n" + table, "\n".join(f"{k.ljust(width)}  {v}" for k, v in cells)
    )
