"""Segundo factor: a user enrols a TOTP app in the page. The secret is shown as a QR code (SVG
made on the server by ``segno``: no JavaScript) and as text, only until a code of it confirms
it; then it is on and never shown again. Two ways in: a signed-in user (``/panel/segundo-factor``)
and an admin whose merchant requires a second factor and who has none, right after a right
password (``/panel/entrar/segundo-factor``: the session then holds only "this user, this session
version, since when", for :data:`ENROL_TIME`). Admins reset another user's second factor from
Usuarios (``users.py``). Each enrolment and reset is in the audit log (:mod:`b2bgateway.totp`)."""

from __future__ import annotations

import time

import segno
from flask import flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from b2bgateway import signin, totp
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import auth
from b2bgateway_web.panel.base import actor, address, bp, user
from b2bgateway_web.state import gateway

#: How long a right password leaves to enrol a second factor at sign-in.
ENROL_TIME = 10 * 60


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField("code", validators=[DataRequired(), Length(max=10)])


def _qr(secret: str, email: str) -> str:
    """The ``otpauth://`` URI as an SVG QR code, in a ``data:`` URI (the page's CSP allows it)."""
    uri = totp.provisioning_uri(secret, email)
    return str(segno.make(uri, error="m", micro=False).svg_data_uri(scale=5))


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _page(
    enrolment: totp.Enrolment, form: CodeForm, error: str | None, status: int
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
        ),
        status,
    )


def _wrong_code() -> str:
    return _("El código no es correcto o ya venció. Escribe el código que muestra tu app ahora.")


@bp.route("/segundo-factor", methods=["GET", "POST"])
def second_factor() -> ResponseReturnValue:
    form = CodeForm()
    error, status = None, 200
    with gateway().store.write() as db:
        if form.validate_on_submit():
            if totp.confirm(db, actor(), user().user_id, form.code.data):
                flash(_("Listo: tu segundo factor está activo. Lo pediremos cada vez que entres."))
                return redirect(url_for("panel.second_factor"))
            error, status = _wrong_code(), 422
        enrolment = totp.enrolment(db, user().user_id)
    assert enrolment is not None  # the session's user, active (base._load)
    if enrolment.secret is None:
        error, status = None, 200  # on already (a code typed twice): nothing to confirm
    return _page(enrolment, form, error, status)


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
    form = CodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        result = signin.complete_enrolment(
            gateway().store, user_id, version, form.code.data, address()
        )
        if result.user is not None:
            response = auth.start_session(result.user, pending.get("next"))
            flash(_("Listo: tu segundo factor está activo. Lo pediremos cada vez que entres."))
            return response
        if result.refusal is not signin.Refusal.CODE_INVALID:
            return _restart()
        error, status = _wrong_code(), 422
    with gateway().store.write() as db:
        enrolment = totp.enrolment(db, user_id, version)
    if enrolment is None or enrolment.secret is None:
        return _restart()
    return _page(enrolment, form, error, status)
