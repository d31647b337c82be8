"""Markdown answers as a model writes them: headings, paragraphs, nested lists, tables, code, links."""

from __future__ import annotations

_WORDS = (
    "the agent reads each result and writes a short summary of what the tool returned for the "
    "notebook while the kernel keeps streaming tokens to the view in small coalesced messages"
).split()


def _sentence(i: int, n: int = 12) -> str:
    words = [_WORDS[(i * 7 + k) % len(_WORDS)] for k in range(n)]
    return " ".join(words).capitalize() + "."


def _section(i: int, salt: str = "") -> str:
    para = salt + " ".join(_sentence(i * 5 + k) for k in range(4)).replace(" tool ", " **tool** ", 1)
    lines = [
        f"## Step {i + 1}{salt}: what we found",
        "",
        para.replace(" kernel ", " `kernel` ", 1),
        "",
        f"- {_sentence(i, 8)}{salt}",
        f"- {_sentence(i + 1, 8)}",
        f"  - {_sentence(i + 2, 6)} See [the docs](https://example.com/docs/{i}).",
        f"  - {_sentence(i + 3, 6)}",
        f"- {_sentence(i + 4, 8)}",
        "",
        "| city | temperature | note |",
        "|:-----|------------:|------|",
        f"| Paris{salt} | {10 + i} °C | {_sentence(i, 4)} |",
        f"| Oslo | {i - 3} °C | {_sentence(i + 1, 4)} |",
        "",
        "```python",
        f"def step_{i}{salt}(rows: list[dict]) -> float:",
        '    """Average the temperatures."""',
        "    return sum(r['t'] for r in rows) / len(rows)  # <b>not bold</b>",
        "```",
        "",
        salt + " ".join(_sentence(i * 3 + k) for k in range(3)),
        "",
    ]
    return "\n".join(lines)


def markdown_answer(words: int = 2000, salt: str = "") -> str:
    """A markdown answer of about `words` words (whitespace-separated), the same every time.

    `salt` goes into every block, so that answers with different salts share no block (the
    renderer caches blocks; benchmarks must not measure the cache).
    """
    parts: list[str] = ["Here is what the tools found.", ""]
    i = 0
    count = 0
    while count < words:
        parts.append(_section(i, salt))
        count += len(parts[-1].split())
        i += 1
    return "\n".join(parts).rstrip() + "\n"
