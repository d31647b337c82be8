"""Every ```python example in README.md and docs/*.md runs as written (offline)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _examples() -> list[tuple[str, str]]:
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, m in enumerate(FENCE.finditer(path.read_text())):
            code = m.group(1)
            if "# doc-example: skip" in code:
                continue
            out.append((f"{path.name}#{i + 1}", code))
    return out


@pytest.mark.parametrize(("name", "code"), _examples(), ids=[n for n, _ in _examples()])
def test_example_runs(name: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # dont_inherit: run as written, without this file's `from __future__ import annotations` (which
    # would turn a pydantic model's or dataclass's annotations into strings to resolve).
    exec(compile(code, name, "exec", dont_inherit=True), {"__name__": "__doc_example__"})  # noqa: S102
