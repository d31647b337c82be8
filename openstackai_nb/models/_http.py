"""Pooled `httpx2.AsyncClient`s, one small set per running event loop.

Clients are keyed weakly by their loop, so a client is never handed to a different (or dead)
loop, and the ones that belonged to a closed loop are dropped with it. httpx2 is imported here,
on the first real request, never at package import.

Why several clients per loop: httpx2's connection pool walks (and probes with a socket poll)
every connection it holds on each request and each response, so its cost grows with the
number of connections. Under hundreds of concurrent runs that walk dominated the client's CPU
(measured in benchmarks/bench_concurrency.py: about 4x less CPU with 8 smaller pools; going from
8 clients of 32 requests to up to 64 clients of 4 cut another 10-15% of the client's CPU per run
at 50 and 300 concurrent runs). Requests fill the first client up to `_FILL` in flight before the
next one is used, so a notebook running one request at a time still reuses a single warm
connection. Clients are created only when that many requests are in flight at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import weakref
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator

    import httpx2

__all__ = ["ALLOW_NON_LOOPBACK", "aclose_all", "check_host_allowed", "is_local_url", "lease"]

ALLOW_NON_LOOPBACK = True
"""Tests set this to False so that any request leaving loopback fails loudly."""

_SHARDS = 64
_FILL = 4  # requests in flight on one client before the next client is used
_MAX_CONNECTIONS = 1000
_MAX_KEEPALIVE = 500


class _LoopClients:
    """The clients of one event loop and how many requests each has in flight."""

    __slots__ = ("clients", "inflight")

    def __init__(self) -> None:
        self.clients: list[httpx2.AsyncClient | None] = [None] * _SHARDS
        self.inflight = [0] * _SHARDS


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()
_ssl_context: ssl.SSLContext | None = None


def _pool() -> _LoopClients:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _LoopClients()
    return pool


def _client(pool: _LoopClients, index: int) -> httpx2.AsyncClient:
    global _ssl_context
    client = pool.clients[index]
    if client is None or client.is_closed:
        import httpx2

        if _ssl_context is None:
            _ssl_context = httpx2.create_ssl_context()  # shared: building one costs ~30-150 ms
        client = httpx2.AsyncClient(
            # Time limits are the run's (max_time, timeout_per_turn), enforced by the loop around
            # every await; httpx2 only bounds connecting, so a dead host fails fast.
            timeout=httpx2.Timeout(None, connect=15.0),
            limits=httpx2.Limits(
                max_connections=_MAX_CONNECTIONS // _SHARDS,
                max_keepalive_connections=_MAX_KEEPALIVE // _SHARDS,
                keepalive_expiry=30.0,
            ),
            verify=_ssl_context,
            follow_redirects=False,
            trust_env=False,
        )
        pool.clients[index] = client
    return client


@asynccontextmanager
async def lease() -> AsyncIterator[httpx2.AsyncClient]:
    """Borrow a client for one request: the first one with fewer than `_FILL` in flight."""
    pool = _pool()
    inflight = pool.inflight
    index = next((i for i in range(_SHARDS) if inflight[i] < _FILL), None)
    if index is None:
        index = min(range(_SHARDS), key=inflight.__getitem__)
    client = _client(pool, index)
    inflight[index] += 1
    try:
        yield client
    finally:
        inflight[index] -= 1


async def aclose_all() -> None:
    """Close the running loop's clients (others belong to other loops)."""
    loop = asyncio.get_running_loop()
    pool = _pools.pop(loop, None)
    if pool is not None:
        for client in pool.clients:
            if client is not None:
                await client.aclose()


def is_local_url(url: str) -> bool:
    """True when the URL's host is loopback or a private address (no key needed)."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "host.docker.internal") or host.endswith(".local"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return addr.is_loopback or addr.is_private


def check_host_allowed(url: str) -> None:
    """Raise when requests may not leave loopback (the test-suite guard) and `url` does."""
    if ALLOW_NON_LOOPBACK:
        return
    host = urlsplit(url).hostname or ""
    if not _resolves_to_loopback(host):
        from openstackai_nb.errors import UsageError

        raise UsageError(f"request to {host!r} blocked: this process only allows loopback model requests")


def _resolves_to_loopback(host: str) -> bool:
    """True when `host` is a loopback address or a name whose every address is loopback.

    A name is resolved (blocking, but only under the test-suite guard): the machine's own host
    name (`socket.gethostname()`, e.g. `vm` in /etc/hosts) reaches a server on 127.0.0.1.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    import socket

    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).partition("%")[0]).is_loopback for info in infos)
