"""Endpoint URLs and the server's say on retries: base URLs checked, chat URLs built, Retry-After read."""

from __future__ import annotations

import email.utils
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from openstackai_nb._secrets import register_url_secrets, scrub
from openstackai_nb.errors import ConfigError

if TYPE_CHECKING:
    import httpx2

__all__ = ["chat_url", "checked_base_url", "server_retry_after"]


def checked_base_url(url: str, source: str) -> str:
    """`url` without a trailing slash (its query string kept); ConfigError if not http(s) or with credentials.

    A credential in the query string (``?key=...``, ``?api-key=...``, ``?sig=...``) is sent as
    the endpoint wants, and registered as a secret: errors, the `endpoint` column and every
    display show ``[REDACTED]`` in its place.

    Args:
        url: the base URL.
        source: where it came from, named in the error (e.g. "base_url" or "OPENAI_BASE_URL").
    """
    url = url.strip()
    register_url_secrets(url)
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{source} must start with http:// or https://, got {_redacted(url)!r}")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise ConfigError(
            f"{source} has a user name or password in it ({_redacted(url)}): a key is never sent from a URL (it "
            "would go out as Basic auth and show wherever the URL is). Give the URL without the 'user:password@' "
            "part and pass the key as api_key=... (or its environment variable)"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), parts.query, ""))


def chat_url(base_url: str) -> str:
    """The chat-completions URL of a base URL: the path appended before any query string."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/chat/completions", parts.query, ""))


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#@]*@")


def _redacted(url: str) -> str:
    return scrub(_USERINFO.sub(r"\1***@", url))


def server_retry_after(response: httpx2.Response) -> float | None:
    """Seconds the server asks us to wait (retry-after-ms, retry-after in seconds or as a date), or None."""
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
