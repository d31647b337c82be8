"""Untrusted markdown to safe HTML and to safe markdown: `esc`, `markdown_to_html`, `markdown_to_markdown`.

A model's answer is parsed by markdown-it-py (CommonMark, plus GFM tables and strikethrough):

- raw HTML is off (`html=False`): a `<script>` or `<img onerror=...>` in the text stays text;
- links are kept only to ``http:``/``https:`` URLs (`_safe_link` replaces markdown-it's
  `validateLink`): ``javascript:``, ``data:``, ``vbscript:``, ``file:`` and relative links stay
  plain text; kept links open in a new tab with ``rel="noopener noreferrer nofollow"``;
- images are never fetched: an image shows as its alt text and its URL (a link when http(s));
- fenced code is highlighted by Pygments when it is installed and knows the fence's language
  (CSS classes, coloured by `render.theme` from the front end's ``--jp-*`` variables); any other
  code stays plain, escaped ``<pre><code>``.

The text is cut into blocks first (`render.blocks.split_blocks`) and each block is parsed on its
own: the live view renders the same blocks one by one while the answer streams
(`render.blocks.LiveMarkdown`), so the static copy at the end is the same HTML, block for block.
Blocks are small and repeat (live view, then the static copy, then `%agent last`), so each
rendered block is kept in a small cache.

markdown-it-py is a core dependency; it and Pygments are imported on first use, never by
``import openstackai_nb``.
"""

from __future__ import annotations

import functools
import html
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from openstackai_nb.render.blocks import BlockSplitter, split_blocks

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

__all__ = ["LiveMarkdown", "esc", "highlight", "markdown_to_html", "markdown_to_markdown", "render_block"]

HIGHLIGHT_CHARS = 20_000
"""Longest code block that is syntax-highlighted (a longer one is shown plain)."""
_CACHE_CHARS = 4_000_000  # block text + HTML + markdown kept, at most
_CACHE_BLOCK_CHARS = 50_000


def esc(text: object) -> str:
    """HTML-escape any value's text, quotes included (safe in element text and attribute values)."""
    return html.escape(str(text), quote=True)


def _safe_link(url: str) -> bool:
    # An allowlist, not markdown-it's blocklist: only web links become links (its default keeps
    # `data:image/...` links, and a relative link would point into the notebook server).
    url = url.strip().lower()
    return url.startswith(("http://", "https://"))


_LINK_ATTRS = " target='_blank' rel='noopener'"


@functools.cache
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = _safe_link  # type: ignore[method-assign]
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    md.add_render_rule("image", _image)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("th_open", _cell_open)
    md.add_render_rule("td_open", _cell_open)
    return md


def _attrs(token: Token) -> str:
    # Single quotes: the HTML goes to the front end inside JSON, where each " costs a backslash.
    return "".join(f" {esc(k)}='{esc(v)}'" for k, v in token.attrItems())


def _link_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return f"<a{_attrs(tokens[idx])}{_LINK_ATTRS}>"


_ALIGN = {
    "text-align:left": " align='left'",
    "text-align:right": " align='right'",
    "text-align:center": " align='center'",
}


def _cell_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    # A column's alignment as the `align` attribute: GitHub keeps it (it strips `style`), and
    # `render.theme` makes it win over the host's table rules.
    token = tokens[idx]
    return f"<{token.tag}{_ALIGN.get(str(token.attrGet('style') or ''), '')}>"


def _image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    label = f"image: {alt}" if alt else "image"
    return f"<span class='osnb-img'>[{esc(label)}] <a href='{esc(src)}'{_LINK_ATTRS}>{esc(src)}</a></span>"


def _fence(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    lang = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    lang = re.sub(r"[^\w+#.-]", "", lang)[:40]
    code = highlight(token.content, lang)
    if code is None:
        cls = f" class='language-{esc(lang)}'" if lang else ""
        return f"<pre class='osnb-code'><code{cls}>{esc(token.content)}</code></pre>\n"
    return f"<pre class='osnb-code osnb-hl'><code class='language-{esc(lang)}'>{code}</code></pre>\n"


def _code_block(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return f"<pre class='osnb-code'><code>{esc(tokens[idx].content)}</code></pre>\n"


@functools.lru_cache(maxsize=128)  # fence languages are model text: bounded
def _lexer(lang: str) -> Any:
    try:
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:
        return None
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@functools.cache
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


_SPAN = re.compile(r'<span class="([\w-]+)">([^<]*)</span>')


def _colour_spans(html: str) -> str:
    """Keep Pygments' spans only for the classes `render.theme` colours (single-quoted).

    The others (names, punctuation, whitespace) would only add bytes to every live message.
    """
    from openstackai_nb.render.theme import SYNTAX_CLASSES

    return _SPAN.sub(lambda m: f"<span class='{m[1]}'>{m[2]}</span>" if m[1] in SYNTAX_CLASSES else m[2], html)


def highlight(code: str, lang: str) -> str | None:
    """Return `code` highlighted as HTML spans with Pygments' short CSS classes, or None.

    None when Pygments is not installed, the language is empty or unknown, or the code is longer
    than `HIGHLIGHT_CHARS`: the caller shows it plain. Pygments escapes the text it wraps.
    """
    if not lang or len(code) > HIGHLIGHT_CHARS:
        return None
    lexer = _lexer(lang.lower())
    if lexer is None:
        return None
    from pygments import highlight as pygments_highlight

    return _colour_spans(pygments_highlight(code, lexer, _formatter()))


# -- blocks -----------------------------------------------------------------------------------
_BLOCK_NEWLINE = re.compile(
    r"(</(?:p|h[1-6]|ul|ol|li|blockquote|table|thead|tbody|tr|th|td|pre)>"
    r"|<(?:ul|ol|li|blockquote|table|thead|tbody|tr)(?: [^>]*)?>|<hr />)\n"
)
"""A newline after a block tag: markdown-it's, meaningless in HTML (never inside code text, which
is escaped); left out, as each costs two bytes in every live message."""


class _Cache:
    """A small thread-safe LRU of rendered blocks: block text -> (html, markdown, references added)."""

    def __init__(self, chars: int) -> None:
        self.chars = chars
        self.size = 0
        self.items: OrderedDict[str, tuple[str, str, dict[str, Any]]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> tuple[str, str, dict[str, Any]] | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
            return hit

    def put(self, key: str, value: tuple[str, str, dict[str, Any]]) -> None:
        if len(key) > _CACHE_BLOCK_CHARS:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.size += len(key) + len(value[0]) + len(value[1])
            while self.size > self.chars:
                old, (html, md, _) = self.items.popitem(last=False)
                self.size -= len(old) + len(html) + len(md)


_cache = _Cache(_CACHE_CHARS)


def render_block(block: str, env: dict[str, Any] | None = None) -> tuple[str, str]:
    """Render one block of markdown to (HTML, safe markdown).

    Args:
        block: the block's text (from `render.blocks`): raw model text, already scrubbed.
        env: markdown-it's environment shared by the blocks of one text (link reference
            definitions of earlier blocks); updated with this block's definitions.
    """
    env = {} if env is None else env
    refs = env.get("references")
    if not refs:  # a cached block does not depend on earlier definitions
        hit = _cache.get(block)
        if hit is not None:
            if hit[2]:
                env.setdefault("references", {}).update(hit[2])
            return hit[0], hit[1]
    before = set(refs or ())
    md = _parser()
    tokens = md.parse(block, env)
    out_html = _BLOCK_NEWLINE.sub(r"\1", md.renderer.render(tokens, md.options, env))
    from openstackai_nb.render.markdown_escape import tokens_to_markdown

    out_md = tokens_to_markdown(tokens)
    if not refs:
        added = {k: v for k, v in (env.get("references") or {}).items() if k not in before}
        _cache.put(block, (out_html, out_md, added))
    return out_html, out_md


def _render_all(text: str) -> Iterable[tuple[str, str]]:
    env: dict[str, Any] = {}
    for block in split_blocks(text):
        yield render_block(block, env)


def markdown_to_html(text: str) -> str:
    r"""Render untrusted markdown to safe HTML (see the module docstring for what is kept).

    Example:
        >>> markdown_to_html("**hi** <script>")
        '<p><strong>hi</strong> &lt;script&gt;</p>'
    """
    return "".join(h for h, _ in _render_all(text))


def markdown_to_markdown(text: str) -> str:
    r"""Return untrusted markdown as safe markdown for a `text/markdown` copy.

    The text is parsed as `markdown_to_html` parses it and written back: code spans and fences
    keep their text literally (fences long enough for the backticks inside), other text is
    backslash-escaped so raw HTML stays text, links keep only http(s) URLs (others become plain
    text) and images become links to their URL.

    Example:
        >>> print(markdown_to_markdown("[x](javascript:alert(1)) `a<b` <b>"))
        \[x\](javascript:alert(1)) `a<b` \<b\>
    """
    return "\n\n".join(m for _, m in _render_all(text) if m)


class LiveMarkdown:
    r"""Markdown that arrives in pieces, turned into append-only updates for the live view.

    Each finished block (`render.blocks`) is rendered once; the unfinished end is shown as text.
    `update()` says what changed since the last update: how many characters at the start of the
    text shown so far now belong to finished blocks (drop them), the HTML of those blocks
    (append it), and the new text of the unfinished end (append it). Nothing is sent twice
    as text, and each block's HTML once.

    Example:
        >>> live = LiveMarkdown()
        >>> live.feed("Hello **wor")
        >>> live.update()
        (0, '', 'Hello **wor')
        >>> live.feed("ld**\n\nNext")
        >>> live.update()
        (11, '<p>Hello <strong>world</strong></p>', 'Next')
    """

    def __init__(self) -> None:
        self._splitter = BlockSplitter()
        self._env: dict[str, Any] = {}
        self._received = 0  # characters fed
        self._done = 0  # characters inside finished blocks
        self._shown_done = 0  # ... as of the last update
        self._sent = 0  # characters shown (as blocks or text) as of the last update
        self._html: list[str] = []

    def feed(self, text: str) -> None:
        """Add streamed text (scrubbed: secrets are removed before anything is rendered)."""
        self._received += len(text)
        for block in self._splitter.feed(text):
            self._add(block)

    def end(self) -> None:
        """The text is complete (the model's answer ended): its unfinished end becomes a block."""
        rest = self._splitter.finish()
        if rest:
            self._add(rest)
        self._env = {}  # the next text (another turn) is rendered on its own, as its static copy is

    def _add(self, block: str) -> None:
        self._done += len(block)
        if block.strip():
            self._html.append(render_block(block, self._env)[0])

    def update(self) -> tuple[int, str, str]:
        """Return (characters to drop from the shown text, HTML to append, text to append)."""
        drop = min(self._done, self._sent) - self._shown_done
        text = self._splitter.buf[max(self._done, self._sent) - self._done :]
        html = "".join(self._html)
        self._html.clear()
        self._shown_done, self._sent = self._done, self._received
        return drop, html, text
