"""The web's plugin contract: pages and commands a plugin adds (pluggy project ``b2bgateway_web``).

The core's contract (:mod:`b2bgateway.hookspecs`) knows nothing of Flask; a plugin that needs
pages of its own (a 3-D Secure return, a hosted approval page) ships a second, small module for
the web and names it in the ``b2bgateway_web`` entry-point group, under the same name as its
``b2bgateway`` entry point. The web loads it only while that plugin is loaded in the core: a
plugin in ``disabled_plugins`` (or not installed) has no pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from b2bgateway.gateway import Gateway

__all__ = ["PROJECT", "hookimpl", "hookspec"]

#: Project name, marker and hook prefix of the web's hooks, and their entry-point group.
PROJECT = "b2bgateway_web"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def b2bgateway_web_register_blueprints(
    register: Callable[[Blueprint], None], gateway: Gateway
) -> None:
    """Add a plugin's pages: call ``register(blueprint)`` once per Flask blueprint.

    Called once per app, by ``create_app``, on every loaded web plugin (not ``firstresult``).

    :param register: registers a blueprint on the app. Its ``url_prefix`` must be set and must
        not fall under a path the gateway owns (``/v1``, ``/portal``, ``/healthz``, ``/readyz``,
        ``/metrics``, ``/openapi.json``, ``/docs``, ``/static``); its name must be unique.
    :param gateway: the app's gateway (settings, merchants, plugins, store), e.g. to register
        pages only when some merchant uses the plugin. Views read it with
        :func:`b2bgateway_web.gateway`.
    :return: None.
    :raises ValueError: (from ``register``) a blueprint without a ``url_prefix`` or under a path
        the gateway owns.

    .. versionadded:: 0.1
    """


@hookspec
def b2bgateway_web_register_commands(cli: click.Group) -> None:
    """Add a plugin's commands to the ``b2bgateway`` command line, as datasette's
    ``register_commands``: ``cli.add_command(group)``, or ``@cli.command()`` /
    ``@cli.group()`` on functions defined inside the hook.

    Called at most once per run of ``b2bgateway``, and only when a name the gateway's own
    commands do not have is looked up or the commands are listed (``--help``), on every web
    plugin of the core plugins the configuration loads (``disabled_plugins`` removes them).
    Not ``firstresult``.

    :param cli: the group to add commands to. A command named like one of the gateway's own
        (``serve``, ``db``, ``plugins``, ...) is never reached: the gateway's wins. Name a
        plugin's commands after the plugin (``b2bgateway sandbox pay``).
    :return: None.

    A command builds what it needs itself (e.g. :meth:`b2bgateway.gateway.Gateway.build` for
    the merchants' settings) and reports failure with :class:`click.ClickException` (exit 1).

    .. versionadded:: 0.1
    """
