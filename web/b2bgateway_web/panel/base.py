"""What every page of the merchant's payments module shares: the blueprint, sign-in state
(Flask-Login over Flask's signed session cookie), CSRF (Flask-WTF) on every POST, the idle
timeout, roles, security headers, the merchant of the signed-in user, formatting.

The session cookie (``b2bgateway_panel``, path ``/panel``) is HttpOnly, SameSite=Lax, and Secure
when ``public_url`` is https. Its signing key is a random secret made once and kept in the
database (:mod:`b2bgateway.app_secrets`, read on first use), never derived from an API key:
deleting its row (and restarting) signs everyone out. A session names the user and its
``session_version`` (its epoch, checked on every request): a sign-out, a new password, a disable
or a reset second factor ends every session of that user at once. A session also ends after
IDLE_TIMEOUT unused and, used or not, ABSOLUTE_TIMEOUT after its sign-in.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from babel.dates import format_date
from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, logout_user
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer

from b2bgateway import app_secrets, history, staff
from b2bgateway.audit import Actor
from b2bgateway.gateway import Gateway
from b2bgateway.money import Money
from b2bgateway.settings import MerchantConfig
from b2bgateway_web.causes import set_cause
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel.formats import LOCALE, datetime_formatter, money_formatter
from b2bgateway_web.state import EXTENSION, gateway

__all__ = [
    "ABSOLUTE_TIMEOUT",
    "IDLE_TIMEOUT",
    "LOCALE",
    "PanelUser",
    "actor",
    "bp",
    "init_app",
    "merchant",
    "require",
    "user",
]

bp = Blueprint("panel", __name__, url_prefix="/panel", template_folder="templates")
login_manager = LoginManager()
csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])

#: A session unused this long ends (and the cookie expires with it).
IDLE_TIMEOUT = timedelta(minutes=30)
#: A session ends this long after its sign-in even if it is used all along.
ABSOLUTE_TIMEOUT = timedelta(hours=12)
#: Starts every CSV export: Excel then reads it as UTF-8 (accents, ñ).
BOM = "\ufeff"
#: Pages open without a session.
PUBLIC = frozenset({"panel.sign_in", "panel.enrol_at_sign_in"})


@dataclass(frozen=True)
class PanelUser(UserMixin):  # type: ignore[misc]
    user_id: int
    version: int
    merchant_id: str
    email: str
    name: str
    role: str

    def get_id(self) -> str:
        return f"{self.user_id}:{self.version}"

    def can(self, permission: str) -> bool:
        return staff.can(self.role, permission)


def panel_user(row: staff.StaffUser) -> PanelUser:
    return PanelUser(row.id, row.session_version, row.merchant_id, row.email, row.name, row.role)


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, for the payments module only (nothing else of the app
    has a session, and /metrics or /readyz must answer with the database down), whose key is
    read from the database on first use (not at start: the app is also built where no database
    is migrated, e.g. for its OpenAPI document)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(bp.url_prefix or "/panel"):
            return None  # Flask's null session
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            store = app.extensions[EXTENSION].store
            app.secret_key = app_secrets.secret(store, app_secrets.PANEL_SESSION)
        return super().get_signing_serializer(app)


def init_app(app: Flask, gw: Gateway) -> None:
    """Sessions, sign-in and CSRF for the module (the rest of the app keeps its own ways)."""
    app.session_interface = _Sessions()
    app.config.update(
        SESSION_COOKIE_NAME="b2bgateway_panel",
        SESSION_COOKIE_PATH="/panel",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str(gw.settings.public_url).startswith("https:"),
        PERMANENT_SESSION_LIFETIME=IDLE_TIMEOUT,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked on every POST under /panel, below
        WTF_CSRF_TIME_LIMIT=None,  # the session's own lifetime bounds the token
    )
    login_manager.init_app(app)
    login_manager.login_view = "panel.sign_in"
    login_manager.login_message = _("Inicia sesión para continuar.")
    csrf.init_app(app)


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load(identity: str) -> PanelUser | None:
    user_id, _sep, version = identity.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    gw = gateway()
    with gw.store.read() as db:
        row = staff.user_for_session(db, int(user_id), int(version))
    if row is None or row.merchant_id not in gw.merchants:  # its merchant is no longer configured
        return None
    return panel_user(row)


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """CSRF on every POST; a session idle too long, or signed in too long ago, ends; every page
    but sign-in needs one."""
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in PUBLIC:
        return None
    now = time.time()
    if current_user.is_authenticated:
        seen = session.get("seen", 0)
        if now - float(session.get("since", 0)) > ABSOLUTE_TIMEOUT.total_seconds():
            logout_user()
            session.clear()
            flash(
                _("Tu sesión se cerró porque pasaron 12 horas desde que entraste. Vuelve a entrar.")
            )
            return redirect(url_for("panel.sign_in"))
        if now - float(seen) > IDLE_TIMEOUT.total_seconds():
            logout_user()
            session.clear()
            flash(_("Tu sesión se cerró después de 30 minutos sin actividad. Vuelve a entrar."))
            return redirect(url_for("panel.sign_in"))
        session["seen"] = now
        me = user()  # what a staff user does here changes payments as them
        set_cause(history.Cause("staff", me.email, str(me.user_id)))
        return None
    return login_manager.unauthorized()  # type: ignore[no-any-return]


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return response


def user() -> PanelUser:
    found: PanelUser = current_user._get_current_object()
    return found


def merchant() -> MerchantConfig:
    return gateway().merchants[user().merchant_id]


def address() -> str:
    return request.remote_addr or "unknown"


def actor() -> Actor:
    me = user()
    return Actor(me.merchant_id, me.email, address(), me.user_id)


def require(permission: str) -> Callable[[F], F]:
    """Only users whose role has ``permission``; others get a 403 page."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not user().can(permission):
                abort(403)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return wrap


# -- formatting ------------------------------------------------------------------------------------


def money_text(value: Money) -> str:
    return minor_text(value.to_minor_units(), value.currency)


def minor_text(units: int, currency: str) -> str:
    return money_formatter(currency)(units)


def date_text(day: date) -> str:
    return str(format_date(day, "d MMM y", locale=LOCALE))


def datetime_text(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return datetime_formatter()(moment.astimezone(merchant().zone))


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "money_text": money_text,
        "minor_text": minor_text,
        "date_text": date_text,
        "datetime_text": datetime_text,
    }
