"""One pooled `httpx2.AsyncClient` per running event loop.

Clients are keyed weakly by their loop, so a client is never handed to a different (or dead)
loop, and one that belonged to a closed loop is dropped with it. httpx2 is imported here, on
the first real request, never at package import.
"""

from __future__ import annotations

import asyncio
import ipaddress
import weakref
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx2

__all__ = ["ALLOW_NON_LOOPBACK", "aclose_all", "check_host_allowed", "get_client", "is_local_url"]

ALLOW_NON_LOOPBACK = True
"""Tests set this to False so that any request leaving loopback fails loudly."""

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient] = weakref.WeakKeyDictionary()


def get_client() -> httpx2.AsyncClient:
    """Return the pooled client of the running loop (created on first use)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        import httpx2

        client = httpx2.AsyncClient(
            # Time limits are the run's (max_time, timeout_per_turn), enforced by the loop around
            # every await; httpx2 only bounds connecting, so a dead host fails fast.
            timeout=httpx2.Timeout(None, connect=15.0),
            limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=500, keepalive_expiry=30.0),
            follow_redirects=False,
            trust_env=False,
        )
        _clients[loop] = client
    return client


async def aclose_all() -> None:
    """Close the running loop's client (others belong to other loops)."""
    loop = asyncio.get_running_loop()
    client = _clients.pop(loop, None)
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
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        from openstackai_nb.errors import UsageError

        raise UsageError(f"request to {host!r} blocked: this process only allows loopback model requests")
