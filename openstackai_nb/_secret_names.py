"""Which values are secrets: secret-holding variable names, which of their values count, URL credentials.

Pure functions of their input; `_secrets` (the scrubber) asks them when it reads the
environment and when a model is given a URL.
"""

from __future__ import annotations

import os

from openstackai_nb._lazy import LazyPattern

__all__ = ["env_value_secrets", "is_secret_name", "url_secrets"]

_SECRET_WORDS = frozenset(
    {
        "KEY",
        "KEYS",
        "APIKEY",
        "APIKEYS",
        "ACCESSKEY",
        "SECRETKEY",
        "PRIVATEKEY",
        "AUTHKEY",
        "SECRET",
        "SECRETS",
        "CLIENTSECRET",
        "TOKEN",
        "TOKENS",
        "AUTHTOKEN",
        "ACCESSTOKEN",
        "REFRESHTOKEN",
        "PASSWORD",
        "PASSWORDS",
        "PASSWD",
        "PASS",
        "PASSPHRASE",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "AUTH",
        "PRIVATE",
    }
)
"""Word parts of a variable's name that make its value a secret (compounds written as one word too)."""
_SECRET_ENDINGS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "APIKEY")
"""Endings that make a glued word a secret's name too (``PGPASSWORD``): no ordinary word ends so."""
_NAME_HINTS = ("KEY", "SECRET", "TOKEN", "PASS", "CRED", "AUTH", "PRIVATE")
"""Substrings without which no word part above can occur: most names are ruled out by these alone."""
_NAME_PARTS = LazyPattern(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
"""A name's word parts: `_`, `-` and digits split, and camelCase (``SlackAuthToken``, ``APIKey``)."""
_NOT_SECRET_VALUES = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"})
_NUMBER = LazyPattern(r"[+-]?\d+(?:[.,_]\d+)*")
_MIN_ENV_VALUE = 8
"""Values of secret-named variables shorter than this are not taken as secrets (flags, ports...)."""


def is_secret_name(name: str) -> bool:
    """True when the variable `name` holds a secret by its name: a word part such as KEY or TOKEN.

    Word parts, not substrings: ``AWS_SECRET_ACCESS_KEY``, ``GITHUB_TOKEN``, ``SlackAuthToken``
    and ``DB_PASSWD`` hold secrets; ``KEYBOARD_LAYOUT``, ``MONKEY`` and ``TOKENIZERS_PARALLELISM``
    do not. A glued word ending in PASSWORD, PASSWD, TOKEN, SECRET or APIKEY counts as well
    (``PGPASSWORD``).
    """
    upper = name.upper()
    if not any(hint in upper for hint in _NAME_HINTS):
        return False
    return any(
        word in _SECRET_WORDS or word.endswith(_SECRET_ENDINGS) for word in map(str.upper, _NAME_PARTS().findall(name))
    )


_DRIVE = LazyPattern(r"[A-Za-z]:[\\/]")
_EXTENSION = LazyPattern(r"\.[A-Za-z]\w{0,5}$")


def _is_path(value: str) -> bool:
    """A file path (``/home/me/creds.json``, ``~/.ssh/id_rsa``): the file, not its path, is the secret."""
    if value.startswith(("~", "./", "../", "file:")) or _DRIVE().match(value):
        return True
    if not value.startswith("/"):
        return False
    # A base64 key may start with "/" too: a path names a file that exists, a file in a folder
    # that exists (other than the root, which every "/..." key would be "in"), or a file with an
    # extension.
    folder = os.path.dirname(value)
    return os.path.exists(value) or (folder != "/" and os.path.isdir(folder)) or bool(_EXTENSION().search(value))


def env_value_secrets(value: str) -> list[str]:
    """The secrets in the value of a secret-named variable ([] for an obvious non-secret).

    Skipped: values shorter than 8 characters, booleans (true/false/yes/no/on/off...), plain
    numbers and paths. A URL is not a secret as a whole; its password and any credential in its
    query string are (see `url_secrets`). A value of several lines (a PEM key) counts whole and
    line by line (lines of 16 characters or more, "-----BEGIN ...-----" lines left out).
    """
    value = value.strip()
    if len(value) < _MIN_ENV_VALUE or value.lower() in _NOT_SECRET_VALUES or _NUMBER().fullmatch(value):
        return []
    if "://" in value[:16] and " " not in value:
        return url_secrets(value)
    if _is_path(value):
        return []
    out = [value]
    if "\n" in value:
        out += [line.strip() for line in value.splitlines() if len(line.strip()) >= 16 and "-----" not in line]
    return out


_URL_SECRET_PARAM = LazyPattern(
    r"(?i)^(?:[a-z0-9_.-]*?(?:key|token|secret|password|passwd|sig|signature|auth|credentials?)s?|code)$"
)


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries: its password (``user:password@``) and secret query values.

    Query parameters whose name ends in key, token, secret, password, sig, signature, auth or
    credential(s) count (``?key=``, ``?api-key=``, ``?api_key=``, ``?access_token=``, ``&sig=``).
    """
    from urllib.parse import parse_qsl, urlsplit

    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return []
    out = [password] if password else []
    out += [v for k, v in parse_qsl(parts.query, keep_blank_values=False) if _URL_SECRET_PARAM().match(k)]
    # the raw (still percent-encoded) values too: a URL is usually shown as it was written
    for pair in parts.query.split("&"):
        k, _, v = pair.partition("=")
        if v and _URL_SECRET_PARAM().match(k) and v not in out:
            out.append(v)
    return [v for v in out if len(v) >= 4]
