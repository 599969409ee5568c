"""The application factory (shaped like flaskr): state lives in ``app.extensions["b2bgateway"]``.

The top of the web layer: it imports the areas (``api``, ``portal``) and the shared pieces; none
of them imports this module (they read the gateway through :mod:`b2bgateway_web.state`).
"""

from __future__ import annotations

import logging

import pluggy
from flask import Flask

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins
from b2bgateway.settings import Settings
from b2bgateway_web import state

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    plugins: Plugins | None = None,
    *,
    gateway: Gateway | None = None,
    web_plugins: pluggy.PluginManager | None = None,
) -> Flask:
    """Build the Flask app. Settings come from file and environment unless given.

    :param web_plugins: the web's plugin manager (default: the web plugins of the gateway's
        loaded plugins, :func:`b2bgateway_web.web_plugins.get_plugin_manager`).
    :raises ConfigurationError: invalid configuration, naming each key (start-up fails).
    """
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024  # a 10,000-invoice batch fits
    gw = gateway or Gateway.build(settings, plugins)
    state.init_app(app, gw)
    hops = gw.settings.failed_auth.trusted_proxies
    if hops:  # the client's address is the one that many proxies back in X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]

    from flask_swagger_ui import get_swaggerui_blueprint

    from b2bgateway_web import causes, i18n, logs, metrics, problems, readiness
    from b2bgateway_web import web_plugins as pages
    from b2bgateway_web.api import health, openapi, webhooks
    from b2bgateway_web.api.routes import v1
    from b2bgateway_web.panel import routes as panel
    from b2bgateway_web.portal.routes import bp as portal

    logs.init_app(app)
    causes.init_app(app)  # the cause of a request's status changes, reset at its end
    i18n.init_app(app)

    app.register_blueprint(problems.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(readiness.bp)  # /readyz
    metrics.init_app(app, gw)  # /metrics, and the processor calls and webhooks it counts
    app.register_blueprint(openapi.bp)
    app.register_blueprint(
        get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "b2bgateway"}),
        url_prefix="/docs",
    )
    # Plugins' pages (the sandbox's approval page, ...): only those of loaded plugins.
    pages.register_blueprints(app, gw, web_plugins or pages.get_plugin_manager(gw.plugins))
    app.register_blueprint(portal)  # the customer payment page; static/portal/ has its CSS, JS
    panel.init_app(app, gw)  # the merchant's payments module: staff sessions, CSRF
    app.register_blueprint(panel.bp)
    app.register_blueprint(webhooks.bp)  # before v1: its own authentication, not API keys
    app.register_blueprint(v1)  # everything under /v1 needs a merchant's API key
    return app
