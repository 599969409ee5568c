"""Segundo factor: a user enrols a TOTP app in the page. The secret is shown as a QR code (SVG
made on the server by ``segno``: no JavaScript) and as text, only until a code of it confirms
it; then it is on and never shown again. Each enrolment has its own fresh secret, kept only in
this session's cookie as an encrypted token that expires after :data:`ENROL_TIME`
(:func:`b2bgateway.totp.start`): another session, even of the same user, is shown another one,
and only a code of the secret shown here confirms. Confirming ends every other session.

Two ways in: a signed-in user (``/panel/segundo-factor``), who types their password again with
the code; and an admin whose merchant requires a second factor and who has none, right after a
right password (``/panel/entrar/segundo-factor``), who also types the one-time enrolment ticket
from the command line or from the admin who reset their factor (without one, sign-in is refused:
:data:`b2bgateway.signin.Refusal.SECOND_FACTOR_REQUIRED`). Admins reset another user's second
factor from Usuarios (``users.py``). Each enrolment and reset is in the audit log."""

from __future__ import annotations

import time

import segno
from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from b2bgateway import signin, totp
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import auth
from b2bgateway_web.panel.base import actor, address, bp, user
from b2bgateway_web.state import gateway

#: How long a right password leaves to enrol a second factor at sign-in, and how long a secret
#: shown for enrolment stays confirmable.
ENROL_TIME = totp.ENROL_TIME


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField("code", validators=[DataRequired(), Length(max=10)])


class SignedInForm(CodeForm):
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])


class TicketForm(CodeForm):
    ticket = StringField("ticket", validators=[DataRequired(), Length(max=40)])


def _qr(secret: str, email: str) -> str:
    """The ``otpauth://`` URI as an SVG QR code, in a ``data:`` URI (the page's CSP allows it)."""
    uri = totp.provisioning_uri(secret, email)
    return str(segno.make(uri, error="m", micro=False).svg_data_uri(scale=5))


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _page(
    enrolment: totp.Enrolment, form: CodeForm, error: str | None, status: int, mode: str
) -> ResponseReturnValue:
    secret, email = enrolment.secret, enrolment.email
    return (
        render_template(
            "panel/second_factor.html",
            form=form,
            error=error,
            active=secret is None,
            qr=None if secret is None else _qr(secret, email),
            secret=None if secret is None else _grouped(secret),
            email=email,
            mode=mode,
        ),
        status,
    )


def _wrong_code() -> str:
    return _("El código no es correcto o ya venció. Escribe el código que muestra tu app ahora.")


@bp.route("/segundo-factor", methods=["GET", "POST"])
def second_factor() -> ResponseReturnValue:
    form = SignedInForm()
    error, status = None, 200
    me = user()
    if form.validate_on_submit():
        check = signin.reauthenticate(gateway().store, me.user_id, form.password.data, address())
        if check.user is None:
            error = auth.message_of(check) if check.until else _("La contraseña no es correcta.")
            status = 429 if check.until else 422
        else:
            with gateway().store.write() as db:
                row = totp.confirm(
                    db, actor(), me.user_id, session.get("totp_enrol"), form.code.data
                )
            if row is not None:
                response = auth.start_session(row, url_for("panel.second_factor"))
                flash(_("Listo: tu segundo factor está activo. Lo pediremos cada vez que entres."))
                return response
            error, status = _wrong_code(), 422
    elif request.method == "POST":
        error, status = _("Escribe tu contraseña actual y el código de tu app."), 422
    with gateway().store.write() as db:
        enrolment = totp.enrolment(db, me.user_id, session.get("totp_enrol"))
    assert enrolment is not None  # the session's user, active (base._load)
    if enrolment.secret is None:
        session.pop("totp_enrol", None)
        error, status = None, 200  # on already (a code typed twice): nothing to confirm
    else:
        session["totp_enrol"] = enrolment.token
    return _page(enrolment, form, error, status, "signed_in")


def _restart() -> ResponseReturnValue:
    session.clear()
    flash(_("Vuelve a escribir tu correo y tu contraseña para activar tu segundo factor."))
    return redirect(url_for("panel.sign_in"))


@bp.route("/entrar/segundo-factor", methods=["GET", "POST"])
def enrol_at_sign_in() -> ResponseReturnValue:
    pending = session.get("enrol")
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > ENROL_TIME:
        return _restart()
    user_id, version = int(pending["user"]), int(pending["version"])
    form = TicketForm()
    error, status = None, 200
    if form.validate_on_submit():
        result = signin.complete_enrolment(
            gateway().store,
            user_id,
            version,
            form.ticket.data,
            pending.get("token"),
            form.code.data,
            address(),
        )
        if result.user is not None:
            response = auth.start_session(result.user, pending.get("next"))
            flash(_("Listo: tu segundo factor está activo. Lo pediremos cada vez que entres."))
            return response
        if result.refusal is not signin.Refusal.CODE_INVALID:
            return _restart()
        error = _(
            "La clave de activación o el código no son correctos. Revisa la clave que te dieron "
            "y escribe el código que muestra tu app ahora."
        )
        status = 422
    elif request.method == "POST":
        error, status = _("Escribe la clave de activación y el código de tu app."), 422
    with gateway().store.write() as db:
        enrolment = totp.enrolment(db, user_id, pending.get("token"), version)
    if enrolment is None or enrolment.secret is None:
        return _restart()
    session["enrol"] = {**pending, "token": enrolment.token}
    return _page(enrolment, form, error, status, "sign_in")
