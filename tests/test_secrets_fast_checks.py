"""The scrubber's cheap pre-checks say what its regular expressions would (issue 25).

`_keylike_hint` must never say "no" where `_KEYLIKE` matches, `_query_hint` must say exactly
what `_QUERY_HINT` says, and `_secret_start` (where a streamed text is held back) must give
what the plain loop over every prefix of the secret gave. Checked on texts drawn from pieces
that make the patterns match, nearly match and not match, from a fixed seed.
"""

from __future__ import annotations

import random

import pytest

from openstackai_nb import _secrets
from openstackai_nb._secrets import REDACTED, StreamScrubber, register_secret, scrub

PIECES = ["?", "&", ";", "=", "=", "key", "keys", "api-key", "token", "sig", "auth", "credentials", "pass", "word",
          "sk-", "pk-", "ak-", "rk-", "k-", "task-", "Bearer ", "bearer", "ghp_", "gho_", "xoxb", "hf_", "x",
          "a1B2c3D4e5F6g7H8", "_", ".", " ", "\n", "/", "https://h.example/p", "é"]  # fmt: skip


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30))) for _ in range(n)]


@pytest.mark.parametrize("seed", range(4))
def test_hints_never_miss_a_key_shape(seed: int) -> None:
    for text in texts(2_000, seed):
        lower = text.lower()
        if _secrets._KEYLIKE().search(text):
            assert _secrets._keylike_hint(lower), text
        assert _secrets._query_hint(lower) == (_secrets._QUERY_HINT().search(lower) is not None), text


def test_a_text_of_many_equal_signs_gets_the_regex() -> None:
    plain = "a=b " * 100  # one "=" in 4 characters
    assert not _secrets._query_hint(plain)
    assert _secrets._query_hint(plain + "?api_key=v")
    assert scrub(plain + "https://x.example/?api_key=abcdefgh") == plain + f"https://x.example/?api_key={REDACTED}"


def _secret_start_before(text: str, secret: str, cut: int) -> int:
    """`_secret_start` as it was: every prefix of the secret tried against the end of the text."""
    size = len(secret)
    found = text.find(secret, max(0, cut - size + 1))
    if 0 <= found < cut:
        return found
    for k in range(min(size - 1, len(text)), 0, -1):
        if text.endswith(secret[:k]):
            return min(cut, len(text) - k)
    return cut


@pytest.mark.parametrize("secret", ["abcabd-secret-1", "aaaaaaaa", "xyz-0123456789"])
def test_secret_start_is_the_earliest_start_a_cut_would_split(secret: str) -> None:
    rng = random.Random(25)
    for _ in range(3_000):
        text = "".join(rng.choice([secret[: rng.randint(1, len(secret))], "a", "b", " ", "x"]) for _ in range(6))
        for cut in {0, len(text) // 2, len(text)}:
            assert _secrets._secret_start(text, secret, cut) == _secret_start_before(text, secret, cut), (text, cut)


def test_a_stream_cut_inside_a_registered_secret_shows_none_of_it() -> None:
    register_secret("stream-secret-0123456789")
    for size in (1, 2, 3, 5, 7):
        text = "before stream-secret-0123456789 after"
        scrubber = StreamScrubber()
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        shown = "".join(scrubber.feed(p) for p in pieces) + scrubber.feed("", final=True)
        assert shown == f"before {REDACTED} after"
