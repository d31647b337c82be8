"""render.markdown: untrusted markdown to safe HTML and safe markdown, block by block (no kernel).

Safety is checked by parsing the output with an HTML parser: only an allowed set of tags and
attributes may exist, and every link is http(s). The markdown copy is checked the same way after
rendering it as Jupyter and GitHub do (raw HTML passes through their markdown renderers).
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from openstackai_nb import render
from openstackai_nb.render.blocks import BlockSplitter, split_blocks
from openstackai_nb.render.markdown import LiveMarkdown, markdown_to_html, markdown_to_markdown
from tests._html import html_of_markdown, parse_tags
from tests.notebook._answers import markdown_answer

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
    "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRS = {"href", "target", "rel", "class", "align", "title", "start"}

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    '<svg onload="alert(3)"></svg>',
    "<a href='javascript:alert(4)'>x</a>",
    "<iframe src=https://evil.example></iframe>",
]

BAD_LINKS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "data:image/png;base64,iVBORw0KGgo=",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "/api/contents",
]


def _hostile_doc() -> str:
    """Every payload in text, inline code, fenced code, table cells, link text and headings."""
    parts = []
    for p in PAYLOADS:
        parts += [
            f"Text {p} and `{p}` inline.",
            f"```html\n{p}\n```",
            f"| a | b |\n|---|---|\n| {p} | `{p}` |",
            f"[{p}](https://example.com) and **{p}**",
            f"# {p}",
            f"> {p}",
            f"- {p}\n  - {p}",
        ]
    for link in BAD_LINKS:
        parts += [
            f"[click]({link})",
            f"![pic]({link})",
            f"<{link}>",
            f"[ref][r{len(parts)}]\n\n[r{len(parts)}]: {link}",
        ]
    return "\n\n".join(parts)


def _check_safe(html: str) -> None:
    tags = parse_tags(html)
    assert set(tags.tags) <= ALLOWED_TAGS, set(tags.tags) - ALLOWED_TAGS
    assert set(tags.attrs) <= ALLOWED_ATTRS, set(tags.attrs) - ALLOWED_ATTRS
    for href in _hrefs(html):
        assert href.startswith(("http://", "https://")), href


def _hrefs(fragment: str) -> list[str]:
    from html.parser import HTMLParser

    found: list[str] = []

    class P(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(v or "" for k, v in attrs if k in ("href", "src"))

    P().feed(fragment)
    return found


def test_hostile_markdown_gives_only_allowed_tags_attributes_and_links() -> None:
    doc = _hostile_doc()
    out = markdown_to_html(doc)
    _check_safe(out)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out  # the payload is visible text
    assert "<img" not in out and "onerror=" not in out.replace("onerror=alert", "")  # text only


def test_hostile_markdown_copy_is_safe_where_raw_html_is_allowed() -> None:
    copy = markdown_to_markdown(_hostile_doc())
    _check_safe(html_of_markdown(copy))


def test_tables_nested_lists_code_links() -> None:
    out = markdown_to_html(
        "| name | n |\n|:--|--:|\n| a | 1 |\n\n"
        "- one\n  - nested\n    1. deep\n- two\n\n"
        "```python\ndef f(x):\n    return x\n```\n\n"
        "```\nplain <b>\n```\n\n"
        "```nosuchlanguage\nx = 1\n```\n\n"
        'See [docs](https://example.com/a?b=1&c=2 "Docs") and ~~old~~.'
    )
    assert "<table><thead><tr><th align='left'>name</th><th align='right'>n</th></tr></thead>" in out
    assert "<td align='right'>1</td>" in out
    assert "<ul><li>one<ul><li>nested<ol><li>deep</li></ol></li></ul></li><li>two</li></ul>" in out.replace("\n", "")
    assert "<pre class='osnb-code osnb-hl'><code class='language-python'><span class='k'>def</span>" in out
    assert "<pre class='osnb-code'><code>plain &lt;b&gt;\n</code></pre>" in out
    assert "<pre class='osnb-code'><code class='language-nosuchlanguage'>x = 1\n</code></pre>" in out
    assert "<a href='https://example.com/a?b=1&amp;c=2' title='Docs' target='_blank' rel='noopener'>docs</a>" in out
    assert "<s>old</s>" in out


@pytest.mark.parametrize("link", BAD_LINKS)
def test_non_web_links_and_images_stay_text(link: str) -> None:
    out = markdown_to_html(f"[click]({link}) ![pic]({link})")
    assert "<a" not in out and "<img" not in out
    assert "[click](" in out


def test_images_are_never_fetched_but_shown_as_alt_text_and_url() -> None:
    out = markdown_to_html("![a cat](https://example.com/cat.png)")
    assert "<img" not in out
    assert "[image: a cat]" in out
    assert "<a href='https://example.com/cat.png' target='_blank' rel='noopener'>https://example.com/cat.png</a>" in out
    copy = markdown_to_markdown("![a cat](https://example.com/cat.png)")
    assert copy == "[image: a cat](<https://example.com/cat.png>)"


def test_markdown_copy_keeps_code_literally_and_neutralises_links() -> None:
    src = "Use `a<b && c>d` here.\n\n```js\nif (a < b) { x = `y`; }\n```\n\n[x](javascript:alert(1)) <b>bold?</b>"
    copy = markdown_to_markdown(src)
    assert "`a<b && c>d`" in copy and "&lt;" not in copy  # code spans keep their text
    assert "```js\nif (a < b) { x = `y`; }\n```" in copy
    assert "\\[x\\](javascript:alert(1))" in copy and "\\<b\\>bold?\\</b\\>" in copy
    shown = html_of_markdown(copy)
    assert "<code>a&lt;b &amp;&amp; c&gt;d</code>" in shown and "<a" not in shown and "<b>" not in shown


def test_markdown_copy_fences_outgrow_backticks_inside() -> None:
    src = "````\n```\ninner\n```\n````\n\n`` a`b ``"
    copy = markdown_to_markdown(src)
    assert html_of_markdown(copy) == html_of_markdown(src)


def test_markdown_copy_renders_like_the_answer() -> None:
    # Apart from images (links in the copy), the copy shows what the HTML view shows.
    src = (
        markdown_answer(600) + "\n\n> quote *with* `code`\n>\n> 2nd para\n\n***\n\n3. three\n4. four\n\n1\\. not a list"
    )
    assert markdown_to_html(markdown_to_markdown(src)) == markdown_to_html(src)


def test_blocks_do_not_depend_on_how_the_text_arrives() -> None:
    doc = (
        markdown_answer(800) + "\n\n- loose\n\n- list\n\n  continued\n\n1. a\n\n2. b\n\n```\n\n\nin fence\n\n```\nafter"
    )
    whole = split_blocks(doc)
    assert "".join(whole) == doc
    assert any(b.startswith("- loose") and "continued" in b for b in whole)  # a loose list stays one block
    assert any("in fence" in b and b.startswith("```") for b in whole)
    rnd = random.Random(7)
    for _ in range(20):
        splitter, blocks, i = BlockSplitter(), [], 0
        while i < len(doc):
            n = rnd.choice([1, 2, 3, 7, 50])
            blocks += splitter.feed(doc[i : i + n])
            i += n
        rest = splitter.finish()
        assert blocks + ([rest] if rest else []) == whole


def test_live_markdown_updates_rebuild_the_static_html() -> None:
    doc = markdown_answer(800)
    rnd = random.Random(3)
    live, blocks, tail, i = LiveMarkdown(), [], "", 0
    while i < len(doc):
        n = rnd.choice([1, 5, 40, 300])
        live.feed(doc[i : i + n])
        i += n
        drop, html, text = live.update()
        assert 0 <= drop <= len(tail)  # only text already shown turns into a block
        tail = tail[drop:] + text
        blocks.append(html)
    live.end()
    drop, html, text = live.update()
    tail = tail[drop:] + text
    blocks.append(html)
    assert tail == "" and "".join(blocks) == markdown_to_html(doc)


def test_live_markdown_sends_each_character_once_as_text() -> None:
    live = LiveMarkdown()
    sent = 0
    for word in markdown_answer(300).split(" "):
        live.feed(word + " ")
        sent += len(live.update()[2])
    assert sent <= len(markdown_answer(300)) + 1


def test_without_pygments_code_is_plain() -> None:
    code = (
        "import sys; sys.modules['pygments'] = None\n"
        "from openstackai_nb.render import markdown_to_html\n"
        "print(markdown_to_html('```python\\ndef f(): pass\\n```'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "<pre class='osnb-code'><code class='language-python'>def f(): pass\n</code></pre>"


def test_importing_the_package_loads_no_markdown_parser() -> None:
    code = (
        "import sys, openstackai_nb, openstackai_nb.render\n"
        "print(' '.join(m for m in ('markdown_it', 'pygments') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_static_css_reads_jupyter_variables_and_hard_codes_no_page_colours() -> None:
    css = render.VIEW_CSS + render.CODE_CSS
    assert "var(--jp-border-color2" in css and "var(--jp-mirror-editor-keyword-color" in css
    for forbidden in ("#fff", ":white", "background:#", "color:#000", "color:black", "background-color"):
        assert forbidden not in css.replace(" ", "").lower(), forbidden
