"""Keep secrets out of every output: one scrubber used by errors, logs, history, export, replay.

Keys the process knows (API keys given to models, `*_API_KEY` / `*_TOKEN` variables) are
registered and replaced wherever they appear; key-shaped strings (``sk-...``, ``Bearer ...``)
are replaced even when we never saw them.
"""

from __future__ import annotations

import os
import re
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


def _env_secrets() -> set[str]:
    return {v for k, v in os.environ.items() if v and len(v) >= 6 and _SECRET_ENV.search(k)}


def scrub(text: str) -> str:
    """Return `text` with known secrets and key-shaped strings replaced by [REDACTED]."""
    if not text:
        return text
    for secret in _known | _env_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
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
