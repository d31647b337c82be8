from __future__ import annotations

import pytest

from openstackai_nb import _secrets
from openstackai_nb._secrets import REDACTED, register_secret, scrub, scrub_data


def test_registered_and_env_secrets_and_key_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    register_secret("my-private-value-123")
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "zzzz-env-secret-zzzz")
    monkeypatch.setattr(_secrets, "_env_cache", (0.0, frozenset()))
    text = (
        "a my-private-value-123 b zzzz-env-secret-zzzz c Authorization: Bearer abcdefghijkl.mnop "
        "d sk-proj-ABCDEFGHIJKLMNOP e ghp_abcdefghijklmnopqr"
    )
    out = scrub(text)
    for secret in ["my-private-value-123", "zzzz-env-secret-zzzz", "abcdefghijkl", "sk-proj", "ghp_abc"]:
        assert secret not in out
    assert out.count(REDACTED) == 5 and "Bearer [REDACTED]" in out


def test_plain_text_untouched() -> None:
    assert scrub("a skinny task-list, nothing secret") == "a skinny task-list, nothing secret"


def test_scrub_data_redacts_secret_named_fields() -> None:
    data = {"headers": {"Authorization": "whatever", "x": ["sk-abcdefghijklmnopqrst"]}, "api_key": "k", "n": 3}
    assert scrub_data(data) == {"headers": {"Authorization": REDACTED, "x": [REDACTED]}, "api_key": REDACTED, "n": 3}
