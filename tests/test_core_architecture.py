"""The core's shape, read from its source (ast): no import cycle, small modules and functions
(issue 13; the web's own checks are in test_architecture.py). Migrations are exempt: each is
one revision, written once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import cycles, graph, long_functions, modules

CORE = Path(__file__).resolve().parents[1] / "b2bgateway"
MODULES = modules(CORE, skip=("migrations",))
GRAPH = graph(MODULES)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
#: Longer on purpose, each with its ceiling (so it does not grow unseen).
LONGER_MODULES = {
    # The plugin contract: one module of frozen dataclasses, as saleor's interface.py.
    "b2bgateway.interface": 515,
    # One declarative model per table, sharing one metadata.
    "b2bgateway.store.models": 525,
}
LONGER_FUNCTIONS = {"b2bgateway.settings": {"resolve_merchants"}}


def test_the_graph_is_read():
    assert {"b2bgateway", "b2bgateway.service", "b2bgateway.store.db"} <= set(GRAPH)
    assert "b2bgateway.lifecycle" in GRAPH["b2bgateway.service"]
    assert not any("migrations" in name for name in MODULES)


def test_the_core_has_no_import_cycle():
    assert cycles(GRAPH) == []


def test_the_cycle_check_finds_one():
    looped = {**GRAPH, "b2bgateway.money": GRAPH["b2bgateway.money"] | {"b2bgateway.service"}}
    assert cycles(looped)


#: The web layer, the processor plugins and their SDKs: the core knows none of them.
ABOVE_OR_BESIDE = {
    "flask",
    "werkzeug",
    "b2bgateway_web",
    "b2bgateway_mercadopago",
    "b2bgateway_openpay",
    "b2bgateway_stripe",
    "mercadopago",
    "stripe",
}


def test_the_core_imports_no_web_framework_plugin_or_sdk():
    for module, targets in GRAPH.items():
        bad = sorted(t for t in targets if t.split(".")[0] in ABOVE_OR_BESIDE)
        assert bad == [], f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= LONGER_MODULES.get(module, MAX_MODULE_LINES), f"{module}: {lines} lines"
    allowed = LONGER_FUNCTIONS.get(module, set())
    long = long_functions(MODULES[module], MAX_FUNCTION_LINES)
    assert [f for f in long if f.split(":")[0] not in allowed] == [], module
