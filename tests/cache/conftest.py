"""Each cache test gets its own history folder, so its own `cache.sqlite` beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The folder of this test's history file and cache file."""
    folder = tmp_path / "store"
    monkeypatch.setenv("OPENSTACKAI_NB_HISTORY", str(folder / "history.sqlite"))
    yield folder
