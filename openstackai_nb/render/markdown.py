"""Untrusted text to safe HTML: `esc` for any string, `markdown_to_html` for a model's answer.

The text is escaped before any tag is added: the converter only ever emits tags it builds itself,
so raw HTML in an answer stays visible text.
"""

from __future__ import annotations

import html
import re

__all__ = ["esc", "markdown_to_html"]


def esc(text: object) -> str:
    """HTML-escape any value's text, quotes included (safe in element text and attribute values)."""
    return html.escape(str(text), quote=True)


_esc = esc

_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")


def _inline(escaped: str) -> str:
    # `escaped` is already HTML-escaped: the tags added here are the only markup in the output.
    codes: list[str] = []

    def keep(m: re.Match[str]) -> str:
        codes.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = _INLINE_CODE.sub(keep, escaped)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], out)


def markdown_to_html(text: str) -> str:
    """Render a safe markdown subset of untrusted text to HTML.

    The text is escaped first; then paragraphs, headings, bullet and numbered lists, fenced code,
    inline code, bold and italic become tags. Raw HTML in the text stays visible text.

    Example:
        >>> markdown_to_html("**hi** <script>")
        '<p><strong>hi</strong> &lt;script&gt;</p>'
    """
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    list_tag = ""

    def close_para() -> None:
        if para:
            out.append("<p>" + "<br>\n".join(_inline(_esc(p)) for p in para) + "</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_tag
        if items:
            out.append(f"<{list_tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
        list_tag = ""

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            close_para()
            close_list()
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            out.append("<pre><code>" + _esc("\n".join(code)) + "</code></pre>")
            i += 1
            continue
        heading, bullet, numbered = _HEADING.match(line), _BULLET.match(line), _NUMBERED.match(line)
        if not line.strip():
            close_para()
            close_list()
        elif heading:
            close_para()
            close_list()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(_esc(heading.group(2)))}</h{level}>")
        elif bullet or numbered:
            close_para()
            tag = "ul" if bullet else "ol"
            if list_tag and list_tag != tag:
                close_list()
            list_tag = tag
            items.append(_inline(_esc((bullet or numbered).group(1))))  # type: ignore[union-attr]
        elif items:
            items[-1] += " " + _inline(_esc(line.strip()))
        else:
            para.append(line)
        i += 1
    close_para()
    close_list()
    return "\n".join(out)
