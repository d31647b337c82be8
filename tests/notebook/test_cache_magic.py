"""`%%agent --cache [MODE]` parses to the RunConfig's cache mode (the kernel tests run it)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from openstackai_nb.notebook import magics
from openstackai_nb.notebook.magics import AgentMagics


@pytest.mark.parametrize(
    ("line", "mode"),
    [("", None), ("--cache", True), ("--cache on", True), ("--cache read", "read"), ("--cache write", "write"),
     ("--cache off", False)],
)  # fmt: skip
def test_cache_option(line: str, mode: object) -> None:
    args = magics._parse(f"--max-turns 2 {line}")
    assert AgentMagics(None)._config(args).cache == mode


def test_a_bad_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cache"):
        magics._parse("--cache sometimes")
    assert "--cache [MODE]" in (AgentMagics.agent_cell.__doc__ or "")
