from __future__ import annotations

import math
import pickle

import pytest

from openstackai_nb import errors
from openstackai_nb.errors import ConfigError
from openstackai_nb.runner import RunConfig, RunContext, RunStatus


def test_defaults() -> None:
    c = RunConfig()
    assert (c.max_turns, c.max_time, c.timeout_per_turn) == (10, 300.0, 60.0)
    assert (c.stop_on_tool_error, c.verbose, c.trace_enabled, c.metadata) == (False, False, True, {})
    assert c.max_tool_result_chars == 100_000
    assert c.run_id.startswith("run_") and c.run_id != RunConfig().run_id


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"max_turns": 0}, "max_turns=0", "greater than or equal to 1"),
        ({"max_turns": -3}, "max_turns=-3", "greater than or equal to 1"),
        ({"max_turns": 2.5}, "max_turns=2.5", "whole number"),
        ({"max_turns": True}, "max_turns=True", "whole number"),
        ({"max_time": -1}, "max_time=-1", "greater than 0"),
        ({"max_time": 0}, "max_time=0", "greater than 0"),
        ({"max_time": math.nan}, "max_time=nan", "NaN"),
        ({"timeout_per_turn": -0.5}, "timeout_per_turn=-0.5", "greater than 0"),
        ({"timeout_per_turn": "soon"}, "timeout_per_turn='soon'", "valid number"),
        ({"run_id": ""}, "run_id=''", "at least 1 character"),
        ({"max_tool_result_chars": 0}, "max_tool_result_chars=0", "greater than or equal to 1"),
        ({"max_tool_result_chars": 1.5}, "max_tool_result_chars=1.5", "whole number"),
        ({"max_turn": 3}, "max_turn=3", "unknown option"),
    ],
)
def test_nonsense_is_a_config_error_naming_field_value_and_rule(kwargs: dict, field: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(**kwargs)
    msg = str(info.value)
    assert field in msg and fragment in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, errors.AgentError)


def test_several_bad_fields_one_line_each() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(max_turns=0, max_time=-1)
    assert str(info.value).splitlines()[1:] == [
        "  max_turns=0: Input should be greater than or equal to 1",
        "  max_time=-1: Input should be greater than 0",
    ]


def test_config_is_frozen() -> None:
    c = RunConfig()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        c.max_turns = 3  # type: ignore[misc]


def test_run_context() -> None:
    ctx = RunContext(variables={"a": 1})
    ctx.set_variable("b", 2)
    assert ctx.get_variable("a") == 1 and ctx.get_variable("b") == 2 and ctx.get_variable("c", "d") == "d"
    assert ctx.get_variable("c") is None and ctx.elapsed_time() >= 0
    assert "variables=['a', 'b']" in repr(ctx)


def test_run_status_is_a_str_enum() -> None:
    assert [s.value for s in RunStatus] == ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
    assert RunStatus.FAILED == "FAILED" and str(RunStatus.CANCELLED) == "CANCELLED"


def test_errors_pickle() -> None:
    for err in [
        errors.ConfigError("bad"),
        errors.ModelHTTPError("HTTP 500", status_code=500, model="m", body="x"),
        errors.TimeoutError("slow", result=None),
        errors.MaxTurnsExceeded("loop"),
    ]:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
    http = pickle.loads(pickle.dumps(errors.ModelHTTPError("m", status_code=429, model="x")))
    assert http.status_code == 429 and http.model == "x"
    assert issubclass(errors.TimeoutError, TimeoutError) and issubclass(errors.TimeoutError, errors.AgentError)
