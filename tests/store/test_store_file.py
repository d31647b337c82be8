"""The file under the store: deleted or replaced while open, damaged (valid header, bad pages)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import struct
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from openstackai_nb import Agent, Runner, RunStatus, store
from openstackai_nb.store import HistoryWarning, RunHistory


@pytest.fixture
def restore_session_history() -> Iterator[None]:
    previous = store.set_history(None)
    yield
    store.set_history(previous)


def run(name: str, prompt: str = "hi") -> str:
    result = Runner.run_sync(Agent(name=name, model="scripted"), prompt)
    assert result.status is RunStatus.COMPLETED
    return result.run_id


# -- deleted or replaced while open --------------------------------------------------------------


def test_a_store_deleted_while_open_is_recreated_with_one_warning(tmp_path: Path, restore_session_history) -> None:
    folder = tmp_path / ".openstackai_nb"
    path = folder / "history.sqlite"
    history = RunHistory(path)
    store.set_history(history)
    run("Before")
    history.flush()
    shutil.rmtree(folder)  # the file, its -wal and -shm, while this process has them open

    with pytest.warns(HistoryWarning) as caught:
        after = run("After")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert f"the run history file {path} was deleted while this process had it open" in messages[0]
    assert f"runs from now on go to the new file {path}" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: the next runs say nothing
        later = run("Later")
        assert [r.run_id for r in history] == [after, later]
    # Another process (or a new kernel) opening the path sees the runs made after the deletion.
    assert [r.run_id for r in RunHistory(path)] == [after, later]


def test_a_store_replaced_while_open_is_followed(tmp_path: Path, restore_session_history) -> None:
    path = tmp_path / "history.sqlite"
    history = RunHistory(path)
    store.set_history(history)
    run("Before")
    history.flush()
    other = tmp_path / "other.sqlite"
    RunHistory(other).add_many(RunHistory(path))  # a copy, with the run made so far
    other.replace(path)  # e.g. a restore from a backup: another file now has the name

    with pytest.warns(HistoryWarning, match="was replaced while this process had it open"):
        after = run("After")
    assert [r.agent_name for r in RunHistory(path)] == ["Before", "After"]
    assert history[-1].run_id == after


# -- a damaged store -----------------------------------------------------------------------------


def make_store(path: Path, runs: int = 150) -> int:
    """A real store with `runs` runs, checkpointed into the main file; returns its page size."""
    history = RunHistory(path)
    previous = store.set_history(history)
    try:
        for i in range(runs):
            run("Old", f"run {i} " + "x" * 300)
        history.flush()
    finally:
        store.set_history(previous)
    with sqlite3.connect(path) as conn:
        # The store's checkpointer thread may be checkpointing at this moment: SQLite then answers
        # busy at once (no busy wait) and copies nothing, and the pages read below are not there.
        for _ in range(200):
            if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                break
            time.sleep(0.05)
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def damage(path: Path, page: int, page_size: int) -> None:
    """Overwrite the b-tree header of one page (1-based, never page 1 with the file header)."""
    assert page > 1
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * page_size)
        fh.write(b"\xff" * 12)


def pages_of(path: Path, table: str, page_size: int) -> tuple[int, int]:
    """(root page, its leftmost child page) of `table`, read from the file itself."""
    with sqlite3.connect(path) as conn:
        root = int(conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0])
    data = Path(path).read_bytes()[(root - 1) * page_size : root * page_size]
    assert data[0] == 0x05, "the table should span several pages (an interior root page)"
    first_cell = struct.unpack(">H", data[12:14])[0]
    return root, struct.unpack(">I", data[first_cell : first_cell + 4])[0]


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for part in (path, Path(f"{path}-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    return digest.hexdigest()


def only_the_warning(caught: list[warnings.WarningMessage], damaged: Path, fresh: Path) -> None:
    messages = [str(w.message) for w in caught if issubclass(w.category, HistoryWarning)]
    assert len(messages) == 1, messages
    assert f"the run history file {damaged} is damaged (" in messages[0]
    assert f"it is not written any more: runs from now on go to {fresh}" in messages[0]
    assert f"sqlite3 {damaged} .recover" in messages[0]


def test_a_damaged_store_found_by_a_read_is_never_written_again(tmp_path: Path, restore_session_history) -> None:
    path = tmp_path / "history.sqlite"
    page_size = make_store(path)
    damage(path, pages_of(path, "results", page_size)[1], page_size)  # an old run's page: writes never touch it

    history = RunHistory(path)  # opening reads nothing damaged: nothing to notice yet
    store.set_history(history)
    run("Unnoticed")  # SQLite writes beside the damage without complaint

    # Reading the old runs hits the damage (today: "not readable ... nothing was changed", and later
    # runs went on into the damaged file).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(history) == []  # the fresh file, empty so far
    fresh = history.path
    assert fresh is not None and fresh.parent == tmp_path and fresh != path
    assert fresh.name.startswith("history.") and fresh.suffix == ".sqlite"
    only_the_warning(caught, path, fresh)

    before = fingerprint(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning in all
        new = [run("New", f"new {i}") for i in range(3)]
        assert [r.run_id for r in history] == new
    history.flush()
    assert fingerprint(path) == before  # the damaged file (and its WAL) never written again

    # The next process opening the damaged file goes straight to the fresh one, with one warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reopened = RunHistory(path)
    only_the_warning(caught, path, fresh)
    assert reopened.path == fresh and [r.run_id for r in reopened] == new
    assert fingerprint(path) == before


def test_a_damaged_store_found_by_a_write_moves_the_run_to_a_fresh_file(
    tmp_path: Path, restore_session_history
) -> None:
    path = tmp_path / "history.sqlite"
    page_size = make_store(path)
    damage(path, pages_of(path, "results", page_size)[0], page_size)  # the root: every write goes through it
    before = fingerprint(path)
    history = RunHistory(path)
    store.set_history(history)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run("New")  # its write fails in the damaged file and is done again in a fresh one
    assert history.path is not None and history.path != path
    only_the_warning(caught, path, history.path)
    second = run("New")
    assert [r.run_id for r in RunHistory(history.path)] == [first, second]
    assert fingerprint(path) == before


def test_a_sound_store_moved_away_after_damage_is_used_again(tmp_path: Path, restore_session_history) -> None:
    path = tmp_path / "history.sqlite"
    page_size = make_store(path, runs=60)
    damage(path, pages_of(path, "results", page_size)[0], page_size)
    history = RunHistory(path)
    with pytest.warns(HistoryWarning, match="is damaged"):
        history.add(Runner.run_sync(Agent(name="X", model="scripted"), "hi"))
    # The user moves the damaged file aside, with its -wal and -shm: the path is a new store.
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            Path(f"{path}{suffix}").rename(tmp_path / f"broken.sqlite{suffix}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = RunHistory(path)
    assert again.path == path and len(again) == 0
