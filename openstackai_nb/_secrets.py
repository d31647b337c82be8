"""Keep secrets out of every output: one scrubber used by errors, logs, history, export, replay.

Keys the process knows (API keys given to models, `*_API_KEY` / `*_TOKEN` variables) are
registered and replaced wherever they appear; key-shaped strings (``sk-...``, ``Bearer ...``)
are replaced even when we never saw them.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

__all__ = ["REDACTED", "register_secret", "scrub", "scrub_data"]

REDACTED = "[REDACTED]"
_known: set[str] = set()
_KEYLIKE = re.compile(
    r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk|pk|rk|ak)-[A-Za-z0-9_-]{12,}"
    r"|\b(?:ghp|gho|xox[abp]|hf)_[A-Za-z0-9]{12,}"
)
_SECRET_ENV = re.compile(r"(?i)(API_KEY|_TOKEN|_SECRET|PASSWORD)$")
_SECRET_FIELD = re.compile(r"(?i)^(authorization|api[-_]?key|x-api-key|token|secret|password)$")


def register_secret(value: str | None) -> None:
    """Remember a secret so that `scrub` removes it wherever it shows up."""
    if value and len(value) >= 6:
        _known.add(value)


# Substrings without which _KEYLIKE cannot match: a cheap test that skips the regex (history
# scrubs every recorded run, so this is on the hot path).
_KEYLIKE_HINTS = ("bearer", "sk-", "pk-", "rk-", "ak-", "ghp_", "gho_", "xox", "hf_")
_env_cache: tuple[float, frozenset[str]] = (0.0, frozenset())


def _env_secrets() -> frozenset[str]:
    # Re-read at most once a second: a key exported in a notebook cell is seen almost at once.
    global _env_cache
    now = time.monotonic()
    if now - _env_cache[0] > 1.0:
        found = frozenset(v for k, v in os.environ.items() if v and len(v) >= 6 and _SECRET_ENV.search(k))
        _env_cache = (now, found)
    return _env_cache[1]


def scrub(text: str) -> str:
    """Return `text` with known secrets and key-shaped strings replaced by [REDACTED]."""
    if not text:
        return text
    for secret in _known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for secret in _env_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    lower = text.lower()
    if not any(hint in lower for hint in _KEYLIKE_HINTS):
        return text
    return _KEYLIKE.sub(lambda m: (m.group(1) or "") + REDACTED, text)


def scrub_data(value: Any) -> Any:
    """Scrub every string in JSON-like data; values of secret-named keys become [REDACTED]."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_FIELD.match(k) and v else scrub_data(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_data(v) for v in value]
    return value
