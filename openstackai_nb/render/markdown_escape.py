r"""Markdown escaping: text made literal, and markdown-it tokens written back as escaped markdown.

`md_literal` escapes a string; `tokens_to_markdown` writes the `text/markdown` copy of an answer.

(Formerly `render/markdown_copy.py`; that path still works, with a DeprecationWarning.)

The copy is written from the parse, not patched from the source, so what it says is what the
HTML view shows:

- text is backslash-escaped (`\`, `*`, `_`, `[`, `]`, `<`, `>`, `&`, `|`, `~`, `!`, a backtick;
  and `#`, `-`, `+`, `=` or `1.` at the start of a line), so raw HTML, entities and stray
  markup in model text stay text in any markdown renderer;
- code spans and fences keep their text literally: the fence (or the span's backticks) is made
  longer than any run of backticks inside;
- links only exist for http(s) URLs (the parser made no link of anything else, which stays text);
  link targets are written in angle brackets; images become links (`[image: alt](<url>)`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from markdown_it.token import Token

__all__ = ["md_literal", "tokens_to_markdown"]

_ESCAPE = re.compile(r"([\\`*_\[\]<>&|~!])")
_LINE_START = re.compile(r"^(?:([#+=-])|(\d{1,9})([.)]))")
_LANG = re.compile(r"[^\w+#.-]")


def md_literal(text: str, *, line_start: bool = True) -> str:
    r"""Escape `text` so that any markdown renderer shows it literally (no markup, no HTML).

    Example:
        >>> md_literal("# <b>*x*</b>")
        '\\# \\<b\\>\\*x\\*\\</b\\>'
    """
    out = _ESCAPE.sub(r"\\\1", text)
    if line_start:
        out = _LINE_START.sub(lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\{m.group(3)}", out)
    return out


def _code_span(code: str, in_table: bool) -> str:
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if code[:1] == "`" or code[-1:] == "`" or (code[:1] == " " == code[-1:] and code.strip()) else ""
    if in_table:
        code = code.replace("|", "\\|")
    return f"{ticks}{pad}{code}{pad}{ticks}"


def _destination(url: str) -> str:
    return "<" + url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C").replace("\n", "%0A") + ">"


def _inline(children: Sequence[Token], *, in_table: bool = False, in_link: bool = False) -> str:
    out: list[str] = []
    at_start = True
    i = 0
    while i < len(children):
        tok = children[i]
        kind = tok.type
        if kind in ("text", "text_special", "html_inline"):
            text = md_literal(tok.content, line_start=at_start)
            out.append(text)
        elif kind == "softbreak":
            out.append("\n")
        elif kind == "hardbreak":
            out.append("\\\n")
        elif kind == "code_inline":
            out.append(_code_span(tok.content, in_table))
        elif kind in ("em_open", "em_close", "strong_open", "strong_close"):
            out.append(tok.markup or ("*" if kind.startswith("em") else "**"))
        elif kind in ("s_open", "s_close"):
            out.append("~~")
        elif kind == "link_open":
            depth, j = 1, i + 1
            while j < len(children) and depth:
                depth += {"link_open": 1, "link_close": -1}.get(children[j].type, 0)
                j += 1
            inner = _inline(children[i + 1 : j - 1], in_table=in_table, in_link=True)
            href = str(tok.attrGet("href") or "")
            title = str(tok.attrGet("title") or "")
            title_part = (
                ' "' + title.replace("\\", "\\\\").replace('"', '\\"').replace("|", "\\|") + '"' if title else ""
            )
            out.append(f"[{inner}]({_destination(href)}{title_part})")
            i = j
            at_start = False
            continue
        elif kind == "image":
            alt = "".join(c.content for c in (tok.children or []) if c.type in ("text", "code_inline", "text_special"))
            label = md_literal(f"image: {alt}" if alt else "image", line_start=False)
            src = str(tok.attrGet("src") or "")
            out.append(label if in_link else f"[{label}]({_destination(src)})")
        at_start = kind in ("softbreak", "hardbreak")
        i += 1
    return "".join(out)


def _close_of(tokens: Sequence[Token], i: int) -> int:
    """Index of the token that closes the one opened at `i`."""
    open_tok = tokens[i]
    close = open_tok.type[: -len("_open")] + "_close"
    for j in range(i + 1, len(tokens)):
        if tokens[j].type == close and tokens[j].level == open_tok.level:
            return j
    return len(tokens) - 1


def _fence(code: str, lang: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = code if code.endswith("\n") or not code else code + "\n"
    return f"{ticks}{_LANG.sub('', lang)[:40]}\n{body}{ticks}"


def _indent(text: str, first: str, rest: str) -> str:
    lines = text.split("\n")
    return "\n".join([first + lines[0]] + [(rest + line) if line else "" for line in lines[1:]])


def _table(tokens: Sequence[Token], start: int, stop: int) -> str:
    rows: list[list[str]] = []
    aligns: list[str] = []
    for i in range(start, stop):
        tok = tokens[i]
        if tok.type == "tr_open":
            rows.append([])
        elif tok.type in ("th_open", "td_open"):
            if tok.type == "th_open":
                style = str(tok.attrGet("style") or "")
                aligns.append(
                    {"text-align:left": ":--", "text-align:right": "--:", "text-align:center": ":-:"}.get(style, "---")
                )
            rows[-1].append(
                _inline(tokens[i + 1].children or [], in_table=True) if tokens[i + 1].type == "inline" else ""
            )
    if not rows:
        return ""
    lines = ["| " + " | ".join(rows[0]) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _list(tokens: Sequence[Token], start: int, stop: int) -> str:
    open_tok = tokens[start]
    ordered = open_tok.type == "ordered_list_open"
    number = int(open_tok.attrGet("start") or 1) if ordered else 0
    tight = all(t.hidden for t in tokens[start:stop] if t.type == "paragraph_open")
    items: list[str] = []
    i = start + 1
    while i < stop:
        if tokens[i].type != "list_item_open":
            i += 1
            continue
        end = _close_of(tokens, i)
        marker = f"{number}. " if ordered else f"{open_tok.markup or '-'} "
        number += 1
        body = _blocks(tokens, i + 1, end, tight=tight)
        items.append(_indent(body, marker, " " * len(marker)) if body else marker.rstrip())
        i = end + 1
    return ("\n" if tight else "\n\n").join(items)


def _block(tokens: Sequence[Token], i: int) -> tuple[str, int]:
    """Markdown of the block starting at `i`, and the index after it."""
    tok = tokens[i]
    kind = tok.type
    if kind in ("fence", "code_block"):
        lang = tok.info.strip().split(maxsplit=1)[0] if kind == "fence" and tok.info.strip() else ""
        return _fence(tok.content, lang), i + 1
    if kind == "hr":
        return "***", i + 1
    if kind in ("html_block", "inline"):
        return md_literal(tok.content), i + 1
    end = _close_of(tokens, i)
    if kind == "paragraph_open":
        return _inline(tokens[i + 1].children or []), end + 1
    if kind == "heading_open":
        return "#" * int(tok.tag[1:] or 1) + " " + _inline(tokens[i + 1].children or []), end + 1
    if kind == "blockquote_open":
        inner = _blocks(tokens, i + 1, end)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n")), end + 1
    if kind in ("bullet_list_open", "ordered_list_open"):
        return _list(tokens, i, end), end + 1
    if kind == "table_open":
        return _table(tokens, i, end), end + 1
    return "", end + 1


def _blocks(tokens: Sequence[Token], start: int, stop: int, *, tight: bool = False) -> str:
    parts: list[str] = []
    i = start
    while i < stop:
        text, i = _block(tokens, i)
        if text:
            parts.append(text)
    return ("\n" if tight else "\n\n").join(parts)


def tokens_to_markdown(tokens: Sequence[Token]) -> str:
    """Write markdown-it block tokens back as safe markdown (see the module docstring)."""
    return _blocks(tokens, 0, len(tokens))
