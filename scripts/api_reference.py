"""Write docs/api.md: every name of every public module's `__all__`, with its one-line summary.

    python scripts/api_reference.py          # rewrite docs/api.md
    python scripts/api_reference.py --check  # exit 1 when docs/api.md is out of date

A module is public when no part of its dotted path starts with "_". A name's summary is the first
line of its docstring; constants and type aliases take the string literal under their assignment
(an attribute docstring), read from the source with ast.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "openstackai_nb"
OUT = ROOT / "docs" / "api.md"
# Modules kept only for a documented import path: their names are listed where they live.
SHIMS = {
    "openstackai_nb.comparison.prices",
    "openstackai_nb.notebook.display",
    "openstackai_nb.notebook.prompt",
    "openstackai_nb.render.markdown_copy",
    "openstackai_nb.report",
    "openstackai_nb.runner.output",
    "openstackai_nb.runner.result",
    "openstackai_nb.store.outputs",
}


def public_modules() -> list[str]:
    """Dotted names of the package's public modules, sorted."""
    sys.path.insert(0, str(ROOT))
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(pkg.__path__, PACKAGE + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(n for n in names if n not in SHIMS)


def attribute_docs(module: Any) -> dict[str, str]:
    """The attribute docstrings of a module's top-level assignments (name -> first line)."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    body = tree.body
    for node, nxt in zip(body, body[1:], strict=False):
        target = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target = node.target.id
        if target and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            if isinstance(nxt.value.value, str):
                out[target] = nxt.value.value.strip().splitlines()[0]
    return out


LAZY = {("openstackai_nb", "history"): "The session's `RunHistory` (created on first use; `store.get_history()`)."}
"""Names read without being evaluated (reading `openstackai_nb.history` opens the session's store)."""


def imported_from(module: Any, name: str) -> Any:
    """The module `name` is imported from in `module`'s source (`from X import name`), else `module`."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == name for a in node.names):
            return importlib.import_module(node.module)
    return module


def summary(module: Any, name: str) -> str:
    """The first docstring line of `module.name` ("" when it has none)."""
    if (module.__name__, name) in LAZY:
        return LAZY[module.__name__, name]
    obj = getattr(module, name)
    if inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj):
        doc = inspect.getdoc(obj) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""
    # A constant or alias: its attribute docstring, where it is defined.
    home = imported_from(module, name)
    for where in (module, home, imported_from(home, name)):
        docs = attribute_docs(where)
        if name in docs:
            return docs[name]
    return ""


def kind(obj: Any) -> str:
    """class, function, module or value."""
    if inspect.isclass(obj):
        return "class"
    if inspect.isroutine(obj):
        return "function"
    if inspect.ismodule(obj):
        return "module"
    return "value"


def render() -> str:
    """The text of docs/api.md."""
    lines = [
        "# API reference",
        "",
        "Every public name, by module: the first line of its docstring. Written by",
        "`python scripts/api_reference.py` (a test checks it is up to date); the guides in this folder",
        "show how the names work together.",
        "",
    ]
    for dotted in public_modules():
        module = importlib.import_module(dotted)
        names = list(getattr(module, "__all__", []))
        if not names:
            continue
        first = (inspect.getdoc(module) or "").strip().splitlines()
        lines += [f"## `{dotted}`", "", first[0] if first else "", "", "| name | kind | what it is |", "|---|---|---|"]
        for name in names:
            text = summary(module, name).replace("|", "\\|")
            what = "value" if (dotted, name) in LAZY else kind(getattr(module, name))
            lines.append(f"| `{name}` | {what} | {text} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Rewrite docs/api.md, or with --check say whether it is up to date."""
    text = render()
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print("docs/api.md is out of date: run python scripts/api_reference.py")
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
