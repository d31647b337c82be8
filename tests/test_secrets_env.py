"""Which environment variables hold secrets (by word parts of their names), which values count, URL credentials."""

from __future__ import annotations

import os
import re

import pytest

import openstackai_nb
from openstackai_nb._secrets import (
    REDACTED,
    StreamScrubber,
    env_value_secrets,
    is_secret_name,
    may_hold_secret,
    register_secret,
    register_url_secrets,
    scrub,
    url_secrets,
)

SECRET_NAMES = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "ANTHROPIC_API_KEY",
    "AZURE_OPENAI_APIKEY",
    "DB_PASSWD",
    "PGPASSWORD",  # one glued word, ending in PASSWORD
    "POSTGRES_PASSWORD",
    "MYSQL_ROOT_PASSWORD",
    "SMTP_PASS",
    "SlackAuthToken",
    "stripeSecretKey",
    "PRIVATE_KEY_PEM",
    "SSH_PRIVATE_KEY",
    "DOCKER_REGISTRY_CREDENTIALS",
    "GCP_CREDENTIAL",
    "NPM_AUTH",
    "TWILIO_AUTH_TOKEN",
    "DJANGO_SECRET",
    "openai-api-key",
    "S3_ACCESS_KEY2",
    "APIKey",
]
NOT_SECRET_NAMES = [
    "KEYBOARD_LAYOUT",
    "MONKEY",
    "TOKENIZERS_PARALLELISM",
    "XAUTHORITY",
    "GIT_AUTHOR_NAME",
    "PASSENGER_COUNT",
    "BYPASS_PROXY",
    "PWD",
    "SECRETARY",
    "KEYRING_BACKEND",
    "PATH",
    "HOME",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_by_word_part(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_secret_name(name)
    value = f"v4lue-of-{name.lower()}-Zq9"
    monkeypatch.setenv(name, value)
    assert scrub(f"the tool said {value}.") == f"the tool said {REDACTED}."


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_names_that_only_contain_a_word_are_not_secret(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not is_secret_name(name)
    monkeypatch.setenv(name, "an-ordinary-value-123")
    assert scrub("an-ordinary-value-123") == "an-ordinary-value-123"


@pytest.mark.parametrize(
    "value",
    ["short", "true", "FALSE", "yes", "off", "12345678", "3.14159265", "/usr/local/share/creds.json", "~/.ssh/id_rsa",
     "./secrets/key.pem", "https://example.com/oauth/authorize"],
)  # fmt: skip
def test_obvious_non_secrets_are_skipped(value: str) -> None:
    assert env_value_secrets(value) == []


def test_a_path_is_skipped_when_it_exists_but_a_key_with_slashes_is_not(tmp_path: os.PathLike[str]) -> None:
    existing = os.path.join(tmp_path, "service-account")
    open(existing, "w").close()
    assert env_value_secrets(existing) == []
    aws_like = "/K7MDENG/bPxRfiCYEXAMPLEKEY"  # base64 keys may start with "/"
    assert env_value_secrets(aws_like) == [aws_like]
    assert env_value_secrets("/AbC+dEf0123456789xyz=") == ["/AbC+dEf0123456789xyz="]  # "in" the root folder
    assert env_value_secrets(os.path.join(tmp_path, "not-yet-written")) == []  # in a folder that exists
    assert env_value_secrets("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]


def test_a_pem_key_counts_whole_and_line_by_line() -> None:
    body = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", "VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dV"]
    pem = "\n".join(["-----BEGIN PRIVATE KEY-----", *body, "-----END PRIVATE KEY-----"])
    assert env_value_secrets(pem) == [pem, *body]


def test_a_url_value_gives_its_credentials_only() -> None:
    assert env_value_secrets("postgres://app:s3cr3t-pass-word@db:5432/app") == ["s3cr3t-pass-word"]
    assert env_value_secrets("https://hooks.example.com/x?token=tok-123456789&channel=ops") == ["tok-123456789"]


@pytest.mark.parametrize("param", ["key", "api-key", "api_key", "apikey", "token", "access_token", "sig", "code"])
def test_url_query_credentials(param: str) -> None:
    assert url_secrets(f"https://h.example/v1?{param}=Zq9-secret-value&x=1") == ["Zq9-secret-value"]


def test_a_url_credential_never_seen_is_redacted_by_its_shape() -> None:
    text = "GET https://h.example/v1/chat?api-key=abc123def456&mode=x failed; see ?access_token=tokvalue9 too"
    assert (
        scrub(text)
        == f"GET https://h.example/v1/chat?api-key={REDACTED}&mode=x failed; see ?access_token={REDACTED} too"
    )
    assert scrub("https://h.example/?page=2&sort=name") == "https://h.example/?page=2&sort=name"


def test_registered_url_credentials_are_redacted_anywhere() -> None:
    register_url_secrets("https://h.example/v1?sig=SiGnAtUrE%2Bvalue42")
    assert scrub("signature SiGnAtUrE%2Bvalue42 was sent") == f"signature {REDACTED} was sent"


def test_register_secret_is_public_and_documented() -> None:
    assert openstackai_nb.register_secret is register_secret
    assert "register_secret" in openstackai_nb.__all__
    register_secret("correct-horse-battery-staple")
    assert scrub("pw correct-horse-battery-staple!") == f"pw {REDACTED}!"
    register_secret("abc")  # too short to be told from a word: ignored
    assert scrub("abc") == "abc"


def test_a_secret_inside_another_is_replaced_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTER_TOKEN", "prefix-INNERSECRET-suffix")
    monkeypatch.setenv("INNER_TOKEN", "INNERSECRET")
    assert scrub("x prefix-INNERSECRET-suffix y INNERSECRET") == f"x {REDACTED} y {REDACTED}"


def test_a_variable_set_later_counts_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "late-set-secret-9f8e7d"
    assert scrub(value) == value and not may_hold_secret(value)
    os.environ["LATE_DB_PASSWORD"] = value  # as a notebook cell would, without monkeypatch
    try:
        assert may_hold_secret(f"a {value}") and scrub(f"a {value}") == f"a {REDACTED}"
        s = StreamScrubber()
        shown = s.feed("pw: late-set-") + s.feed("secret-9f8e7d ok", final=True)
        assert shown == f"pw: {REDACTED} ok"
    finally:
        del os.environ["LATE_DB_PASSWORD"]
    assert scrub(value) == value


def test_the_stream_scrubber_keeps_a_query_parameter_whole() -> None:
    text = "see https://h.example/v1?key=abcdef0123456789 now"
    for cut in range(1, len(text)):
        s = StreamScrubber()
        out = s.feed(text[:cut]) + s.feed(text[cut:], final=True)
        assert out == f"see https://h.example/v1?key={REDACTED} now", cut
        assert not re.search(r"abcdef\d", out)


def test_a_query_credential_in_a_json_text_leaves_valid_json() -> None:
    import json

    data = {"url": 'https://h.example/v1?token=abc"def&x=1', "u2": "https://h.example/?sig=zz\\yy"}
    text = json.dumps(data)
    clean = scrub(text)
    assert json.loads(clean) == {
        "url": 'https://h.example/v1?token=[REDACTED]"def&x=1',
        "u2": "https://h.example/?sig=[REDACTED]\\yy",
    }


def test_importing_the_package_reads_no_environment() -> None:
    import subprocess
    import sys

    code = "import openstackai_nb, openstackai_nb._secrets as s; print(s._env_names == (0, ()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "True"


def test_log_records_show_control_characters_inert(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="openstackai_nb"):
        logging.getLogger("openstackai_nb").info("tool said %s", "\x1b[31mred\x1b[0m \u202eevil")
    assert "\x1b" not in caplog.text and "\u202e" not in caplog.text
    assert "tool said \\x1b[31mred\\x1b[0m \\u202eevil" in caplog.text
