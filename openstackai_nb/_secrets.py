"""Keep secrets out of every output: one scrubber for errors, logs, files and every display.

Errors, logs, history, export, replay and every display (run views, reprs, the live view,
progress tables) pass through it.

Keys the process knows (API keys given to models, `*_API_KEY` / `*_TOKEN` variables) are
registered and replaced wherever they appear; key-shaped strings (``sk-...``, ``Bearer ...``)
are replaced even when we never saw them. A variable set in a notebook cell is seen by the very
next scrub (the names are re-read when the set of variable names changes, the values each time).

Text that arrives in pieces (a model's stream) goes through `StreamScrubber`, which holds back
the end of what it has seen while that end could still be the start of a secret. Records of the
``openstackai_nb`` logger are scrubbed by a filter installed when this module is imported.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "REDACTED",
    "StreamScrubber",
    "install_log_filter",
    "may_hold_secret",
    "register_secret",
    "scrub",
    "scrub_data",
]

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
_env_names: tuple[int, tuple[str, ...]] = (0, ())


def _env_secrets() -> list[str]:
    # The secret-named variables are found again only when the set of names changes (a hash of
    # the raw keys, ~0.5 us); their values are read on every call, so a key exported in a
    # notebook cell is scrubbed from the next output on.
    global _env_names
    raw = getattr(os.environ, "_data", None)
    fingerprint = hash(tuple(raw)) if isinstance(raw, dict) else hash(tuple(os.environ))
    if fingerprint != _env_names[0]:
        _env_names = (fingerprint, tuple(k for k in os.environ if _SECRET_ENV.search(k)))
    out = []
    for name in _env_names[1]:
        value = os.environ.get(name)
        if value and len(value) >= 6:
            out.append(value)
    return out


def _secrets_now() -> Iterable[str]:
    """Every secret `scrub` replaces literally (registered ones and secret-named variables)."""
    return [*_known, *_env_secrets()]


def may_hold_secret(text: str) -> bool:
    """A fast pre-check: False when `scrub(text)` would certainly return `text` unchanged.

    For large texts on the hot path (a run's JSON as the history writes it): the hint test and
    substring searches are a fraction of what the regex costs.
    """
    lower = text.lower()
    if any(hint in lower for hint in _KEYLIKE_HINTS):
        return True
    return any(secret in text for secret in _secrets_now())


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


# -- streamed text --------------------------------------------------------------------------------
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=-")
_BEARER_END = re.compile(r"(?i)\bbearer\s+\Z")


def _run_start(text: str, pos: int) -> int:
    """Move `pos` back to the start of the run of key characters it is inside (or ends)."""
    at_end = pos == len(text)
    if not at_end and (pos == 0 or text[pos - 1] not in _TOKEN_CHARS or text[pos] not in _TOKEN_CHARS):
        return pos
    while pos > 0 and text[pos - 1] in _TOKEN_CHARS:
        pos -= 1
    # "Bearer <key>": the word and its spaces stay with the key that follows them.
    bearer = _BEARER_END.search(text, max(0, pos - 40), pos)
    return bearer.start() if bearer else pos


def _secret_start(text: str, secret: str, cut: int) -> int:
    """The earliest start of `secret` that a cut at `cut` would split; else `cut`.

    A start counts when the secret crosses the cut, or when `text` ends with a part of it.
    """
    size = len(secret)
    found = text.find(secret, max(0, cut - size + 1))
    if 0 <= found < cut:
        return found
    for k in range(min(size - 1, len(text)), 0, -1):  # the end of text is the start of the secret?
        if text.endswith(secret[:k]):
            return min(cut, len(text) - k)
    return cut


class StreamScrubber:
    """Scrub text that arrives in pieces, where a secret can be split across two of them.

    `feed(piece)` returns the part of everything fed so far that is safe to show, scrubbed: it
    holds back the end of the text while that end could still become a secret, namely the last
    run of key characters (letters, digits, ``._~+/=-``, with a ``Bearer`` before it) and the
    longest end that begins a known secret. Nothing is ever shown twice or changed after it is
    shown. `feed(piece, final=True)` (the end of the text) returns the rest.

    Example:
        >>> s = StreamScrubber()
        >>> s.feed("key: sk-abc") + s.feed("defghijklmnop0 ok", final=True)
        'key: [REDACTED] ok'
    """

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = ""
        """Text seen but not shown yet."""

    def feed(self, piece: str, *, final: bool = False) -> str:
        """Add `piece`; return the newly showable text, scrubbed (all of it when `final`)."""
        text = self.held + piece if self.held else piece
        if final or not text:
            self.held = ""
            return scrub(text)
        secrets = _secrets_now()
        cut = _run_start(text, len(text))
        while True:
            new = cut
            for secret in secrets:
                new = _secret_start(text, secret, new)
            new = _run_start(text, new)
            if new == cut:
                break
            cut = new
        self.held = text[cut:]
        return scrub(text[:cut])


# -- logging --------------------------------------------------------------------------------------
class _ScrubFilter(logging.Filter):
    """Scrubs a record's message, arguments, traceback and stack before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep its parts, scrubbed
            message = f"{record.msg} {record.args}"
        record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_log_filter(name: str = "openstackai_nb") -> None:
    """Scrub every record of the logger `name` (once: calling again adds nothing)."""
    target = logging.getLogger(name)
    if not any(isinstance(f, _ScrubFilter) for f in target.filters):
        target.addFilter(_ScrubFilter())


install_log_filter()
