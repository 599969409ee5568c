"""The web layer's shape, read from its source (ast): one direction, no arrow into the store.

``create_app`` on top, the areas (``api/``, ``portal/``, plugins' pages) below it, the shared
pieces (``state``, ``problems``, ``logs``, ``tokens``) below them; nothing in ``web/`` imports
``b2bgateway.store`` or SQLAlchemy: queries are named core functions (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import cycles, graph, long_functions, modules

WEB = Path(__file__).resolve().parents[1] / "web" / "b2bgateway_web"
PACKAGE = "b2bgateway_web"
FORBIDDEN = ("b2bgateway.store", "sqlalchemy")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

MODULES = modules(WEB)
GRAPH = graph(MODULES)


def _cycles() -> list[list[str]]:
    return cycles(GRAPH)


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
    assert len(MODULES[module].read_text().splitlines()) <= MAX_MODULE_LINES
    assert long_functions(MODULES[module], MAX_FUNCTION_LINES) == [], module
