"""A valid example of a JSON schema, filled from a prompt: the scripted model's typed answers.

Deterministic: numbers are taken from the prompt in order (then 1), strings are its capitalised
words (then the field's name), an enum's value is picked by a checksum of the prompt, booleans
are true, arrays hold one item, dates are 2026-01-01. Every property is filled (optional ones
too), `$ref`s into `$defs` are followed, and `minimum`/`maximum` are respected.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = ["example_of"]

_MAX_DEPTH = 8
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class _Filler:
    """Values taken from the prompt, in order."""

    def __init__(self, prompt: str) -> None:
        caps = [w.strip("?,.!:;\"'()") for w in prompt.split() if w[:1].isupper()]
        self.words = [w for w in caps[1:] or caps if w]  # skip the sentence's first word when there are others
        self.numbers = _NUMBER.findall(prompt)
        self.seed = zlib.crc32(prompt.encode("utf-8"))

    def word(self, name: str) -> str:
        return self.words.pop(0) if self.words else (name or "text")

    def number(self, node: Mapping[str, Any], integer: bool) -> int | float:
        value = float(self.numbers.pop(0)) if self.numbers else 1.0
        low = node.get("minimum", node.get("exclusiveMinimum"))
        high = node.get("maximum", node.get("exclusiveMaximum"))
        if isinstance(low, int | float) and value < low:
            value = float(low) + (1 if "exclusiveMinimum" in node else 0)
        if isinstance(high, int | float) and value > high:
            value = float(high) - (1 if "exclusiveMaximum" in node else 0)
        return int(value) if integer else value

    def pick(self, options: list[Any]) -> Any:
        return options[self.seed % len(options)]


def example_of(schema: Mapping[str, Any], prompt: str = "") -> Any:
    """A value that matches `schema` (a JSON schema as pydantic writes it), filled from `prompt`."""
    return _example(schema, schema.get("$defs") or {}, _Filler(prompt), "", 0)


def _example(node: Mapping[str, Any], defs: Mapping[str, Any], fill: _Filler, name: str, depth: int) -> Any:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        node = defs.get(ref.rsplit("/", 1)[1], {})
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return fill.pick(node["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in node.get(key) or () if isinstance(o, Mapping) and o.get("type") != "null"]
        if options:
            return _example(options[0], defs, fill, name, depth)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in node:
        props = node.get("properties") or {}
        if depth >= _MAX_DEPTH:
            return {}
        return {k: _example(v, defs, fill, k, depth + 1) for k, v in props.items() if isinstance(v, Mapping)}
    if kind == "array":
        return _array(node, defs, fill, name, depth) if depth < _MAX_DEPTH else []
    return _scalar(node, kind, fill, name)


def _array(node: Mapping[str, Any], defs: Mapping[str, Any], fill: _Filler, name: str, depth: int) -> list[Any]:
    prefix = node.get("prefixItems")
    if isinstance(prefix, list):
        return [_example(p, defs, fill, name, depth + 1) for p in prefix if isinstance(p, Mapping)]
    items = node.get("items")
    if not isinstance(items, Mapping):
        return []
    return [_example(items, defs, fill, name, depth + 1) for _ in range(max(1, int(node.get("minItems") or 1)))]


def _scalar(node: Mapping[str, Any], kind: Any, fill: _Filler, name: str) -> Any:
    if kind == "string":
        fmt = node.get("format")
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        if fmt == "date":
            return "2026-01-01"
        return fill.word(name)
    if kind in ("integer", "number"):
        return fill.number(node, kind == "integer")
    if kind == "boolean":
        return True
    return None
