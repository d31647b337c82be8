from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest

from openstackai_nb._secrets import REDACTED, StreamScrubber, register_secret, scrub, scrub_data
from openstackai_nb.errors import ConfigError, HistoryError


def test_registered_and_env_secrets_and_key_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    register_secret("my-private-value-123")
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "zzzz-env-secret-zzzz")
    text = (
        "a my-private-value-123 b zzzz-env-secret-zzzz c Authorization: Bearer abcdefghijkl.mnop "
        "d sk-proj-ABCDEFGHIJKLMNOP e ghp_abcdefghijklmnopqr"
    )
    out = scrub(text)
    for secret in ["my-private-value-123", "zzzz-env-secret-zzzz", "abcdefghijkl", "sk-proj", "ghp_abc"]:
        assert secret not in out
    assert out.count(REDACTED) == 5 and "Bearer [REDACTED]" in out


def test_a_variable_set_or_changed_now_is_scrubbed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A notebook cell that sets a key and runs at once: no cache may hide it for a moment.
    assert scrub("plainpassword123") == "plainpassword123"
    monkeypatch.setenv("MY_SERVICE_API_KEY", "plainpassword123")
    assert scrub("x plainpassword123 y") == f"x {REDACTED} y"
    monkeypatch.setenv("MY_SERVICE_API_KEY", "otherpassword456")  # same names, new value
    assert scrub("otherpassword456") == REDACTED


def test_plain_text_untouched() -> None:
    assert scrub("a skinny task-list, nothing secret") == "a skinny task-list, nothing secret"


def test_scrub_data_redacts_secret_named_fields() -> None:
    data = {"headers": {"Authorization": "whatever", "x": ["sk-abcdefghijklmnopqrst"]}, "api_key": "k", "n": 3}
    assert scrub_data(data) == {"headers": {"Authorization": REDACTED, "x": [REDACTED]}, "api_key": REDACTED, "n": 3}


@pytest.mark.parametrize("seed", range(40))
def test_stream_scrubber_never_shows_a_split_secret(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    monkeypatch.setenv("PLAIN_API_KEY", "plainpassword123")
    register_secret("pass phrase, with: spaces!")
    text = (
        "Keys: plainpassword123 then sk-abcdefghijklmnopqrstuv, Authorization: Bearer abcdefghijklmnop "
        "and pass phrase, with: spaces! end. Again:plainpassword123"
    )
    rng = random.Random(seed)
    scrubber, shown, i = StreamScrubber(), [], 0
    while i < len(text):
        j = i + rng.randint(1, 7)
        shown.append(scrubber.feed(text[i:j]))
        i = j
    shown.append(scrubber.feed("", final=True))
    assert "".join(shown) == scrub(text)
    for part in ("plainpass", "password123", "abcdefghijklmnop", "phrase, with", "sk-abcdef"):
        assert all(part not in s for s in shown) and part not in "".join(shown)


def test_stream_scrubber_holds_only_what_could_be_a_secret() -> None:
    s = StreamScrubber()
    assert s.feed("Hello world, how are") == "Hello world, how "  # the last word may go on
    assert s.feed(" you? Fine") == "are you? "
    assert s.feed(" Bearer ") == "Fine "  # a key may follow
    assert s.feed("x ") == "Bearer x "
    assert s.feed("", final=True) == ""


def test_log_records_of_the_package_logger_are_scrubbed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PLAIN_API_KEY", "plainpassword123")
    log = logging.getLogger("openstackai_nb")
    with caplog.at_level(logging.INFO, logger="openstackai_nb"):
        log.info("tool said %s and %r", "plainpassword123", {"k": "sk-abcdefghijklmnopqrstuv"})
        try:
            raise RuntimeError("boom plainpassword123")
        except RuntimeError:
            log.exception("failed with plainpassword123")
    assert len(caplog.records) == 2
    assert "plainpassword123" not in caplog.text and "sk-abcdefghijklmnop" not in caplog.text
    assert "tool said [REDACTED]" in caplog.text and "RuntimeError: boom [REDACTED]" in caplog.text


def test_error_messages_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIN_API_KEY", "plainpassword123")
    for err in (ConfigError("bad URL http://u:plainpassword123@h"), HistoryError("sk-abcdefghijklmnopqrstuv")):
        assert "plainpassword123" not in str(err) and "sk-abcdef" not in str(err)
        assert "plainpassword123" not in repr(err) and REDACTED in str(err)


def test_verbose_log_and_trace_of_a_run_carry_no_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from openstackai_nb import Agent, RunConfig, Runner
    from openstackai_nb.models.function import FunctionModel, call

    monkeypatch.setenv("PLAIN_API_KEY", "plainpassword123")

    def explode() -> str:
        """Raise with the key."""
        raise RuntimeError("cannot use plainpassword123")

    def model(messages: list[Any], info: Any) -> Any:
        return call("explode") if info.turn == 1 else call("plainpassword123") if info.turn == 2 else "done"

    agent = Agent(name="A", model=FunctionModel(model), tools=[explode])
    with caplog.at_level(logging.INFO, logger="openstackai_nb"):
        result = Runner.run_sync(agent, "hi", config=RunConfig(verbose=True))
    assert result.tool_calls[0].error == "tool 'explode' raised RuntimeError: cannot use plainpassword123"  # the data
    assert "cannot use [REDACTED]" in caplog.text and "plainpassword123" not in caplog.text
    spans = json.dumps([s.model_dump() for s in result.trace])
    assert "cannot use [REDACTED]" in spans and "plainpassword123" not in spans  # unknown tool's name too
