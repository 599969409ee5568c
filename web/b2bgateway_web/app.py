"""The application factory (shaped like flaskr): state lives in ``app.extensions["b2bgateway"]``."""

from __future__ import annotations

import logging

from flask import Flask, current_app

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins
from b2bgateway.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    plugins: Plugins | None = None,
    *,
    gateway: Gateway | None = None,
) -> Flask:
    """Build the Flask app. Settings come from file and environment unless given.

    :raises ConfigurationError: invalid configuration, naming each key (start-up fails).
    """
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["b2bgateway"] = gateway or Gateway.build(settings, plugins)

    from b2bgateway_web import health, problems, sandbox_pages

    app.register_blueprint(problems.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(sandbox_pages.bp)
    return app


def gateway() -> Gateway:
    """The current app's :class:`Gateway`."""
    gw: Gateway = current_app.extensions["b2bgateway"]
    return gw
