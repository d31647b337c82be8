"""A tool's schema from its function: the arguments' pydantic model, and the docstring's descriptions.

Built once, when the tool is defined (`tools.Tool`), as pydantic-ai's `_function_schema` does:
`args_model` reads the signature and the type hints, `parse_docstring` the Google-style
docstring's summary and `Args:` descriptions, which become the schema's descriptions.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from openstackai_nb.errors import ConfigError

__all__ = ["args_model", "is_context", "parse_docstring"]


def args_model(
    fn: Callable[..., Any], tool_name: str, param_docs: dict[str, str], context_cls: type
) -> tuple[type[BaseModel], str | None]:
    """The pydantic model of `fn`'s arguments (the JSON schema the model sees) and its context parameter.

    Annotations are resolved with `typing.get_type_hints` (postponed ones too); a parameter typed
    `context_cls` (RunContext) is the context parameter, left out of the model.

    Raises:
        ConfigError: the signature cannot be read.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read the signature of tool {tool_name!r}: {exc}") from None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolved forward refs fall back to raw annotations
        hints = {}
    from pydantic import Field

    fields: dict[str, Any] = {}
    context_param: str | None = None

    for pname, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, param.annotation)
        if is_context(annotation, context_cls):
            context_param = pname
            continue
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (annotation, Field(default, description=param_docs.get(pname)))
    model = create_model(  # type: ignore[call-overload]
        f"{tool_name}_args", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
    )
    return model, context_param


def is_context(annotation: Any, context_cls: type) -> bool:
    """True for `RunContext`, `RunContext | None` and their string forms."""
    if annotation is context_cls:
        return True
    if isinstance(annotation, str):
        return annotation.replace(" ", "") in ("RunContext", "RunContext|None", "Optional[RunContext]")
    return any(a is context_cls for a in typing.get_args(annotation))


_SECTION_RE = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Example|Examples|Note|Notes):\s*$")
_PARAM_RE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Return (summary, {param: description}) from a Google-style docstring."""
    lines = doc.splitlines()
    summary_lines: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        m = _SECTION_RE.match(stripped)
        if m:
            section, current = m.group(1), None
            continue
        if section is None:
            summary_lines.append(stripped)
        elif section in ("Args", "Arguments", "Parameters") and stripped:
            pm = _PARAM_RE.match(line)
            indent = len(line) - len(line.lstrip())
            if pm and (current is None or indent <= _indent_of(lines, current)):
                name = pm.group(1).lstrip("*")
                params[name] = pm.group(2).strip()
                current = name
            elif current is not None:
                params[current] = (params[current] + " " + stripped).strip()
    summary = " ".join(s for s in summary_lines if s).strip()
    return summary, params


def _indent_of(lines: list[str], param: str) -> int:
    """The indentation of the line that starts `param`'s description."""
    for line in lines:
        if re.match(rf"^\s*\*{{0,2}}{re.escape(param)}\s*(\([^)]*\))?\s*:", line):
            return len(line) - len(line.lstrip())
    return 0
