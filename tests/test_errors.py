"""`AgentError.replace`: the public way (for the runner and the models) to copy an error with changes."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from openstackai_nb.errors import AgentError, ModelHTTPError, TimeoutError
from openstackai_nb.results import RunResult, RunStatus

KEY = "sk-proj-abcdefghijklmnopqrstuv"


def test_replace_keeps_the_class_and_attributes_and_applies_the_changes() -> None:
    error = ModelHTTPError("rate limited", status_code=429, model="m", body="slow down")
    result = RunResult(run_id="run_0123456789abcdef", status=RunStatus.FAILED, started_at=datetime.now(UTC))
    copy = error.replace(result=result, message="rate limited (after 3 retries)")
    assert type(copy) is ModelHTTPError and copy is not error
    assert (copy.status_code, copy.model, copy.body, copy.result) == (429, "m", "slow down", result)
    assert str(copy) == copy.message == "rate limited (after 3 retries)"
    assert error.result is None and str(error) == "rate limited"  # the original is untouched
    back = pickle.loads(pickle.dumps(copy))
    assert type(back) is ModelHTTPError and back.status_code == 429 and str(back) == str(copy)


def test_a_new_message_is_scrubbed_like_the_constructors() -> None:
    copy = TimeoutError("max_time ran out").replace(message=f"max_time ran out; key {KEY}")
    assert KEY not in str(copy) and isinstance(copy, TimeoutError)
    assert KEY not in str(AgentError(f"key {KEY}").replace(result=None))
