"""The store across processes: two writers at once, a process killed mid-run, a kernel restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from openstackai_nb.results import RunStatus
from openstackai_nb.store import RunHistory
from tests._server import Reply, text_stream

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENSTACKAI_NB_"))}
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _run_at_once(script: str, history: Path, argvs: list[list[str]]) -> list[str]:
    """Run `script` once per argv, all at the same time, recording into `history`; their outputs."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv],
            env=_env(OPENSTACKAI_NB_HISTORY=str(history)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=100)
        assert p.returncode == 0, err
        assert "not recording" not in err and "could not record" not in err, err
        outs.append(out.strip())
    return outs


WRITER = textwrap.dedent(
    """
    import sys
    from openstackai_nb import Agent, RunConfig, Runner
    tag, n = sys.argv[1], int(sys.argv[2])
    agent = Agent(name="Writer-" + tag, model="scripted")
    for i in range(n):
        r = Runner.run_sync(agent, f"say 3 words {i}", config=RunConfig(metadata={"writer": tag}))
        assert r.status.value == "COMPLETED", r
    print("wrote", n)
    """
)


COMPARER = textwrap.dedent(
    """
    import sys
    from openstackai_nb import Agent, compare
    tag, n = sys.argv[1], int(sys.argv[2])
    agents = {f"{tag}{k}": Agent(name=f"{tag}{k}", model="scripted") for k in range(3)}
    df = compare(agents, [f"say {i % 7 + 1} words (case {i})" for i in range(n)], concurrency=16, progress=False)
    assert (df["status"] == "COMPLETED").all(), df["error"].dropna().head()
    print("wrote", len(df))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "n", "runs"),
    [(WRITER, 150, 150), (COMPARER, 100, 300)],  # run_sync one by one; compare() (batched writes)
    ids=["run_sync", "compare"],
)
def test_two_processes_recording_at_once_lose_nothing(tmp_path, script: str, n: int, runs: int) -> None:
    path = tmp_path / "shared.sqlite"
    for out in _run_at_once(script, path, [["a", str(n)], ["b", str(n)]]):
        assert out == f"wrote {runs}"
    h = RunHistory(path)
    df = h.to_dataframe()
    assert len(df) == 2 * runs and df["run_id"].is_unique
    tags = df["agent"].str.extract(r"^(?:Writer-)?([ab])")[0]
    assert tags.value_counts().to_dict() == {"a": runs, "b": runs}
    assert (df["status"] == "COMPLETED").all()
    assert len(h.turns_dataframe()) == 2 * runs


OPENER = textwrap.dedent(
    """
    import sys, time
    from openstackai_nb.store import RunHistory
    path, start = sys.argv[1], float(sys.argv[2])
    while time.time() < start:
        pass
    for _ in range(5):
        h = RunHistory(path)  # opening a new file: WAL switch and schema, racing the others
        assert len(h) >= 0
    print("opened")
    """
)


@pytest.mark.slow
def test_many_processes_creating_one_store_file_at_once(tmp_path) -> None:
    # SQLite answers "database is locked" at once (no busy wait) when two connections switch a
    # new file to WAL together: that is contention, never a damaged file.
    for attempt in range(3):
        path = tmp_path / f"new-{attempt}.sqlite"
        start = time.time() + 1.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, str(path), str(start)],
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for p in procs:
            out, err = p.communicate(timeout=100)
            assert p.returncode == 0 and out.strip() == "opened", err
        assert len(RunHistory(path)) == 0


KILLED = textwrap.dedent(
    """
    from openstackai_nb import Agent, Runner
    agent = Agent(name="Victim", model="gpt-4o-mini")
    for prompt in ("first", "second", "third (slow)"):
        r = Runner.run_sync(agent, prompt)
        print(prompt, r.status.value, flush=True)
    """
)


@pytest.mark.slow
def test_a_process_killed_during_a_run(tmp_path, openai_server) -> None:
    path = tmp_path / "history.sqlite"
    stall = text_stream("partial answer that never ends")
    openai_server.script(
        text_stream("Answer one."),
        text_stream("Answer two."),
        Reply(headers=stall.headers, chunks=stall.chunks, end="stall", end_after=3),
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED],
        env=_env(
            OPENSTACKAI_NB_HISTORY=str(path), OPENAI_BASE_URL=openai_server.url, OPENAI_API_KEY="sk-test-key-0123456789"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait (bounded) until the third run is in flight: its request reached the server.
        deadline = time.monotonic() + 60
        while len(openai_server.requests) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1]
        assert len(openai_server.requests) == 3
        # Visible while it runs (the writer thread commits within moments of the start).
        while time.monotonic() < deadline and not len(RunHistory(path).filter(status="RUNNING")):
            time.sleep(0.05)
        running = RunHistory(path).filter(status="RUNNING")
        assert [r.input for r in running] == ["third (slow)"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)  # reaps it and closes its pipes
    h = RunHistory(path)
    runs = list(h)
    assert [r.input for r in runs] == ["first", "second", "third (slow)"]
    assert [r.status for r in runs[:2]] == [RunStatus.COMPLETED, RunStatus.COMPLETED]
    assert [r.final_output for r in runs[:2]] == ["Answer one.", "Answer two."]
    killed = runs[2]
    assert killed.status is RunStatus.FAILED
    assert killed.error.startswith("interrupted: the process that ran it")
    df = h.to_dataframe()
    assert df["status"].tolist() == ["COMPLETED", "COMPLETED", "FAILED"]
    assert df["error"].iloc[2].startswith("interrupted:")


EXITING = textwrap.dedent(
    """
    import asyncio, time
    from openstackai_nb import Agent, Runner
    from openstackai_nb.models.function import FunctionModel
    from openstackai_nb.runner import loop as _sync

    async def slow(messages, info):
        await asyncio.sleep(60)
        return "never"

    Runner.run_sync(Agent(name="A", model="scripted"), "first")
    # A run still in flight when the script ends: shutting down cancels it, and it is recorded.
    _sync.LoopTask(lambda _: Runner.run_async(Agent(name="B", model=FunctionModel(slow)), "in flight"))
    time.sleep(0.3)
    print("exiting", flush=True)
    """
)


def test_runs_in_flight_at_exit_are_recorded(tmp_path) -> None:
    path = tmp_path / "history.sqlite"
    out = subprocess.run(
        [sys.executable, "-c", EXITING],
        env=_env(OPENSTACKAI_NB_HISTORY=str(path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip() == "exiting", out.stderr
    got = [(r.input, r.status) for r in RunHistory(path)]
    assert got[0] == ("first", RunStatus.COMPLETED)
    assert got[1][0] == "in flight" and got[1][1] in (RunStatus.CANCELLED, RunStatus.FAILED)
