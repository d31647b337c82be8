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


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cache.configure()` calls elsewhere (docs examples) do not reach these tests."""
    import openstackai_nb.cache as cache

    monkeypatch.setattr(cache, "_configured_max", None)
    monkeypatch.setattr(cache, "_configured_path", None)
