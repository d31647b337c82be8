"""Fixtures of the history tests: the session's history pointed at a fresh store per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openstackai_nb import store
from openstackai_nb.store import RunHistory


@pytest.fixture
def session_history(tmp_path) -> Iterator[RunHistory]:
    """`openstackai_nb.history` for this test: a new store file under tmp_path."""
    history = RunHistory(tmp_path / "history.sqlite")
    previous = store.set_history(history)
    yield history
    store.set_history(previous)
