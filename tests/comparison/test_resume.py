"""compare(resume=...): a grid's finished runs come from history; only the rest is requested.

The loopback server counts requests per (agent, case, repeat) and answers deterministically, so
a resumed grid's DataFrame can be compared with an uninterrupted one's. The kill test runs the
first compare in a real subprocess and kills it with SIGKILL mid-grid.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pandas as pd
import pytest

from openstackai_nb import Agent, Case, compare
from openstackai_nb.errors import ConfigError
from openstackai_nb.models import OpenAIChatModel
from openstackai_nb.store import RunHistory, session
from tests._server import OpenAIServer, Reply, Request, json_reply, text_stream

CASES = [Case(f"What is {i} + {i}?", expected=str(2 * i), id=f"add-{i}") for i in range(6)]
TIMES = ["elapsed_time", "run_id", "resumed"]


class Counter:
    """A handler: a deterministic answer per request, counted by (system prompt, question, seed)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: collections.Counter[tuple[str, str, Any]] = collections.Counter()

    def __call__(self, request: Request) -> Reply:
        system = next((m["content"] for m in request.messages if m["role"] == "system"), "")
        user = next((m["content"] for m in request.messages if m["role"] == "user"), "")
        seed = request.body.get("seed")
        self.seen[(system, user, seed)] += 1
        text = f"{system[:5]} says {user} ({seed})"
        reply = text_stream(text) if request.body.get("stream") else json_reply(text)
        reply.delay = self.delay
        return reply


def _agents(url: str) -> list[Agent]:
    model = OpenAIChatModel("test-model", base_url=url, api_key="sk-test-SECRET-0123456789abcdef")
    return [
        Agent(name="careful", instructions="Be careful.", model=model),
        Agent(name="quick", instructions="Be quick.", model=model),
    ]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    keep = [c for c in a.columns if c not in TIMES]
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a[keep].reset_index(drop=True), b[keep].reset_index(drop=True))


@pytest.fixture
def counter(openai_server: OpenAIServer) -> Counter:
    handler = Counter()
    openai_server.handler = handler
    return handler


@pytest.fixture(autouse=True)
def _own_history(session_history: RunHistory) -> RunHistory:
    """Each test its own history file: a grid of another test must not be resumed here."""
    return session_history


def test_a_finished_grid_is_taken_whole_from_history(openai_server: OpenAIServer, counter: Counter, capsys) -> None:
    agents = _agents(openai_server.url)
    first = compare(agents, CASES, repeats=2, seed=7, progress=False)
    assert sum(counter.seen.values()) == 24 and not first["resumed"].any()
    capsys.readouterr()

    again = compare(agents, CASES, repeats=2, seed=7, progress=False, resume=True, score=lambda r, case: 1.0)
    assert sum(counter.seen.values()) == 24  # nothing requested again
    assert again["resumed"].all()
    assert list(again["run_id"]) == list(first["run_id"])  # the very runs of history
    assert (again["score"] == 1.0).all()  # scorers apply to resumed runs: a new scorer costs no call
    assert "24 of 24 runs from history, running 0" in capsys.readouterr().err
    _same(first, again.drop(columns="score"))


def test_a_changed_agent_is_a_new_grid(openai_server: OpenAIServer, counter: Counter, capsys) -> None:
    agents = _agents(openai_server.url)
    first = compare(agents, CASES[:2], progress=False)
    changed = [agents[0].clone(instructions="Be very careful."), agents[1]]
    again = compare(changed, CASES[:2], progress=False, resume=True)
    assert not again["resumed"].any()  # never a silent mix
    assert sum(counter.seen.values()) == 8
    assert "no finished run of this grid" in capsys.readouterr().err

    by_id = compare(changed, CASES[:2], progress=False, resume=first["run_id"].map(_compare_id).iloc[0])
    assert not by_id["resumed"].any()
    assert "was another grid" in capsys.readouterr().err


def _compare_id(run_id: str) -> str:
    return session.get_history()[run_id].metadata["compare_id"]


def test_resume_by_compare_id_and_more_repeats(openai_server: OpenAIServer, counter: Counter, capsys) -> None:
    agents = _agents(openai_server.url)
    first = compare(agents, CASES[:3], progress=False)
    compare_id = _compare_id(first["run_id"].iloc[0])
    again = compare(agents, CASES[:3], progress=False, resume=compare_id)
    assert again["resumed"].all() and sum(counter.seen.values()) == 6
    # More repeats change the grid's definition: a new grid, said in one line.
    more = compare(agents, CASES[:3], progress=False, repeats=2, resume=True)
    assert not more["resumed"].any()
    assert "no finished run of this grid" in capsys.readouterr().err


def test_failed_runs_are_run_again(openai_server: OpenAIServer, capsys) -> None:
    fail_once = {"n": 0}

    def handler(request: Request) -> Reply:
        user = next(m["content"] for m in request.messages if m["role"] == "user")
        if user == CASES[1].input and fail_once["n"] == 0:
            fail_once["n"] += 1
            return Reply(status=400, body=b'{"error": {"message": "bad request"}}')
        return text_stream(f"ok {user}") if request.body.get("stream") else json_reply(f"ok {user}")

    openai_server.handler = handler
    agents = _agents(openai_server.url)[:1]
    first = compare(agents, CASES[:3], progress=False)
    assert list(first["status"]) == ["COMPLETED", "FAILED", "COMPLETED"]
    openai_server.requests.clear()
    again = compare(agents, CASES[:3], progress=False, resume=True)
    assert list(again["status"]) == ["COMPLETED"] * 3
    assert list(again["resumed"]) == [True, False, True]
    assert len(openai_server.requests) == 1


def test_bad_resume_values(openai_server: OpenAIServer, counter: Counter) -> None:
    agents = _agents(openai_server.url)
    with pytest.raises(ConfigError, match="resume must be True, False or a compare id"):
        compare(agents, CASES[:1], progress=False, resume="yes")
    with pytest.raises(ConfigError, match="no run of that comparison in the history"):
        compare(agents, CASES[:1], progress=False, resume="cmp_000000000000")
    assert not counter.seen


_CHILD = textwrap.dedent(
    """
    import sys
    from openstackai_nb import Agent, Case, compare
    from openstackai_nb.models import OpenAIChatModel

    url = sys.argv[1]
    model = OpenAIChatModel("test-model", base_url=url, api_key="sk-test-SECRET-0123456789abcdef")
    agents = [
        Agent(name="careful", instructions="Be careful.", model=model),
        Agent(name="quick", instructions="Be quick.", model=model),
    ]
    cases = [Case(f"What is {i} + {i}?", expected=str(2 * i), id=f"add-{i}") for i in range(6)]
    print("started", flush=True)
    compare(agents, cases, repeats=2, seed=7, progress=False, concurrency=2)
    print("finished", flush=True)
    """
)


@pytest.mark.slow
def test_resume_after_kill_9_requests_only_what_had_not_finished(
    openai_server: OpenAIServer, session_history: RunHistory
) -> None:
    counter = Counter(delay=0.15)
    openai_server.handler = counter
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OPENSTACKAI_NB_HISTORY"] = str(session_history.path)  # the child writes where this test reads
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, openai_server.url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while sum(counter.seen.values()) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(counter.seen.values()) >= 10, child.stderr.read().decode() if child.poll() is not None else ""
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=10)  # reaps it and closes its pipes
    killed_at = collections.Counter(counter.seen)
    assert sum(killed_at.values()) < 24  # killed mid-grid

    agents = _agents(openai_server.url)
    counter.delay = 0.0
    resumed = compare(agents, CASES, repeats=2, seed=7, progress=False, concurrency=2, resume=True)
    # Which pairs the child finished: the history says (those it had committed before the kill).
    done_before = resumed[resumed["resumed"]]
    assert len(done_before) >= 6  # the child had finished some
    for row in resumed.itertuples():
        system = "Be careful." if row.agent == "careful" else "Be quick."
        key = (system, row.input, 7 + row.repeat)
        if row.resumed:
            assert counter.seen[key] == 1, f"{key} finished before the kill and was requested again"
        else:
            assert counter.seen[key] == killed_at[key] + 1  # in flight at the kill (or never started): once more
    assert (resumed["status"] == "COMPLETED").all() and len(resumed) == 24

    uninterrupted = compare(agents, CASES, repeats=2, seed=7, progress=False, concurrency=2)
    _same(uninterrupted, resumed)
