"""Errors in the payments module are pages in Spanish, never JSON: another merchant's payment
is "not found" (404), a role without the permission is "not allowed" (403), a form without its
CSRF token "expired" (400)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from b2bgateway.errors import GatewayError
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel.base import bp


def _page(status: int, title: str, message: str) -> ResponseReturnValue:
    return render_template("panel/error.html", title=title, message=message), status


@bp.errorhandler(CSRFError)
def _csrf(exc: CSRFError) -> ResponseReturnValue:
    return _page(
        400,
        _("El formulario venció"),
        _("Por seguridad, vuelve a abrir la página e inténtalo de nuevo."),
    )


@bp.errorhandler(GatewayError)
def _gateway_error(exc: GatewayError) -> ResponseReturnValue:
    if exc.status == 404:
        return _page(404, _("No encontrado"), _("Ese pago no existe en tu comercio."))
    raise exc  # anything else: the app's handler (logged, problem+json)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if status == 403:
        return _page(403, _("Sin permiso"), _("Tu rol no permite esta acción."))
    if status == 404:
        return _page(404, _("No encontrado"), _("Esta página no existe."))
    return _page(status, _("Solicitud no válida"), _("Vuelve a intentarlo desde el inicio."))
