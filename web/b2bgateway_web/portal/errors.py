"""Errors on the customer page are pages in Spanish, never JSON or a traceback."""

from __future__ import annotations

import logging

from flask import g, render_template, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from b2bgateway.errors import GatewayError
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import PortalError, bp

log = logging.getLogger(__name__)


@bp.route("/<token>/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str) -> ResponseReturnValue:
    raise PortalError(404, _("Página no encontrada"), _("Esta página no existe."))


def _error_page(status: int, title: str, message: str) -> ResponseReturnValue:
    session = g.get("portal")
    home_url = url_for(".home") if session is not None else None
    html = render_template(
        "portal/error.html",
        title=title,
        message=message,
        home_url=home_url,
        return_url=g.get("portal_return_url") if session is None else session.return_url,
    )
    return html, status


@bp.errorhandler(PortalError)
def _portal_error(exc: PortalError) -> ResponseReturnValue:
    return _error_page(exc.status, exc.title, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if status == 404:
        return _error_page(404, _("Página no encontrada"), _("Esta página no existe."))
    if status == 405:
        return _error_page(405, _("Acción no permitida"), _("Esta página no acepta esa acción."))
    if status == 413:
        return _error_page(413, _("Solicitud demasiado grande"), _("Selecciona menos facturas."))
    if status < 500:
        return _error_page(
            status, _("Solicitud no válida"), _("Vuelve a intentarlo desde el inicio.")
        )
    return _unexpected(exc)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> ResponseReturnValue:
    if isinstance(exc, GatewayError) and exc.status == 404:
        return _error_page(404, _("No encontrado"), _("No encontramos lo que buscas en tu cuenta."))
    log.error("portal page failed", exc_info=exc)
    return _error_page(
        500,
        _("Algo salió mal"),
        _("No pudimos mostrar esta página. Intenta de nuevo en unos minutos."),
    )
