"""Typed answers have one home, `openstackai_nb.output`: the old import paths still work and warn,
and the schema keys the history stores are right whichever thread asks and however many agents."""

from __future__ import annotations

import importlib
import json
import threading
from typing import Any

import pytest

from openstackai_nb.output import answers, columns, schema

MOVED = [
    ("openstackai_nb.runner.output", answers, ["Answer", "find_answer", "never_valid", "ACCEPTED"]),
    ("openstackai_nb.store.outputs", columns, ["PREFIX", "output_columns", "schema_key"]),
]


@pytest.mark.parametrize(("old", "home", "names"), MOVED)
def test_old_import_paths_warn_and_give_the_same_objects(old: str, home: Any, names: list[str]) -> None:
    module = importlib.import_module(old)  # importing the module alone does not warn
    for name in names:
        with pytest.warns(
            DeprecationWarning, match=f"{old}.{name} moved to {home.__name__}.{name}; import it from there"
        ):
            got = getattr(module, name)
        assert got is getattr(home, name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = module.nothing


def test_from_import_of_an_old_path_warns_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        from openstackai_nb.runner.output import find_answer  # noqa: F401
    assert caught[0].filename == __file__


def test_output_type_lives_in_output_schema() -> None:
    from openstackai_nb import Agent

    agent = Agent(name="typed", model="scripted", output_type=int)
    assert type(agent.output) is schema.OutputType and agent.output.spec.schema["required"] == ["response"]


def _fresh(value: dict[str, Any]) -> tuple[str, str]:
    text = json.dumps(value)
    return columns.schema_key(json.loads(text))  # a new object: not in the cache


def test_equal_schemas_share_a_key_and_field_order_is_kept_in_the_text() -> None:
    a = {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}}}
    b = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "type": "object"}
    key_a, text_a = columns.schema_key(a)
    key_b, text_b = columns.schema_key(b)
    assert key_a == key_b and len(key_a) == 24
    assert list(json.loads(text_a)["properties"]) == ["b", "a"] and list(json.loads(text_b)["properties"]) == ["a", "b"]
    assert columns.schema_key(a) == (key_a, text_a)  # from the cache, the same answer


def test_schema_keys_stay_right_across_threads_and_more_agents_than_the_cache_holds() -> None:
    schemas = [{"type": "object", "properties": {f"f{i}": {"type": "integer"}}} for i in range(40)]
    expected = [_fresh(s) for s in schemas]
    wrong: list[int] = []
    start = threading.Barrier(8)

    def record(offset: int) -> None:
        start.wait()
        for n in range(400):  # interleaved: each thread walks the 40 schemas from its own place
            i = (n + offset * 5) % len(schemas)
            if columns.schema_key(schemas[i]) != expected[i]:
                wrong.append(i)

    threads = [threading.Thread(target=record, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
