"""The web's plugin manager: which plugins add pages, and registering them on an app.

A web plugin is loaded only when the core plugin of the same name is loaded (registered in the
core's plugin manager, not blocked): the sandbox's pages exist only while the sandbox does.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

import pluggy
from flask import Blueprint, Flask

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins
from b2bgateway_web import hookspecs

__all__ = ["DEFAULT_PLUGINS", "ENTRY_POINT_GROUP", "RESERVED_PREFIXES", "get_plugin_manager"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT
#: Built-in web plugins, as (name of the core plugin they belong to, module).
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("sandbox", "b2bgateway_web.plugins.sandbox.hooks"),
)
#: Paths the gateway owns: no plugin page goes under them.
RESERVED_PREFIXES = ("/v1", "/portal", "/healthz", "/openapi.json", "/docs", "/static")


def _loaded(plugins: Plugins) -> set[str]:
    return {name for name, plugin in plugins.pm.list_name_plugin() if plugin is not None}


def get_plugin_manager(plugins: Plugins, *, load_entrypoints: bool = True) -> pluggy.PluginManager:
    """A fresh web plugin manager holding the web plugins of the core plugins that are loaded.

    :param plugins: the core's plugins; a web plugin whose name is not among them is skipped.
    :param load_entrypoints: also load installed plugins of the ``b2bgateway_web`` group.
    :raises pluggy.PluginValidationError: a plugin implements a hook that does not exist.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    loaded = _loaded(plugins)
    if load_entrypoints:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in loaded and not pm.has_plugin(ep.name):
                pm.register(ep.load(), name=ep.name)
    for name, module_path in DEFAULT_PLUGINS:
        if name in loaded and not pm.has_plugin(name):
            pm.register(importlib.import_module(module_path), name=name)
    pm.check_pending()
    return pm


def register_blueprints(app: Flask, gateway: Gateway, pm: pluggy.PluginManager) -> list[str]:
    """Call every web plugin's ``b2bgateway_web_register_blueprints``; the names registered."""
    names: list[str] = []

    def register(blueprint: Blueprint) -> None:
        prefix = blueprint.url_prefix or ""
        if not prefix.startswith("/") or prefix == "/":
            raise ValueError(f"blueprint {blueprint.name!r}: set a url_prefix of its own")
        for reserved in RESERVED_PREFIXES:
            if prefix == reserved or prefix.startswith(reserved + "/"):
                raise ValueError(f"blueprint {blueprint.name!r}: {prefix} is the gateway's")
        app.register_blueprint(blueprint)
        names.append(blueprint.name)

    pm.hook.b2bgateway_web_register_blueprints(register=register, gateway=gateway)
    return names
