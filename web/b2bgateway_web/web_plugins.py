"""The web's plugin manager: which plugins add pages and commands, and registering them.

A web plugin is loaded only when the core plugin of the same name is loaded (registered in the
core's plugin manager, not blocked): the sandbox's pages and commands exist only while the
sandbox does.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

import click
import pluggy
from flask import Blueprint, Flask

from b2bgateway.errors import ConfigurationError
from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins, load_entry_point, load_plugins
from b2bgateway_web import hookspecs

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "RESERVED_PREFIXES",
    "PluginCommands",
    "get_plugin_manager",
    "plugin_commands",
    "register_blueprints",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT
#: Built-in web plugins, as (name of the core plugin they belong to, module).
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("sandbox", "b2bgateway_web.plugins.sandbox.hooks"),
)
#: Paths the gateway owns: no plugin page goes under them.
RESERVED_PREFIXES = (
    "/v1",
    "/portal",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/static",
)


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
                pm.register(load_entry_point(ep), name=ep.name)
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


def plugin_commands(pm: pluggy.PluginManager) -> dict[str, click.Command]:
    """The commands the web plugins add (``b2bgateway_web_register_commands``), by name."""
    group = click.Group("plugins")
    pm.hook.b2bgateway_web_register_commands(cli=group)
    return dict(group.commands)


def configured_plugins() -> Plugins:
    """The core plugins the configuration loads (its ``disabled_plugins`` blocked), as
    ``b2bgateway serve`` loads them, without validating the merchants or opening the database.
    A configuration being fixed blocks nothing (its commands then say what is wrong)."""
    from b2bgateway.settings import load_settings

    try:
        blocked = load_settings().disabled_plugins
    except ConfigurationError:
        blocked = []
    return load_plugins(blocked=blocked)


class PluginCommands(click.Group):
    """The ``b2bgateway`` group: its own commands, then those of the loaded web plugins.

    The plugins' commands are gathered lazily, once per run, the first time a name the group
    lacks is looked up or the commands are listed: ``b2bgateway serve`` never loads them.
    """

    _KEY = "b2bgateway_web.plugin_commands"

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        meta = ctx.find_root().meta
        if self._KEY not in meta:
            try:
                meta[self._KEY] = plugin_commands(get_plugin_manager(configured_plugins()))
            except ConfigurationError as exc:  # a plugin that fails to import: one message
                raise click.ClickException(str(exc)) from None
        found: dict[str, click.Command] = meta[self._KEY]
        return found

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugin_commands(ctx).get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugin_commands(ctx)})
