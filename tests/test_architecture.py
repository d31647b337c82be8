"""The package's architecture, checked over its import graph (ast only, no dependency).

Layers (docs/architecture.md): the vocabulary (`errors`, `messages`, `results`, `events`) at the bottom;
`tools`, `agent`, `models/`, `output/` on it; `runner/` above; then `store/` (the history), `comparison/`,
`render/` and `notebook/`; beside them `mcp/` (a source of tools) and `tracing` (an observer of runs).
Every import counts: module level, inside functions and under `TYPE_CHECKING`, because each is a
dependency a reader has to follow.

A package, for these rules, is a top-level subpackage (`runner`) or a top-level module (`agent`,
`_secrets`). Inside a package its private modules and names are free to use; across packages
only public ones are, but for the shared helpers below, each allowed for a reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "openstackai_nb"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
MAX_LINES = 450

VOCABULARY = ("errors", "messages", "results", "events")
LAYERS_ABOVE_VOCABULARY = ("runner", "models", "output", "store", "comparison", "render", "notebook", "mcp", "tracing")
NOT_FOR_RUNNER = ("store", "render", "notebook", "mcp", "tracing")
DISPLAY_EDGE = ("results", "render")  # RunResult's display methods -> render, lazily, inside the method
# The package's own helpers: private top-level modules every package may import, each for a reason.
SHARED_HELPERS = {
    "_secrets": "the one scrubber: every string that leaves the process passes it, from any layer",
    "_warnings": "warn(): every warning of the package, reported at the user's line",
    "_extras": "optional imports: a missing one names the extra to install",
    "_version": "the package's version (cassettes, traces, the face)",
    "_files": "private files and folders (0600 / 0700): the history, the cache, cassettes",
    "_tool_calls": "how any tool call runs (the tool-thread pool, timed steps): tools, runner, FunctionModel, MCP",
    "_lazy": "things made on first use (LazyPattern) so importing the package pays nothing, for any module",
}
SHARED_PRIVATE = tuple(SHARED_HELPERS)
# Cross-package uses of a private module or name still waiting for their owner to switch to the
# public name that now exists (each says which). TODO: empty this; a stale entry fails the test.
PRIVATE_TODO: dict[tuple[str, str], str] = {}
# Private top-level modules split out of one package, and counted as part of it.
COMPANIONS = {
    "_run_spans": "tracing",  # one run's OpenTelemetry spans: tracing's own helper, split for size
    "_secret_names": "_secrets",  # which names and values are secrets: the scrubber's own tables, split for size
    "_function_schema": "tools",  # a tool's schema and argument model from its signature: split for size
}
# Modules still packed with `# fmt: skip` (or `# fmt: off`), by owner. TODO: empty this; a stale entry fails.
FMT_SKIP_TODO: dict[str, str] = {}


_FMT_SKIP = re.compile(r"#\s*fmt:\s*(skip|off)")


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


def _package(module: str) -> str:
    """The package a module belongs to: its top-level subpackage or module (a companion counts as its owner)."""
    return COMPANIONS.get(_layer(module), _layer(module))


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


def test_runner_imports_no_history_render_notebook_mcp_or_tracing() -> None:
    bad = [_fmt(e) for e in EDGES if _layer(e.source) == "runner" and _package(e.target) in NOT_FOR_RUNNER]
    assert not bad, "the runner knows a layer that listens to it:\n" + "\n".join(bad)


def test_models_speak_only_the_vocabulary() -> None:
    above = ("runner", "store", "comparison", "render", "notebook")
    bad = [_fmt(e) for e in EDGES if _layer(e.source) == "models" and (_layer(e.target) in above or e.target == "")]
    assert not bad, "a provider reaches up:\n" + "\n".join(bad)


def test_output_speaks_only_the_vocabulary() -> None:
    """Typed answers (output/) are read by the agent, the runner, the history and compare(): they sit under all four."""
    allowed = (*VOCABULARY, *SHARED_PRIVATE, "output")
    bad = [_fmt(e) for e in EDGES if _layer(e.source) == "output" and _layer(e.target) not in allowed]
    assert not bad, "output/ reaches up:\n" + "\n".join(bad)


def test_mcp_is_only_a_source_of_tools() -> None:
    """mcp/ builds Tools from the vocabulary; only the face and the notebook know it (the runner sees a ToolSource)."""
    allowed = (*VOCABULARY, *SHARED_PRIVATE, "tools", "mcp")
    bad = [_fmt(e) for e in EDGES if _layer(e.source) == "mcp" and _layer(e.target) not in allowed]
    bad += [_fmt(e) for e in EDGES if _layer(e.target) == "mcp" and _layer(e.source) not in ("mcp", "", "notebook")]
    assert not bad, "mcp/ is more than a source of tools:\n" + "\n".join(bad)


def test_tracing_is_an_observer() -> None:
    """tracing describes runs (the vocabulary, the agent, its model) and hears them through the observer protocol."""
    allowed = (*VOCABULARY, *SHARED_PRIVATE, "agent", "models", "tracing", "runner.observers")
    bad = [
        _fmt(e)
        for e in EDGES
        if _package(e.source) == "tracing" and _package(e.target) not in allowed and e.target not in allowed
    ]
    assert not bad, "tracing reaches past what it observes:\n" + "\n".join(bad)


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


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _bound_modules(tree: ast.AST) -> dict[str, str]:
    """Local name -> the package module an import binds it to (`from openstackai_nb.runner import executor`)."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (base := _resolve(node.module or "")) is not None:
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                if sub in MODULES:
                    bound[alias.asname or alias.name] = sub
        elif isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target and alias.asname:
                    bound[alias.asname] = target
    return bound


def _private_uses(name: str, path: Path) -> Iterator[tuple[str, str, int]]:
    """(target module, private name or "", line) of each private module or name that `name` uses.

    Imports (`from x import _y`, `import x._y`) and attribute reads on a module bound by an import
    (`from openstackai_nb.runner import executor` then `executor._Run`) both count.
    """
    for e in EDGES:
        if e.source == name:
            module_private = any(_is_private(part) for part in e.target.split("."))
            for imported in e.names or ("",):
                if module_private or _is_private(imported):
                    yield e.target, imported, e.line
    tree = ast.parse(path.read_text(), str(path))
    bound = _bound_modules(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            if _is_private(node.attr):
                yield bound[node.value.id], node.attr, node.lineno


def test_no_private_name_or_module_of_another_package_is_imported() -> None:
    bad = []
    for name, path in MODULES.items():
        for target, private, line in _private_uses(name, path):
            if _package(target) == _package(name) or _layer(target) in SHARED_HELPERS:
                continue
            key = (name, f"{target}.{private}" if private else target)
            if key in PRIVATE_TODO or (name, target) in PRIVATE_TODO:
                continue
            bad.append(f"{name} -> {key[1]}, line {line}")
    assert not bad, "a private module or name of another package is used (expose a public name there):\n" + "\n".join(
        sorted(bad)
    )


def test_every_allowed_exception_has_a_reason_and_is_still_needed() -> None:
    assert all(reason.strip() for reason in (*SHARED_HELPERS.values(), *PRIVATE_TODO.values())), "give each a reason"
    assert all(helper in MODULES for helper in (*SHARED_HELPERS, *COMPANIONS)), "an allowed module no longer exists"
    used = {
        (name, f"{target}.{private}" if private else target)
        for name, path in MODULES.items()
        for target, private, _ in _private_uses(name, path)
    }
    stale = [
        key
        for key in PRIVATE_TODO
        if key not in used and not any(u[0] == key[0] and u[1].startswith(key[1] + ".") for u in used)
    ]
    stale += [m for m in FMT_SKIP_TODO if m not in MODULES or not _FMT_SKIP.search(MODULES[m].read_text())]
    assert not stale, f"done: delete these from PRIVATE_TODO / FMT_SKIP_TODO so the rule holds them: {stale}"


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


def test_no_module_is_packed_with_fmt_skip() -> None:
    """The size cap is met by splitting modules, never by packing lines the formatter would spread."""
    bad = [
        f"{module or PACKAGE}: {MODULES[module].read_text().count('fmt: ')} x `# fmt: skip/off`"
        for module in MODULES
        if _FMT_SKIP.search(MODULES[module].read_text()) and module not in FMT_SKIP_TODO
    ]
    assert not bad, "modules packed past the formatter (split them instead):\n" + "\n".join(bad)
