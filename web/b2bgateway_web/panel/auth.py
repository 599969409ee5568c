"""Sign-in and sign-out. Refusals say plainly what happened and until when (a locked e-mail,
an address that tried too often) without telling whether an e-mail has an account: an unknown
e-mail is answered, timed and locked exactly as a known one. The password is checked outside any
write transaction (Argon2 never holds SQLite's writer lock)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_time
from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from b2bgateway import signin, staff
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel.base import LOCALE, address, bp, panel_user, user
from b2bgateway_web.state import gateway

#: The zone "until" is told in (the same for every e-mail, an account or not).
ZONE = ZoneInfo("America/Mexico_City")


class SignInForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("code", validators=[Length(max=10)])


class SignOutForm(FlaskForm):  # type: ignore[misc]
    pass


def _safe_next(target: str | None) -> str:
    """Only a page of this module (never another site) after signing in."""
    if target and target.startswith("/panel/") and not urlsplit(target).netloc:
        return target
    return url_for("panel.home")


def message_of(result: signin.SignIn) -> str:
    until = ""
    if result.until is not None:  # one zone for every e-mail: it tells nothing of an account
        until = str(format_time(result.until.astimezone(ZONE), "HH:mm", locale=LOCALE))
    r = signin.Refusal
    messages = {
        r.INVALID: _("Correo o contraseña incorrectos."),
        r.LOCKED: _(
            "Por seguridad bloqueamos esta cuenta desde tu conexión después de 5 intentos "
            "fallidos. Vuelve a intentarlo después de las %(time)s o pide a un administrador "
            "que cambie tu contraseña."
        )
        % {"time": until},
        r.LOCKED_EVERYWHERE: _(
            "Por seguridad bloqueamos esta cuenta: recibió demasiados intentos fallidos desde "
            "varias conexiones. Puedes entrar desde la red donde entraste la última vez, "
            "volver a intentarlo después de las %(time)s o pedir a un administrador que "
            "cambie tu contraseña."
        )
        % {"time": until},
        r.THROTTLED: _(
            "Hubo demasiados intentos fallidos desde tu conexión. "
            "Vuelve a intentarlo después de las %(time)s."
        )
        % {"time": until},
        r.CODE_REQUIRED: _("Escribe el código de 6 dígitos de tu app de autenticación."),
        r.CODE_INVALID: _(
            "El código no es correcto, ya venció o ya se usó. Espera el siguiente código de tu "
            "app y escríbelo."
        ),
        r.CODE_LOCKED: _(
            "Por seguridad bloqueamos la entrada de códigos de esta cuenta después de "
            "demasiados códigos incorrectos. Pide a un administrador que restablezca tu "
            "segundo factor o que cambie tu contraseña."
        ),
        r.SECOND_FACTOR_REQUIRED: _(
            "Las cuentas de administrador de este comercio necesitan un segundo factor. Pide a "
            "otro administrador que lo restablezca para recibir una clave de activación, o que "
            "lo activen con «b2bgateway users reset-password --totp»."
        ),
    }
    assert result.refusal is not None
    return messages[result.refusal]


def start_session(row: staff.StaffUser, target: str | None) -> ResponseReturnValue:
    """Sign ``row`` in: a fresh session (nothing from before carries over) that ends after
    IDLE_TIMEOUT unused or ABSOLUTE_TIMEOUT after this moment, whatever happens meanwhile."""
    session.clear()
    login_user(panel_user(row))
    session.permanent = True
    session["seen"] = session["since"] = time.time()
    return redirect(_safe_next(target))


@bp.route("/entrar", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    form = SignInForm()
    status, message, ask_code = 200, None, False
    if form.validate_on_submit():
        gw = gateway()
        required = frozenset(m.id for m in gw.merchants.values() if m.settings.admin_totp_required)
        result = signin.sign_in(
            gw.store,
            form.email.data,
            form.password.data,
            address(),
            code=(form.code.data or "").strip() or None,
            totp_required=required,
            merchants=frozenset(gw.merchants),
        )
        if result.user is not None:
            return start_session(result.user, request.args.get("next"))
        if result.enrol is not None:  # an admin who must enrol a second factor first
            session.clear()
            session["enrol"] = {
                "user": result.enrol.id,
                "version": result.enrol.session_version,
                "at": time.time(),
                "next": request.args.get("next"),
            }
            return redirect(url_for("panel.enrol_at_sign_in"))
        message = message_of(result)
        ask_code = result.refusal in (signin.Refusal.CODE_REQUIRED, signin.Refusal.CODE_INVALID)
        locked = result.refusal in (
            signin.Refusal.LOCKED,
            signin.Refusal.LOCKED_EVERYWHERE,
            signin.Refusal.THROTTLED,
            signin.Refusal.CODE_LOCKED,
        )
        refused = result.refusal is signin.Refusal.SECOND_FACTOR_REQUIRED
        status = 429 if locked else 403 if refused else 200 if ask_code else 401
    elif request.method == "POST":
        status, message = 400, _("Escribe tu correo y tu contraseña.")
    return (
        render_template("panel/sign_in.html", form=form, message=message, ask_code=ask_code),
        status,
    )


@bp.post("/salir")
def sign_out() -> ResponseReturnValue:
    me = user()
    with gateway().store.write() as db:
        staff.sign_out(db, me.user_id, address())
    logout_user()
    session.clear()
    flash(_("Cerraste tu sesión."))
    return redirect(url_for("panel.sign_in"))
