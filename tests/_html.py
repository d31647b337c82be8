"""Parse an HTML fragment into the tags and attribute names it really contains (escaping checks)."""

from __future__ import annotations

import html.parser


class Tags(html.parser.HTMLParser):
    """Collects every start tag and attribute name of what it is fed."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def parse_tags(fragment: str) -> Tags:
    """The tags and attribute names of `fragment`."""
    parser = Tags()
    parser.feed(fragment)
    return parser


def html_of_markdown(text: str) -> str:
    """`text` rendered as Jupyter's and GitHub's markdown renderers do: raw HTML passes through.

    (Both sanitize afterwards; this does not, so a tag that survives here would be live there.)
    """
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


class _Text(html.parser.HTMLParser):
    """Collects what a reader sees or a browser acts on: text, attribute values, comments."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts += [value for _, value in attrs if value]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.parts.append(data)


def text_of(fragment: str) -> str:
    """Every text node, attribute value and comment of `fragment`, entities decoded, joined by newlines."""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return "\n".join(parser.parts)
