"""The package's architecture, checked over its import graph (ast only, no dependency).

Layers (docs/architecture.md): the vocabulary (`errors`, `messages`, `results`, `events`) at the bottom;
`tools`, `agent`, `models/` on it; `runner/` above; then `store/` (the history), `comparison/`,
`render/` and `notebook/`. Every import counts: module level, inside functions and under
`TYPE_CHECKING`, because each is a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "openstackai_nb"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
MAX_LINES = 450

VOCABULARY = ("errors", "messages", "results", "events")
LAYERS_ABOVE_VOCABULARY = ("runner", "models", "store", "comparison", "render", "notebook")
NOT_FOR_RUNNER = ("store", "render", "notebook")
DISPLAY_EDGE = ("results", "render")  # RunResult's display methods -> render, lazily, inside the method
# The package's own helpers, for every layer.
SHARED_PRIVATE = ("_secrets", "_extras", "_version", "_warnings", "_files")


@dataclass(frozen=True)
class Edge:
    source: str  # importing module, dotted, without the package prefix ("runner.executor")
    target: str  # imported module ("results"), or "" for the package face
    names: tuple[str, ...]  # names imported from it (empty for `import x`)
    function: str | None  # the enclosing function, None at module level
    line: int


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _resolve(dotted: str) -> str | None:
    """'openstackai_nb.runner.result' -> 'runner.result'; None outside the package."""
    if dotted == PACKAGE:
        return ""
    if not dotted.startswith(PACKAGE + "."):
        return None
    return dotted[len(PACKAGE) + 1 :]


def _edges(name: str, path: Path) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(), str(path))
    stack: list[str] = []

    def visit(node: ast.AST) -> Iterator[Edge]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            stack.append(node.name)
            for child in ast.iter_child_nodes(node):
                yield from visit(child)
            stack.pop()
            return
        function = stack[-1] if stack else None
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target is not None:
                    yield Edge(name, target, (), function, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            base = _resolve(node.module or "")
            if base is not None:
                for alias in node.names:
                    sub = f"{base}.{alias.name}" if base else alias.name
                    if sub in MODULES:  # `from openstackai_nb.runner import executor`: the submodule
                        yield Edge(name, sub, (), function, node.lineno)
                    else:
                        yield Edge(name, base, (alias.name,), function, node.lineno)
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    yield from visit(tree)


EDGES = [e for name, path in MODULES.items() for e in _edges(name, path)]


def _layer(module: str) -> str:
    return module.split(".")[0]


def _fmt(e: Edge) -> str:
    where = f" (in {e.function}())" if e.function else ""
    return f"{e.source} -> {e.target or PACKAGE}{where}, line {e.line}"


def test_vocabulary_imports_no_layer_above_it() -> None:
    bad = [
        _fmt(e)
        for e in EDGES
        if _layer(e.source) in VOCABULARY
        and (_layer(e.target) in LAYERS_ABOVE_VOCABULARY or e.target == "")
        and not (
            (_layer(e.source), _layer(e.target)) == DISPLAY_EDGE
            and e.function is not None
            and e.function.startswith(("_repr_", "show_"))
        )
    ]
    assert not bad, "the vocabulary reaches up:\n" + "\n".join(bad)


def test_runner_imports_no_history_render_or_notebook() -> None:
    bad = [_fmt(e) for e in EDGES if _layer(e.source) == "runner" and _layer(e.target) in NOT_FOR_RUNNER]
    assert not bad, "the runner knows a layer that listens to it:\n" + "\n".join(bad)


def test_models_speak_only_the_vocabulary() -> None:
    above = ("runner", "store", "comparison", "render", "notebook")
    bad = [_fmt(e) for e in EDGES if _layer(e.source) == "models" and (_layer(e.target) in above or e.target == "")]
    assert not bad, "a provider reaches up:\n" + "\n".join(bad)


def test_notebook_uses_no_private_name_of_another_package() -> None:
    bad = []
    for e in EDGES:
        if _layer(e.source) != "notebook" or _layer(e.target) == "notebook":
            continue
        private_module = e.target not in SHARED_PRIVATE and any(part.startswith("_") for part in e.target.split("."))
        private_name = any(n.startswith("_") for n in e.names)
        if private_module or private_name:
            bad.append(_fmt(e) + f" {list(e.names) or ''}")
    assert not bad, "notebook/ reaches into private parts:\n" + "\n".join(bad)


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in EDGES:
        if (_layer(e.source), _layer(e.target)) == DISPLAY_EDGE:
            continue  # the one sanctioned lazy edge
        if e.target != e.source and e.target in graph:
            graph[e.source].add(e.target)
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles() -> None:
    cycles = _cycles()
    assert not cycles, "import cycles (type-only imports included):\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    lines = MODULES[module].read_text().count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (split it where a name explains the piece)"
