r"""Keep secrets out of every output, and control characters out of every display: the one scrubber.

Errors, logs, history, export, replay and every display (run views, reprs, the live view,
progress tables) pass through it.

Secrets the process knows are replaced wherever they appear: API keys given to models, the
credentials in a base URL's query string (``?api-key=...``), values given to `register_secret`,
and the values of environment variables whose name holds KEY, SECRET, TOKEN, PASSWORD, PASSWD,
CREDENTIAL(S), AUTH or PRIVATE as a word part (`is_secret_name`; short values, booleans, numbers
and paths skipped: `env_value_secrets`). Key-shaped strings (``sk-...``, ``Bearer ...``, a
``?key=...`` parameter) are replaced even when we never saw them. Nothing is read at import; a
variable set in a notebook cell is seen by the very next scrub (the names are looked through
again when the set of names changes, the values are read each time).

`shown(text)` is what a display may show: scrubbed, then `inert` (control characters and bidi
overrides written as ``\x1b``, ``\u202e``). Files and data (history, exports, cassettes) are
scrubbed only: they keep the raw text.

Text that arrives in pieces (a model's stream) goes through `StreamScrubber`, which holds back
the end of what it has seen while that end could still be the start of a secret. Records of the
``openstackai_nb`` logger are scrubbed by a filter installed when this module is imported.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from openstackai_nb._lazy import LazyPattern
from openstackai_nb._secret_names import env_value_secrets, is_secret_name, url_secrets

__all__ = [
    "REDACTED",
    "StreamScrubber",
    "env_value_secrets",
    "inert",
    "install_log_filter",
    "is_secret_name",
    "may_hold_secret",
    "register_secret",
    "register_url_secrets",
    "scrub",
    "scrub_data",
    "shown",
    "url_secrets",
]

REDACTED = "[REDACTED]"
_known: set[str] = set()


_KEYLIKE = LazyPattern(
    r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk|pk|rk|ak)-[A-Za-z0-9_-]{12,}"
    r"|\b(?:ghp|gho|xox[abp]|hf)_[A-Za-z0-9]{12,}"
    # a credential in a URL's query string (?key=, ?api-key=, ?access_token=, &sig=...): the value goes
    r"|([?&;](?:[A-Za-z0-9_.-]*?(?:key|token|secret|password|passwd|sig|signature|auth|credentials?)"
    r"s?)=)[^&#\s'\"<>\\]+"  # (not a backslash: a JSON text's escapes stay whole)
)
_SECRET_FIELD = LazyPattern(r"(?i)^(authorization|api[-_]?key|x-api-key|token|secret|password)$")

_MIN_REGISTERED = 6
"""Values given to `register_secret` shorter than this are ignored (they would blank out words)."""


def register_secret(value: str | None) -> None:
    """Remember a secret so that every output of the package shows ``[REDACTED]`` in its place.

    The values of API keys given to models and of secret-named environment variables (see
    docs/notebook.md) are known already; register anything else a tool or a prompt may carry
    (a database password read from a file, a signed URL's signature...). Values shorter than 6
    characters are ignored: they would blank out ordinary words.

    Example:
        >>> from openstackai_nb import register_secret
        >>> register_secret("correct-horse-battery-staple")
    """
    if value and len(value) >= _MIN_REGISTERED and value not in _known:
        _known.add(value)
        global _ordered_env
        _ordered_env = None  # the ordered list is made again on next use


def register_url_secrets(url: str) -> None:
    """Register the credentials a URL carries (`url_secrets`): a base URL with ``?key=...``."""
    for value in url_secrets(url):
        if len(value) >= _MIN_REGISTERED:
            register_secret(value)


# Substrings without which _KEYLIKE cannot match: a cheap test that skips the regex (history
# scrubs every recorded run, so this is on the hot path). Each is one search of the whole text:
# "k-" stands for the four key prefixes until it is found. A credential in a query string is
# looked for only before an "=" that follows one of its words.
_KEYLIKE_HINTS = ("bearer", "k-", "ghp_", "gho_", "xox", "hf_")
_KEY_PREFIXES = ("sk-", "pk-", "rk-", "ak-")
_QUERY_HINT = LazyPattern(r"[?&;][a-z0-9_.-]*?(?:key|token|secret|password|passwd|sig|signature|auth|credentials?)s?=")
"""A query parameter that may carry a credential, in lower case."""
_QUERY_WORDS = tuple(
    word + plural
    for word in ("key", "token", "secret", "password", "passwd", "sig", "signature", "auth", "credential")
    for plural in ("", "s")
)
"""How the name before an "=" ends when `_QUERY_HINT` can match there."""


def _keylike_hint(lower: str) -> bool:
    """Could `_KEYLIKE` match the text whose lower case is `lower`?"""
    for hint in _KEYLIKE_HINTS:
        if hint in lower and (hint != "k-" or any(prefix in lower for prefix in _KEY_PREFIXES)):
            return True
    return "=" in lower and _query_hint(lower)


def _query_hint(lower: str) -> bool:
    """`_QUERY_HINT`, searched only where it can match.

    The regex costs ~9 us per KB of text, the loop over its "=" signs ~0.3 us per sign (a C
    `find` and `endswith` each): a text with more than one "=" in 32 characters gets the regex.
    """
    if lower.count("=") * 32 > len(lower):
        return _QUERY_HINT().search(lower) is not None
    at = lower.find("=")
    while at >= 0:
        if lower.endswith(_QUERY_WORDS, 0, at):
            return _QUERY_HINT().search(lower) is not None  # here it may: the regex says
        at = lower.find("=", at + 1)
    return False


# The environment as last read: a fingerprint of its names, the secret-named ones, their values,
# and the secrets found in those values.
_env_names: tuple[int, tuple[str, ...]] = (0, ())
_env_values: tuple[str | None, ...] = ()
_env_found: tuple[str, ...] = ()
_ordered: tuple[str, ...] = ()
"""Every known secret, longest first."""
_ordered_env: tuple[str, ...] | None = None
"""The environment's secrets `_ordered` was made with (compared by identity: a new tuple, made again)."""


def _env_secrets() -> tuple[str, ...]:
    # The secret-named variables are found again only when the set of names changes (a hash of
    # the raw keys, ~1 us); their values are read on every call (a dict lookup each), so a key
    # exported in a notebook cell is scrubbed from the next output on. The values are judged
    # (length, path, URL...) only when one of them changed.
    global _env_names, _env_values, _env_found
    raw = getattr(os.environ, "_data", None)
    fingerprint = hash(tuple(raw)) if isinstance(raw, dict) else hash(tuple(os.environ))
    if fingerprint != _env_names[0]:
        _env_names = (fingerprint, tuple(k for k in os.environ if is_secret_name(k)))
    values = tuple(os.environ.get(name) for name in _env_names[1])
    if values != _env_values:
        found = dict.fromkeys(s for v in values if v for s in env_value_secrets(v))
        _env_values, _env_found = values, tuple(found)
    return _env_found


def _secrets_now() -> tuple[str, ...]:
    """Every secret `scrub` replaces literally (registered ones and secret-named variables), longest first."""
    global _ordered, _ordered_env
    env = _env_secrets()
    if env is not _ordered_env:
        # Longest first: a secret that contains another is replaced whole.
        _ordered = tuple(sorted(set(_known).union(env), key=lambda s: (-len(s), s)))
        _ordered_env = env
    return _ordered


def may_hold_secret(text: str) -> bool:
    """A fast pre-check: False when `scrub(text)` would certainly return `text` unchanged.

    For large texts on the hot path (a run's JSON as the history writes it): the hint test and
    substring searches are a fraction of what the regex costs.
    """
    if _keylike_hint(text.lower()):
        return True
    return any(secret in text for secret in _secrets_now())


def scrub(text: str) -> str:
    """Return `text` with known secrets and key-shaped strings replaced by [REDACTED]."""
    return _scrub(text, _secrets_now()) if text else text


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    # One substring search per secret (C speed: str.find is a two-way search with memchr), and
    # a replace for those found, longest first. Measured against one compiled alternation of
    # every secret (benchmarks/bench_scrub.py): CPython's re tries the alternatives at each
    # position, which made a 20 KB text with a secret 3-8x slower to scrub than this loop.
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if not _keylike_hint(text.lower()):
        return text
    return _KEYLIKE().sub(lambda m: (m.group(1) or m.group(3) or "") + REDACTED, text)


def scrub_data(value: Any) -> Any:
    """Scrub every string in JSON-like data; values of secret-named keys become [REDACTED]."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_FIELD().match(k) and v else scrub_data(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_data(v) for v in value]
    return value


# -- what a person sees -------------------------------------------------------------------------
_CONTROL = LazyPattern("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\r(?!\n)")
"""C0 and C1 controls but newline, tab and a CR before a newline; DEL; bidi embeddings, overrides, isolates."""


def _mark(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r":
        return "\\r"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    r"""Return `text` with its control characters shown as escapes that do nothing, as `repr` writes them.

    ESC (ANSI colours, OSC-8 links), BEL, BS, NUL and every other C0/C1 control but newline and
    tab, a carriage return not followed by a newline (it would let text overwrite a terminal
    line), DEL, and the bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069,
    which reorder what a reader sees) become ``\x1b``, ``\r``, ``\u202e``... The left-to-right
    and right-to-left marks (U+200E, U+200F) stay: real Arabic and Hebrew text needs them, and
    they cannot reorder a run of letters. For displays only: data and files keep the raw text.

    Example:
        >>> inert("\x1b[31mred\x1b[0m \u202eevil")
        '\\x1b[31mred\\x1b[0m \\u202eevil'
    """
    if not text or not _CONTROL().search(text):
        return text
    return _CONTROL().sub(_mark, text)


def shown(text: str) -> str:
    """Return `text` as a display may show it: scrubbed of secrets (`scrub`), then `inert`."""
    return inert(scrub(text))


# -- streamed text --------------------------------------------------------------------------------
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=-")
_BEARER_END = LazyPattern(r"(?i)\bbearer\s+\Z")


def _run_start(text: str, pos: int) -> int:
    """Move `pos` back to the start of the run of key characters it is inside (or ends)."""
    at_end = pos == len(text)
    if not at_end and (pos == 0 or text[pos - 1] not in _TOKEN_CHARS or text[pos] not in _TOKEN_CHARS):
        return pos
    while pos > 0 and text[pos - 1] in _TOKEN_CHARS:
        pos -= 1
    if pos > 0 and text[pos - 1] in "?&;":
        pos -= 1  # "?key=<value>": the query string's separator stays with its parameter
    # "Bearer <key>": the word and its spaces stay with the key that follows them.
    bearer = _BEARER_END().search(text, max(0, pos - 40), pos)
    return bearer.start() if bearer else pos


def _secret_start(text: str, secret: str, cut: int) -> int:
    """The earliest start of `secret` that a cut at `cut` would split; else `cut`.

    A start counts when the secret crosses the cut, or when `text` ends with a part of it.
    """
    size = len(secret)
    found = text.find(secret, max(0, cut - size + 1))
    if 0 <= found < cut:
        return found
    # Does the text end with the secret's first characters? The earliest such end is the longest;
    # only where the secret's first character occurs can one begin (a C search each).
    first = secret[0]
    at = text.find(first, max(0, len(text) - size + 1))
    while at >= 0:
        if secret.startswith(text[at:]):
            return min(cut, at)
        at = text.find(first, at + 1)
    return cut


class StreamScrubber:
    """Scrub text that arrives in pieces, where a secret can be split across two of them.

    `feed(piece)` returns the part of everything fed so far that is safe to show, scrubbed and
    made `inert` (it feeds displays only): it
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
        """Add `piece`; return the newly showable text, scrubbed and inert (all of it when `final`)."""
        text = self.held + piece if self.held else piece
        if final or not text:
            self.held = ""
            return shown(text)
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
        if cut and text[cut - 1] == "\r":
            cut -= 1  # a CR before a newline is a line end, a CR alone is shown: wait for the next piece
        self.held = text[cut:]
        return inert(_scrub(text[:cut], secrets)) if cut else ""  # the secrets read once per piece


# -- logging --------------------------------------------------------------------------------------
class _ScrubFilter(logging.Filter):
    """Scrubs a record's message, arguments, traceback and stack before any handler sees it.

    The message is also made `inert`: a log line goes to a terminal or a notebook, where a
    tool's ANSI sequence in it would act.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep its parts, scrubbed
            message = f"{record.msg} {record.args}"
        record.msg, record.args = shown(message), ()
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
