"""`compare(scheduler=...)` takes a Scheduler object or a name: the names `%%agent --scheduler` takes."""

from __future__ import annotations

import pytest

from openstackai_nb import Agent, compare
from openstackai_nb.comparison.scheduler import LocalScheduler
from openstackai_nb.comparison.scheduler_names import SCHEDULER_NAMES, as_scheduler
from openstackai_nb.errors import ConfigError
from openstackai_nb.models.function import FunctionModel
from openstackai_nb.notebook import magics
from openstackai_nb.store import RunHistory


def echo(messages, info):
    return "echo: " + (messages[-1].content or "")


def agent() -> Agent:
    return Agent(name="Echo", model=FunctionModel(echo, name="echo"))


def test_local_by_name_is_the_default(session_history: RunHistory) -> None:
    by_name = compare(agent(), ["a", "b"], progress=False, scheduler="local")
    default = compare(agent(), ["a", "b"], progress=False)
    columns = ["agent", "input", "status", "final_output"]
    assert by_name[columns].equals(default[columns])
    assert by_name["final_output"].tolist() == ["echo: a", "echo: b"]
    assert len(session_history.to_dataframe()) == 4  # recorded here, as local runs are


def test_an_unknown_name_is_a_config_error_before_anything_runs(session_history: RunHistory) -> None:
    with pytest.raises(ConfigError) as caught:
        compare(agent(), ["a"], progress=False, scheduler="ray")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "compare: scheduler must be 'local' or 'dask', or a Scheduler object (LocalScheduler(), DaskScheduler(...)); "
        "got str: 'ray'"
    )
    with pytest.raises(ConfigError, match="got int: 3"):
        compare(agent(), ["a"], progress=False, scheduler=3)  # type: ignore[arg-type]
    assert len(session_history.to_dataframe()) == 0


def test_names_and_objects_resolve_to_schedulers() -> None:
    assert isinstance(as_scheduler(None), LocalScheduler) and isinstance(as_scheduler("local"), LocalScheduler)
    local = LocalScheduler()
    assert as_scheduler(local) is local
    pytest.importorskip("distributed")
    from openstackai_nb.comparison import DaskScheduler

    dask = as_scheduler("dask")  # no cluster yet: one is found or started when jobs are submitted
    assert isinstance(dask, DaskScheduler) and (dask.client, dask.per_worker, dask.chunk_size) == (None, None, None)


def test_the_magic_takes_the_same_names() -> None:
    for name in SCHEDULER_NAMES:
        assert magics._parse(f"--scheduler {name}").scheduler == name
    assert magics._parse("").scheduler == "local"
