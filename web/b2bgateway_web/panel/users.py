"""Usuarios (admins): the merchant's staff users, adding one, disabling one and resetting one's
second factor (each audited); the same as ``b2bgateway users``."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from b2bgateway import staff, totp
from b2bgateway.errors import GatewayError
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel.base import actor, bp, merchant, require, user
from b2bgateway_web.state import gateway


class UserForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(validators=[DataRequired(), Length(max=320)])
    name = StringField(validators=[DataRequired(), Length(max=255)])
    role = SelectField(choices=[], validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class DisableForm(FlaskForm):  # type: ignore[misc]
    pass


@bp.route("/usuarios", methods=["GET", "POST"])
@require("users")
def users() -> ResponseReturnValue:
    form = UserForm()
    form.role.choices = [(role, role) for role in staff.ROLES]
    error, status = None, 200
    if form.validate_on_submit():
        try:
            with gateway().store.write() as db:
                staff.add_user(
                    db,
                    actor(),
                    merchant().id,
                    form.email.data,
                    form.name.data,
                    form.role.data,
                    form.password.data,
                )
        except GatewayError as exc:
            error, status = _("No se pudo crear: %(detail)s") % {"detail": exc.detail}, 422
        else:
            flash(_("Usuario creado."))
            return redirect(url_for("panel.users"))
    with gateway().store.read() as db:
        rows = staff.list_users(db, merchant().id)
    page = render_template(
        "panel/users.html", form=form, rows=rows, error=error, disable=DisableForm(), me=user()
    )
    return page, status


@bp.post("/usuarios/<int:user_id>/desactivar")
@require("users")
def disable_user(user_id: int) -> ResponseReturnValue:
    with gateway().store.write() as db:
        found = [u for u in staff.list_users(db, merchant().id) if u.id == user_id]
        if found and found[0].id != user().user_id:
            staff.disable_user(db, actor(), merchant().id, found[0].email)
            flash(_("Usuario desactivado: ya no puede entrar."))
    return redirect(url_for("panel.users"))


@bp.post("/usuarios/<int:user_id>/restablecer-segundo-factor")
@require("users")
def reset_second_factor(user_id: int) -> ResponseReturnValue:
    """Switch another user's second factor off (a lost phone): its sessions end, and it enrols
    again (at sign-in, for an admin whose merchant requires one)."""
    with gateway().store.write() as db:
        found = [u for u in staff.list_users(db, merchant().id) if u.id == user_id]
        if found and found[0].id != user().user_id and found[0].totp_ciphertext is not None:
            ticket = totp.reset(db, actor(), found[0])
            flash(
                _(
                    "Segundo factor restablecido. Entrega al usuario esta clave de activación de "
                    "un solo uso (vale 72 horas) para activarlo otra vez al entrar: %(ticket)s"
                )
                % {"ticket": ticket}
            )
    return redirect(url_for("panel.users"))
