"""An agent's `output_type`: its JSON schema, what a model is told (`OutputSpec`), and the validator.

`OutputType(tp)` takes a pydantic model class, a dataclass, a TypedDict (from
`typing_extensions` on Python 3.11, as pydantic requires) or any type pydantic validates (`int`,
`list[str]`, `Literal[...]`, a union...). Its pydantic `TypeAdapter` is built once, on first use.

The schema a model is asked for has an object at its root (what OpenAI's structured outputs
and tool arguments require): any other type is wrapped as ``{"response": value}``. When the
schema fits OpenAI's strict mode (every object lists all its properties as required, no
keyword strict mode refuses) it is sent strict, with ``additionalProperties: false`` on every
object; otherwise it is sent as it is, not strict, and the validation here is what holds.

`parse(text)` is lenient about the wrapping: it takes ```` ```json ```` fences off, and a
wrapped answer given bare (``42`` for ``{"response": 42}``) is taken as well.

Part of `openstackai_nb.output`, the home of typed answers (its docstring says what lives where).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openstackai_nb.errors import ConfigError
from openstackai_nb.messages import FINAL_ANSWER_TOOL, OutputSpec

if TYPE_CHECKING:
    from pydantic import TypeAdapter, ValidationError

__all__ = ["OutputType", "Parsed"]

_WRAP_KEY = "response"
_MAX_ERRORS = 10
# Keywords OpenAI's strict mode refuses (its "supported schemas" list): a schema using one is sent not strict.
_NOT_STRICT = frozenset(
    "default oneOf not if then else dependentRequired dependentSchemas patternProperties unevaluatedProperties"
    " propertyNames minProperties maxProperties unevaluatedItems contains minContains maxContains uniqueItems"
    " minLength maxLength".split()
)
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Parsed:
    """An answer checked against the output type: its value, or why it does not match."""

    value: Any = None
    """The validated object (when `error` is None)."""
    error: str | None = None
    """What is wrong with the answer, one line per problem (None when it validated)."""


class OutputType:
    """An agent's output_type, with its schema and validator (built lazily, once).

    Raises:
        ConfigError: (on first use) pydantic cannot build a schema for the type.
    """

    def __init__(self, tp: Any) -> None:
        self.type = tp
        self._adapter: TypeAdapter[Any] | None = None
        self._schema: dict[str, Any] | None = None
        self._spec: OutputSpec | None = None
        self._wrapped = False

    @property
    def name(self) -> str:
        """The type's name as a model is told it: letters, digits, _ and - ("Invoice", "list_str")."""
        raw = getattr(self.type, "__name__", None) if isinstance(self.type, type) else None
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", raw or str(self.type).replace("typing.", "")).strip("_")
        return name[:64] or "answer"

    @property
    def adapter(self) -> TypeAdapter[Any]:
        """The pydantic TypeAdapter of the type."""
        if self._adapter is None:
            self._build()
        assert self._adapter is not None
        return self._adapter

    @property
    def schema(self) -> dict[str, Any]:
        """The type's own JSON schema (as recorded with each run: `RunResult.output_schema`)."""
        if self._schema is None:
            self._build()
        assert self._schema is not None
        return self._schema

    @property
    def spec(self) -> OutputSpec:
        """What a model is told (the schema wrapped as an object when needed, strict when it fits)."""
        if self._spec is None:
            self._build()
        assert self._spec is not None
        return self._spec

    def _build(self) -> None:
        from pydantic import TypeAdapter

        try:
            adapter: TypeAdapter[Any] = TypeAdapter(self.type)
            schema = adapter.json_schema()
        except Exception as exc:  # noqa: BLE001 - PydanticUserError, or any type pydantic cannot handle
            first = (str(exc).splitlines() or [""])[0]
            raise ConfigError(
                f"output_type={self.type!r} cannot be validated ({type(exc).__name__}: {first}): use a pydantic "
                "model, a dataclass, a TypedDict (typing_extensions.TypedDict on Python 3.11) or a type such as "
                "int or list[str]"
            ) from None
        description = str(schema.get("description") or "")
        asked = schema
        self._wrapped = schema.get("type") != "object"
        if self._wrapped:
            inner = {k: v for k, v in schema.items() if k != "$defs"}
            asked = {"type": "object", "properties": {_WRAP_KEY: inner}, "required": [_WRAP_KEY], "title": self.name}
            if "$defs" in schema:
                asked["$defs"] = schema["$defs"]
        strict = _strict(asked)
        self._adapter, self._schema = adapter, schema
        self._spec = OutputSpec(
            name=self.name,
            schema=strict if strict is not None else asked,
            strict=strict is not None,
            description=description,
            tool_name=FINAL_ANSWER_TOOL,
        )

    def parse(self, text: str) -> Parsed:
        """Check an answer given as text (JSON, possibly in a ```json fence)."""
        raw = text.strip()
        fenced = _FENCE.match(raw)
        if fenced:
            raw = fenced.group(1).strip()
        try:
            data = json.loads(raw)
        except ValueError as exc:
            where = (
                f" ({exc.msg} at line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            )
            return Parsed(error=f"- the answer is not valid JSON{where}")
        return self.validate(data)

    def validate(self, data: Any) -> Parsed:
        """Check an answer given as parsed JSON (e.g. a final-answer tool's arguments)."""
        _ = self.spec  # built
        if self._wrapped and isinstance(data, dict) and set(data) == {_WRAP_KEY}:
            data = data[_WRAP_KEY]
        from pydantic import ValidationError

        try:
            return Parsed(value=self.adapter.validate_python(data))
        except ValidationError as exc:
            return Parsed(error=_errors(exc))

    def __repr__(self) -> str:
        return f"OutputType({self.name})"


def _errors(exc: ValidationError) -> str:
    """A validation error as one line per problem: where, what, the value seen."""
    lines = []
    problems = exc.errors(include_url=False)
    for err in problems[:_MAX_ERRORS]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "the answer"
        seen = repr(err.get("input"))
        if len(seen) > 80:
            seen = seen[:77] + "..."
        lines.append(f"- {where}: {err.get('msg', 'invalid')} (got {seen})")
    if len(problems) > _MAX_ERRORS:
        lines.append(f"- ... and {len(problems) - _MAX_ERRORS} more")
    return "\n".join(lines)


def _strict(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The schema made fit for OpenAI's strict mode, or None when it cannot be (sent not strict then)."""
    out = copy.deepcopy(schema)
    nodes = [out]
    while nodes:
        node = nodes.pop()
        if any(key in node for key in _NOT_STRICT):
            return None
        if node.get("type") == "object" or "properties" in node:
            props = node.get("properties")
            if not isinstance(props, dict) or not props or set(node.get("required") or ()) != set(props):
                return None  # a dict, or an optional property: strict mode wants every property required
            if node.get("additionalProperties", False) is not False:
                return None
            node["additionalProperties"] = False
        for key, value in node.items():
            if key in ("properties", "$defs") and isinstance(value, dict):
                nodes.extend(v for v in value.values() if isinstance(v, dict))
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                nodes.append(value)
            elif key in ("anyOf", "allOf", "prefixItems") and isinstance(value, list):
                nodes.extend(v for v in value if isinstance(v, dict))
    return out
