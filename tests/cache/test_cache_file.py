"""The cache file: where it is, what it holds (never a key), TTL, clear, size bound, several processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import openstackai_nb.cache as cache
from openstackai_nb import Agent, Runner
from openstackai_nb.errors import ConfigError
from openstackai_nb.models import OpenAIChatModel
from openstackai_nb.runner import RunConfig
from tests._server import OpenAIServer, text_stream

ON = RunConfig(cache=True)
KEY = "sk-test-SECRET-0123456789abcdef"  # the openai_server fixture's key


def agent(server: OpenAIServer) -> Agent:
    return Agent(name="F", model=OpenAIChatModel("gpt-test", base_url=server.url, max_retries=0))


def test_the_file_sits_beside_the_history_and_is_private(openai_server: OpenAIServer, cache_dir: Path) -> None:
    Runner.run_sync(agent(openai_server), "where", config=ON)
    path = cache_dir / "cache.sqlite"
    assert cache.path() == path and cache.stats().path == path and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


def test_history_off_keeps_the_cache_in_memory(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSTACKAI_NB_HISTORY", "off")
    a = agent(openai_server)
    Runner.run_sync(a, "mem", config=ON)
    assert Runner.run_sync(a, "mem", config=ON).cached_calls == 1
    assert cache.path() is None and cache.stats().path is None


def test_a_credential_never_reaches_the_cache_file(openai_server: OpenAIServer, cache_dir: Path) -> None:
    # The key is in the request headers, and the model even says it back: neither is stored.
    openai_server.script(text_stream(f"your key is {KEY} ok"))
    a = agent(openai_server)
    first = Runner.run_sync(a, f"echo {KEY}", config=ON)
    assert first.cached_calls == 0
    openai_server.requests.clear()
    again = Runner.run_sync(a, f"echo {KEY}", config=ON)
    assert again.cached_calls == 1 and openai_server.requests == []
    assert KEY not in (again.final_output or "")
    raw = b"".join(p.read_bytes() for p in cache_dir.glob("cache.sqlite*"))
    assert raw and KEY.encode() not in raw and b"SECRET-0123456789" not in raw


def test_ttl_expires_entries(openai_server: OpenAIServer) -> None:
    a = agent(openai_server)
    Runner.run_sync(a, "ttl", config=ON)
    time.sleep(0.05)
    # Older than the TTL: a miss (and the fresh answer replaces the old one).
    assert Runner.run_sync(a, "ttl", config=RunConfig(cache=True, cache_ttl=0.01)).cached_calls == 0
    assert Runner.run_sync(a, "ttl", config=RunConfig(cache=True, cache_ttl=3600)).cached_calls == 1
    assert len(openai_server.requests) == 2


def test_stats_and_clear(openai_server: OpenAIServer) -> None:
    a = agent(openai_server)
    before = cache.stats()
    for prompt in ("a", "b", "c"):
        Runner.run_sync(a, prompt, config=ON)
    Runner.run_sync(a, "a", config=ON)
    s = cache.stats()
    assert s.entries == 3 and s.bytes > 0 and s.max_bytes == cache.DEFAULT_MAX_BYTES
    assert (s.hits - before.hits, s.misses - before.misses) == (1, 3)
    assert cache.clear(older_than=3600) == 0
    time.sleep(0.02)
    assert cache.clear(older_than=0.01) == 3 and cache.stats().entries == 0
    Runner.run_sync(a, "a", config=ON)
    assert cache.clear() == 1
    with pytest.raises(ConfigError, match="older_than"):
        cache.clear(older_than=-1)


def test_the_size_bound_evicts_the_oldest_first(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    a = agent(openai_server)
    big = "word " * 4000  # ~20 KB an answer
    openai_server.handler = lambda request: text_stream(big.strip())
    monkeypatch.setenv("OPENSTACKAI_NB_CACHE_MAX_BYTES", "150000")
    cache.clear()
    for i in range(20):
        Runner.run_sync(a, f"q{i}", config=ON)
    s = cache.stats()
    assert 0 < s.entries < 20 and s.bytes <= 150_000
    # The newest answer is kept, the first is gone.
    assert Runner.run_sync(a, "q19", config=ON).cached_calls == 1
    assert Runner.run_sync(a, "q0", config=ON).cached_calls == 0
    with pytest.raises(ConfigError, match="max_bytes"):
        cache.configure(max_bytes=0)


_WORKER = """
import os, sys
from openstackai_nb import Agent, Runner
from openstackai_nb.models import OpenAIChatModel
from openstackai_nb.runner import RunConfig
model = OpenAIChatModel("gpt-test", base_url=sys.argv[1], api_key="sk-test-SECRET-0123456789abcdef")
agent = Agent(name="P", model=model)
hits = 0
for round in range(2):
    for i in range(int(sys.argv[2])):
        hits += Runner.run_sync(agent, f"shared {i}", config=RunConfig(cache=True)).cached_calls
print(hits)
"""


def test_two_processes_fill_and_read_one_cache_at_once(openai_server: OpenAIServer, cache_dir: Path) -> None:
    n = 15
    env = {**os.environ, "OPENSTACKAI_NB_HISTORY": str(cache_dir / "history.sqlite")}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, openai_server.url, str(n)], env=env, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=100)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    hits = sum(int(o.strip()) for o in outs)
    # Each process runs every prompt twice: its second round is all hits, and some of its first
    # round may have been filled by the other process already.
    assert hits >= 2 * n
    assert len(openai_server.requests) == 4 * n - hits
    assert cache.stats().entries == n


def test_an_unwritable_place_keeps_the_cache_in_memory(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENSTACKAI_NB_HISTORY", "/proc/openstackai-nb-nowhere/history.sqlite")
    a = agent(openai_server)
    with caplog.at_level("WARNING", logger="openstackai_nb"):
        Runner.run_sync(a, "nowhere", config=ON)
    assert Runner.run_sync(a, "nowhere", config=ON).cached_calls == 1  # served from memory
    assert "cannot use the response cache" in caplog.text and "kept in memory" in caplog.text
    assert cache.stats().path is None


def test_a_bad_size_bound_is_a_config_error(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSTACKAI_NB_CACHE_MAX_BYTES", "lots")
    with pytest.raises(ConfigError, match="OPENSTACKAI_NB_CACHE_MAX_BYTES='lots'"):
        Runner.run_sync(agent(openai_server), "bound", config=ON)
