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
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024  # a 10,000-invoice batch fits
    app.extensions["b2bgateway"] = gateway or Gateway.build(settings, plugins)

    from flask_swagger_ui import get_swaggerui_blueprint

    from b2bgateway_web import health, logs, openapi, portal, problems, sandbox_pages, webhooks
    from b2bgateway_web.routes import v1

    logs.init_app(app)

    app.register_blueprint(problems.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(
        get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "b2bgateway"}),
        url_prefix="/docs",
    )
    app.register_blueprint(sandbox_pages.bp)
    app.register_blueprint(portal.bp)  # the customer payment page; static/portal/ has its CSS, JS
    app.register_blueprint(webhooks.bp)  # before v1: its own authentication, not API keys
    app.register_blueprint(v1)  # everything under /v1 needs a merchant's API key
    return app


def gateway() -> Gateway:
    """The current app's :class:`Gateway`."""
    gw: Gateway = current_app.extensions["b2bgateway"]
    return gw
