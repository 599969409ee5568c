"""The web layer's shape, read from its source (ast): one direction, no arrow into the store.

``create_app`` on top, the areas (``api/``, ``portal/``, plugins' pages) below it, the shared
pieces (``state``, ``problems``, ``logs``, ``tokens``) below them; nothing in ``web/`` imports
``b2bgateway.store`` or SQLAlchemy: queries are named core functions (docs/architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "web" / "b2bgateway_web"
PACKAGE = "b2bgateway_web"
FORBIDDEN = ("b2bgateway.store", "sqlalchemy")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(WEB.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(WEB.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, anywhere in it (inside functions too: a lazy import is
    still an arrow). ``from pkg import x`` names ``pkg.x`` when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node] & MODULES.keys()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in GRAPH[node]:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read():
    assert {"b2bgateway_web.app", "b2bgateway_web.state", "b2bgateway_web.api.routes"} <= set(GRAPH)
    assert "b2bgateway_web.state" in GRAPH["b2bgateway_web.api.customers"]


def test_the_web_layer_has_no_import_cycle():
    assert _cycles() == []


def test_the_cycle_check_finds_one():
    GRAPH["b2bgateway_web.state"].add("b2bgateway_web.app")
    try:
        assert _cycles()
    finally:
        GRAPH["b2bgateway_web.state"].discard("b2bgateway_web.app")


def test_nothing_below_the_factory_imports_it():
    importers = sorted(m for m, targets in GRAPH.items() if "b2bgateway_web.app" in targets)
    assert importers == ["b2bgateway_web"]  # the package re-exports create_app


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_arrow_into_the_store_or_sql(module):
    bad = sorted(t for t in GRAPH[module] if t.startswith(FORBIDDEN) and _under(t, FORBIDDEN))
    assert bad == [], f"{module} imports {bad}: call a named core function instead"


def _under(target: str, prefixes: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def test_areas_do_not_import_each_other():
    """The API and the customer page share only what is below both (state, tokens, ...)."""
    for module, targets in GRAPH.items():
        for area, other in (("api", "portal"), ("portal", "api")):
            if module.startswith(f"{PACKAGE}.{area}"):
                crossing = sorted(t for t in targets if t.startswith(f"{PACKAGE}.{other}"))
                assert crossing == [], f"{module} imports {crossing}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    source = MODULES[module].read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{module}.{node.name}: {length} lines"
