"""Pages from plugins: the web hook ``b2bgateway_web_register_blueprints`` (b2bgateway_web.hookspecs).

A plugin's pages exist only while the plugin is loaded: the sandbox's approval page is gone when
``disabled_plugins`` blocks the sandbox.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.settings import Settings
from b2bgateway_web import create_app, hookimpl, web_plugins


def _sandbox_rules(app: Any) -> list[str]:
    return sorted({r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/sandbox")})


def test_the_sandbox_pages_are_there_while_the_sandbox_is(app, client):
    assert "sandbox_pages" in app.blueprints
    assert _sandbox_rules(app) == [
        "/sandbox/<merchant_id>/charges/<charge_id>",
        "/sandbox/<merchant_id>/charges/<charge_id>/pay",
        "/sandbox/vouchers/<charge_id>",
        "/sandbox/vouchers/<charge_id>/barcode",
    ]
    assert client.get("/sandbox/acme/charges/ch_missing").status_code == 404  # unknown charge


def test_a_blocked_sandbox_has_no_pages(database_url, store):
    settings = Settings(
        database_url=database_url,
        disabled_plugins=["sandbox"],
        merchants={"acme": {"api_keys": ["sk_test_merchant_a"], "processor": ""}},
    )
    plugins = Plugins(get_plugin_manager(load_entrypoints=False, blocked=["sandbox"]))
    app = create_app(gateway=Gateway.build(settings, plugins, store))
    assert "sandbox_pages" not in app.blueprints
    assert _sandbox_rules(app) == []
    response = app.test_client().get("/sandbox/acme/charges/ch_1")
    assert response.status_code == 404
    assert not web_plugins.get_plugin_manager(plugins, load_entrypoints=False).has_plugin("sandbox")


class ApprovalPages:
    """A processor plugin's web side: a hosted approval page."""

    @hookimpl
    def b2bgateway_web_register_blueprints(self, register, gateway):
        bp = Blueprint("acmepay_pages", __name__, url_prefix="/acmepay")
        merchants = sorted(gateway.merchants)

        @bp.get("/approve")
        def approve() -> str:
            return "aprobar: " + ", ".join(merchants)

        register(bp)


def _web_pm(plugins: Plugins, *extra: object) -> Any:
    pm = web_plugins.get_plugin_manager(plugins, load_entrypoints=False)
    for plugin in extra:
        pm.register(plugin)
    return pm


def test_a_plugin_adds_its_pages(gateway):
    app = create_app(gateway=gateway, web_plugins=_web_pm(gateway.plugins, ApprovalPages()))
    response = app.test_client().get("/acmepay/approve")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "aprobar: acme, globex"
    assert "sandbox_pages" in app.blueprints  # the built-in ones stay


class Squatter:
    def __init__(self, prefix: str | None) -> None:
        self.prefix = prefix

    @hookimpl
    def b2bgateway_web_register_blueprints(self, register, gateway):
        register(Blueprint("squatter", __name__, url_prefix=self.prefix))


@pytest.mark.parametrize("prefix", [None, "/", "/v1", "/v1/payments", "/portal", "/healthz"])
def test_a_plugin_cannot_take_the_gateways_paths(gateway, prefix):
    with pytest.raises(ValueError, match="squatter"):
        create_app(gateway=gateway, web_plugins=_web_pm(gateway.plugins, Squatter(prefix)))


def test_a_misspelt_web_hook_is_refused(gateway):
    class Misspelt:
        @hookimpl
        def b2bgateway_web_register_blueprint(self, register):
            pass

    pm = web_plugins.get_plugin_manager(gateway.plugins, load_entrypoints=False)
    pm.register(Misspelt())
    with pytest.raises(Exception, match="unknown hook"):
        pm.check_pending()


def test_the_sandbox_core_stays_free_of_flask():
    import ast
    from pathlib import Path

    import b2bgateway.sandbox

    folder = Path(b2bgateway.sandbox.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.split(".")[0] in {"flask", "werkzeug", "jinja2"}]


class _EntryPoint:
    def __init__(self, name: str, plugin: object) -> None:
        self.name = name
        self._plugin = plugin

    def load(self) -> object:
        return self._plugin


def test_entry_points_load_only_for_loaded_core_plugins(gateway, monkeypatch):
    """A ``b2bgateway_web`` entry point named like a loaded core plugin is loaded; one whose core
    plugin is not loaded (not installed, or in disabled_plugins) is skipped."""
    pages, ghost = ApprovalPages(), Squatter("/v1")
    found = {"b2bgateway_web": [_EntryPoint("sandbox", pages), _EntryPoint("ghost", ghost)]}
    monkeypatch.setattr(web_plugins, "entry_points", lambda group: found.get(group, []))
    pm = web_plugins.get_plugin_manager(gateway.plugins)
    assert pm.get_plugin("sandbox") is pages  # the entry point comes first, the built-in is skipped
    assert not pm.has_plugin("ghost") and not pm.is_registered(ghost)
    app = create_app(gateway=gateway, web_plugins=pm)
    assert app.test_client().get("/acmepay/approve").status_code == 200
