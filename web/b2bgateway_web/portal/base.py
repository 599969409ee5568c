"""What every page of the customer payment page shares: the blueprint, identity (the signed
token in the path), security headers, the current session, merchant and customer, formatting.

The token in the path is the only identity: ``before_request`` reads it into ``g``, and
``url_defaults`` puts it back into every ``url_for`` of the blueprint. Every POST must also carry
the signed nonce of a form this session rendered, and come from this site (``Origin``). Only the
origins of the merchant's ``portal.frame_ancestors`` may frame the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from flask import Blueprint, Response, g, request

from b2bgateway import history
from b2bgateway.money import Money
from b2bgateway.next_actions import web_origin
from b2bgateway.settings import MerchantConfig
from b2bgateway.sync import get_customer
from b2bgateway_web.causes import set_cause
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.state import gateway
from b2bgateway_web.tokens import (
    PortalSession,
    TokenExpired,
    TokenInvalid,
    check_form_nonce,
    read_token,
)

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")

ID = re.compile(r"^[^\s/?#\x00-\x1f\x7f]{1,128}$")
DECIMAL = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,4})?$")
MAX_SELECTED = 500  # as the API's invoice_ids


class PortalError(Exception):
    """A page that explains what went wrong, with its HTTP status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


# -- identity: the token in the path ---------------------------------------------------------------


@bp.url_value_preprocessor
def _pull_token(endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.portal_token = (values or {}).pop("token", "")


@bp.url_defaults
def _add_token(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint.startswith("portal.") and "token" not in values and g.get("portal_token"):
        values["token"] = g.portal_token


@bp.before_request
def _identify() -> None:
    """The token names the merchant and the customer; nothing else is identity here."""
    gw = gateway()
    try:
        session = read_token(gw, g.portal_token)
    except TokenExpired as exc:
        g.portal_return_url = exc.return_url  # authentic: "Obtener un enlace nuevo" goes there
        raise PortalError(
            410,
            _("El enlace venció"),
            _(
                "Por seguridad, los enlaces de pago duran 30 minutos. Vuelve a entrar desde el "
                "portal de tu proveedor para obtener uno nuevo."
            ),
        ) from None
    except TokenInvalid:
        raise PortalError(
            403,
            _("Enlace no válido"),
            _("Este enlace de pago no es válido. Vuelve a entrar desde el portal de tu proveedor."),
        ) from None
    merchant = gw.merchants[session.merchant_id]
    with gw.store.read() as db:
        customer = get_customer(db, merchant.id, session.customer_id)
        if customer is None:
            raise PortalError(
                403,
                _("Enlace no válido"),
                _("No encontramos tu cuenta. Pide ayuda a tu proveedor."),
            )
        g.portal_customer = CustomerView(
            customer.customer_id, customer.name, customer.active, customer.currency
        )
    g.portal = session
    set_cause(history.Cause("customer", session.customer_id))  # what the customer does here
    g.locale = session.locale.replace("-", "_")  # the catalog's name (b2bgateway_web.i18n)
    g.merchant = merchant  # the logs name the merchant, as for the API
    if request.method == "POST":
        _check_form(merchant, session)


def _check_form(merchant: MerchantConfig, session: PortalSession) -> None:
    """A POST comes from a form this session rendered (its signed nonce) on this site
    (``Origin``, when the browser sends one: every current browser does on a POST)."""
    sent = request.headers.get("Origin")
    if sent is not None and sent.rstrip("/").lower() not in own_origins():
        raise PortalError(
            403,
            _("Formulario no válido"),
            _("Este formulario no viene de tu página de pagos. Vuelve a entrar desde el portal."),
        )
    if not check_form_nonce(merchant, session, request.form.get("nonce", "")):
        raise PortalError(
            400,
            _("Formulario no válido"),
            _(
                "El formulario venció o no es válido. Vuelve al estado de cuenta e inténtalo "
                "de nuevo."
            ),
        )


def own_origins() -> set[str]:
    """This site as browsers see it: the configured ``public_url`` and the host they asked."""
    public = urlsplit(str(gateway().settings.public_url))
    return {
        f"{public.scheme}://{public.netloc}".lower(),
        request.host_url.rstrip("/").lower(),
    }


def content_security_policy(
    ancestors: list[str], images: str | None = None, frames: str | None = None
) -> str:
    """The page's policy: its own resources only (and the processor's barcode image, when a
    voucher shows one, and ``frames`` in a frame, during a 3-D Secure challenge); framed by
    ``ancestors`` or by nobody."""
    framers = " ".join(ancestors) if ancestors else "'none'"
    extra = "" if images is None else f" {images}"
    framed = "" if frames is None else f"; frame-src 'self' {frames}"
    return (
        f"default-src 'self'; img-src 'self' data:{extra}; object-src 'none'; base-uri 'none'; "
        f"frame-ancestors {framers}{framed}"
    )


def origin_of(url: str) -> str | None:
    """The origin the policy names for ``url`` (rebuilt from its host and port), or None when
    the URL is not a plain http(s) one: it is then left out, never written into the policy."""
    try:
        return web_origin(url, ("https", "http"))
    except ValueError:
        return None


#: The frames a 3-D Secure challenge page allows: any https page. In EMV 3-D Secure the
#: issuer's page (the ACS, the form's action) ends by having the browser POST the result (CRes)
#: to the processor's URL, another origin, in the same frame; ACS pages also redirect to other
#: hosts of the issuer or its provider, none of them known beforehand. Only on that page, only
#: https (the frame is sandboxed: it may not navigate this page, see payment.html).
CHALLENGE_FRAMES = "https:"


@bp.after_request
def _headers(response: Response) -> Response:
    # The token is in the URL: never send it on as a Referer to another site (the processor's
    # page, links), never keep the page (balances) in a shared cache. "same-origin", not
    # "no-referrer": with the latter browsers send "Origin: null" on the page's own POSTs.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    found = g.get("merchant")
    ancestors = [] if found is None else found.settings.portal.frame_ancestors
    hosts = [g.get("portal_img_src"), None if found is None else found.settings.portal.logo_url]
    origins = {origin_of(url) for url in hosts if url}
    images = " ".join(sorted(origin for origin in origins if origin)) or None
    frames = CHALLENGE_FRAMES if g.get("portal_challenge") else None
    response.headers["Content-Security-Policy"] = content_security_policy(ancestors, images, frames)
    if not ancestors:  # browsers without frame-ancestors: X-Frame-Options
        response.headers["X-Frame-Options"] = "DENY"
    return response


@dataclass(frozen=True, slots=True)
class CustomerView:
    customer_id: str
    name: str
    active: bool
    currency: str


def portal_session() -> PortalSession:
    session: PortalSession = g.portal
    return session


def merchant() -> MerchantConfig:
    merchant: MerchantConfig = g.merchant
    return merchant


def customer() -> CustomerView:
    customer: CustomerView = g.portal_customer
    return customer


# -- formatting ------------------------------------------------------------------------------------


def locale() -> str:
    return portal_session().locale.replace("-", "_")


def money_text(money: Money) -> str:
    """``$1,234.50`` (babel, the session's locale)."""
    return str(format_currency(money.amount, money.currency, locale=locale()))


def date_text(day: date) -> str:
    return str(format_date(day, "d MMM y", locale=locale()))


def datetime_text(moment: datetime) -> str:
    local = moment.astimezone(merchant().zone)
    return str(format_datetime(local, "d MMM y, HH:mm", locale=locale()))
