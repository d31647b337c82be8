"""Shared fixtures: a real loopback OpenAI-compatible server, a clean environment, a network guard."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from openstackai_nb import store
from openstackai_nb.models import _http
from openstackai_nb.store import RunHistory
from tests._env import CLEARED_PREFIXES, PROXY_VARS
from tests._server import OpenAIServer

_HISTORY = os.path.join(tempfile.mkdtemp(prefix="openstackai-nb-tests-"), "history.sqlite")


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: a module that touches `openstackai_nb.history` at import time must not
    # create a store in the working directory.
    os.environ["OPENSTACKAI_NB_HISTORY"] = _HISTORY


@pytest.fixture(scope="session")
def _server() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    yield server
    server.close()


@pytest.fixture
def openai_server(_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    """The loopback server, reset for this test, with OPENAI_BASE_URL/KEY pointing at it."""
    _server.reset()
    monkeypatch.setenv("OPENAI_BASE_URL", _server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-0123456789abcdef")
    yield _server
    _server.reset()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's OPENAI_*, proxy and our own variables never leak into a test."""
    for key in list(os.environ):
        if key.startswith(CLEARED_PREFIXES) or key in PROXY_VARS:
            monkeypatch.delenv(key, raising=False)
    # History goes to a per-session temporary file, never into the repository.
    monkeypatch.setenv("OPENSTACKAI_NB_HISTORY", _HISTORY)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any model request leaving 127.0.0.1 fails loudly (no paid API by accident)."""
    monkeypatch.setattr(_http, "ALLOW_NON_LOOPBACK", False)


@pytest.fixture
def session_history(tmp_path) -> Iterator[RunHistory]:
    """`openstackai_nb.history` for this test: a new store file under tmp_path."""
    history = RunHistory(tmp_path / "history.sqlite")
    previous = store.set_history(history)
    yield history
    store.set_history(previous)
