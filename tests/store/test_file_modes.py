"""Private files: what the package creates holding runs is its owner's only (folder 0700, files 0600).

The history's folder, its SQLite file with -wal and -shm, and recording cassettes; the user's
umask is left alone (files the user's code creates keep their usual mode), existing files and
folders keep theirs, and exports go where the user said with the user's usual mode (a replaced
export keeps its mode).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from openstackai_nb import Agent, Runner, store
from openstackai_nb.models.recording import recording
from openstackai_nb.store import RunHistory


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def current_umask() -> int:
    previous = os.umask(0o022)
    os.umask(previous)
    return previous


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask (022: new files 0644, folders 0755), restored afterwards."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _run(text: str = "hi") -> None:
    Runner.run_sync(Agent(name="Modes", model="scripted"), text)


def test_the_default_history_folder_and_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENSTACKAI_NB_HISTORY")
    history = RunHistory()  # the default: .openstackai_nb/history.sqlite in the working directory
    previous = store.set_history(history)
    try:
        _run()
        assert history.flush()
        folder = tmp_path / ".openstackai_nb"
        assert history.path == folder / "history.sqlite" and len(history) == 1
        assert mode(folder) == 0o700
        for name in ("history.sqlite", "history.sqlite-wal", "history.sqlite-shm"):
            assert mode(folder / name) == 0o600, name
    finally:
        store.set_history(previous)
    # The umask is the user's: unchanged, and what the user's code creates keeps its usual mode.
    assert current_umask() == 0o022
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "data").mkdir()
    assert (mode(tmp_path / "notes.txt"), mode(tmp_path / "data")) == (0o644, 0o755)


def test_a_named_store_file_in_new_and_existing_folders(tmp_path: Path) -> None:
    new = RunHistory(tmp_path / "new" / "runs" / "h.sqlite")
    assert mode(tmp_path / "new" / "runs") == 0o700  # the store's own folder
    assert mode(tmp_path / "new") == 0o755  # a parent on the way: the usual mode
    assert mode(tmp_path / "new" / "runs" / "h.sqlite") == 0o600
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    RunHistory(shared / "h.sqlite")
    assert (mode(shared), mode(shared / "h.sqlite")) == (0o755, 0o600)  # the user's folder is left alone
    assert len(new) == 0


def test_an_existing_store_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    RunHistory(path)
    os.chmod(path, 0o640)  # e.g. made group-readable on purpose
    RunHistory(path).add(Runner.run_sync(Agent(model="scripted"), "hi"))
    assert mode(path) == 0o640


def test_cassettes_are_private(tmp_path: Path) -> None:
    path = tmp_path / "runs.cassette.jsonl"
    with recording(path):
        _run("recorded")
    assert path.read_text().count("\n") == 2 and mode(path) == 0o600
    appended = tmp_path / "old.cassette.jsonl"
    with recording(appended):
        _run()
    os.chmod(appended, 0o644)
    with recording(appended, append=True):
        _run("again")
    assert mode(appended) == 0o644  # an existing cassette keeps its mode


def test_exports_take_the_users_mode_and_a_replaced_export_keeps_its_own(session_history: RunHistory) -> None:
    _run()
    assert session_history.path is not None
    folder = session_history.path.parent
    fresh = session_history.export(folder / "runs.jsonl")
    assert mode(fresh) == 0o644  # you chose where it goes: your usual mode
    os.chmod(fresh, 0o600)
    again = session_history.export(folder / "runs.jsonl")
    assert mode(again) == 0o600 and len(RunHistory.load(again)) == 1
    assert not (folder / "runs.jsonl.part").exists()
