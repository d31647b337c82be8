"""The public API: every name of every public module's `__all__` is importable, has a docstring
and is in the docs (docs/api.md is generated from the code and must be up to date); each
package's `__all__` is exactly what it defines and re-exports (httpx's test_exported_members)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import openstackai_nb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import api_reference  # noqa: E402

MODULES = api_reference.public_modules()


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_importable_and_documented(name: str) -> None:
    mod = importlib.import_module(name)
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{name} has no __all__"
    assert names == sorted(names), f"{name}.__all__ is not sorted"
    assert (mod.__doc__ or "").strip(), f"{name} has no module docstring"
    for attr in names:
        if (name, attr) not in api_reference.LAZY:
            assert getattr(mod, attr) is not None, f"{name}.{attr}"
        assert api_reference.summary(mod, attr), f"{name}.{attr} has no docstring"


def test_api_reference_is_up_to_date() -> None:
    assert (ROOT / "docs" / "api.md").read_text() == api_reference.render(), (
        "docs/api.md is out of date: run python scripts/api_reference.py"
    )


def test_top_level_names() -> None:
    for name in ["Agent", "Runner", "tool", "history", "RunHistory", "RunConfig", "RunResult", "StreamingRunner"]:
        assert name in openstackai_nb.__all__
    assert openstackai_nb.Agent.__module__ == "openstackai_nb"
    assert openstackai_nb.history is openstackai_nb.history


def test_every_runner_name_is_also_top_level() -> None:
    # `from openstackai_nb.runner import RunConfig` stays the documented path; the top level has
    # every name of it too, the same objects, but the deprecated ones (no new path for an old name).
    import openstackai_nb.runner as runner

    deprecated = {n for n in runner.__all__ if api_reference.summary(runner, n).startswith("Deprecated")}
    assert {"RunRecorder", "set_recorder"} <= deprecated
    missing = sorted(set(runner.__all__) - deprecated - set(openstackai_nb.__all__))
    assert not missing, f"runner names missing from openstackai_nb.__all__: {missing}"
    assert not deprecated & set(openstackai_nb.__all__), "a deprecated runner name is top-level"
    for name in set(runner.__all__) - deprecated:
        assert getattr(openstackai_nb, name) is getattr(runner, name), name


PACKAGES = [
    "openstackai_nb",
    *sorted(
        info.name
        for info in pkgutil.walk_packages(openstackai_nb.__path__, "openstackai_nb.")
        if info.ispkg and not any(part.startswith("_") for part in info.name.split("."))
    ),
]


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _bound(node: ast.stmt) -> list[tuple[str, str | None]]:
    """The names a top-level statement binds, each with the module it imports it from (None: defined here)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [(node.name, None)]
    if isinstance(node, ast.Assign):
        return [(t.id, None) for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [(node.target.id, None)]
    if isinstance(node, ast.ImportFrom) and node.module != "__future__":
        return [(a.asname or a.name, node.module or "") for a in node.names]
    if isinstance(node, ast.Import):
        return [((a.asname or a.name).split(".")[0], a.name) for a in node.names]
    return []


def exported_names(source: str) -> tuple[set[str], set[str]]:
    """(the names `__all__` must hold, the names it may also hold) for a package's `__init__` source.

    Must: every public name the module defines (def, class, assignment), and every name it
    imports from the package without using it (a re-export). May: names it imports from the
    package and uses, and names declared for type checkers only (`if TYPE_CHECKING:`), which
    module `__getattr__` provides on first use. Names from other libraries (typing, pathlib...)
    are the module's own business.
    """
    tree = ast.parse(source)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    must: set[str] = set()
    may: set[str] = set()
    for node in tree.body:
        if _is_type_checking(node):
            assert isinstance(node, ast.If)
            may.update(name for sub in node.body for name, _ in _bound(sub))
            continue
        for name, source in _bound(node):
            if source is None:
                must.add(name)
            elif source.startswith("openstackai_nb"):
                (may if name in used else must).add(name)
    public = {n for n in must if not n.startswith("_") or n == "__version__"}
    return public, may


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_what_the_package_exports(name: str) -> None:
    module = importlib.import_module(name)
    must, may = exported_names(inspect.getsource(module))
    declared = set(module.__all__)
    assert module.__all__ == sorted(declared), f"{name}.__all__ is not sorted"
    missing = sorted(must - declared)
    assert not missing, (
        f"{name} defines or re-exports {missing} without listing them in __all__ (or name them _private)"
    )
    unknown = sorted(declared - must - may)
    assert not unknown, f"{name}.__all__ lists {unknown}, which it neither defines nor imports from the package"
    for attr in declared - must:  # provided lazily or used here: still importable from here
        if (name, attr) not in api_reference.LAZY:
            assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_the_exact_all_check_catches_a_missing_and_an_unknown_name() -> None:
    # The rule itself, on a module written for the purpose: a public function and an unused
    # re-export must be listed; a used import may be; a name from another library is not counted.
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING, Any\n"
        "from openstackai_nb.errors import ConfigError\n"
        "from openstackai_nb.tools import tool\n"
        "if TYPE_CHECKING:\n    from openstackai_nb.agent import Agent\n"
        "__all__ = ['helper']\n"
        "LIMIT = 3\n"
        "def helper(x: Any) -> Any:\n    return tool\n"
        "def _private() -> None:\n    pass\n"
    )
    must, may = exported_names(source)
    assert must == {"ConfigError", "LIMIT", "helper"}
    assert may == {"Agent", "tool"}


def test_import_stays_light() -> None:
    code = (
        "import sys, openstackai_nb;"
        "from openstackai_nb import Agent, Runner, tool;"
        "Agent(name='a', model='scripted');"
        "heavy = ('pandas', 'ipywidgets', 'anywidget', 'IPython', 'httpx2', 'numpy', 'sqlite3', 'dask',"
        " 'distributed', 'mcp', 'opentelemetry', 'genai_prices', 'markdown_it', 'pygments');"
        "print(' '.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
