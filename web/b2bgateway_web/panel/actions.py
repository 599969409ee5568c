"""Actions on one payment, each behind a confirmation page (GET shows it, POST does it), each
idempotent (the confirmation carries a one-time key, so a double submit does it once) and in the
audit log: refund (full or partial, with a reason), cancel a payment still waiting for the
customer, void a manual payment, replay an outbound
event from the dead letters, and a fresh payment link for the customer (to copy, or e-mailed)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from b2bgateway import audit, mail, refunds, service
from b2bgateway.cancel import cancel_waiting
from b2bgateway.errors import GatewayError, InvalidAmount
from b2bgateway.interface import RefundStatus
from b2bgateway.manual import void_payment
from b2bgateway.money import Money
from b2bgateway.notifications import requeue_dead
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import texts
from b2bgateway_web.panel.base import actor, bp, merchant, require
from b2bgateway_web.panel.filters import AMOUNT
from b2bgateway_web.state import gateway
from b2bgateway_web.tokens import TokenInvalid, create_link


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    key = HiddenField(validators=[DataRequired(), Length(max=64)])
    reason = TextAreaField(validators=[Optional(), Length(max=500)])


class RefundForm(ConfirmForm):
    amount = StringField(validators=[Optional(), Regexp(AMOUNT)])
    reason = TextAreaField(validators=[DataRequired(), Length(max=500)])


class VoidForm(ConfirmForm):
    reason = TextAreaField(validators=[DataRequired(), Length(max=500)])


def _form(kind: type[ConfirmForm]) -> ConfirmForm:
    form = kind()
    if not form.key.data:
        form.key.data = secrets.token_urlsafe(16)
    return form


def _payment(payment_id: str) -> Any:
    with gateway().store.read() as db:
        return service.get_payment(db, merchant().id, payment_id)


def _confirm(form: ConfirmForm, payment: Any, action: str, **extra: Any) -> str:
    return render_template(
        "panel/confirm.html", form=form, payment=payment, action=action, texts=texts, **extra
    )


@bp.route("/pagos/<payment_id>/reembolsar", methods=["GET", "POST"])
@require("refund")
def refund(payment_id: str) -> ResponseReturnValue:
    payment = _payment(payment_id)
    form = _form(RefundForm)
    if not form.validate_on_submit():
        return _confirm(form, payment, "refund")
    key = f"panel:{form.key.data}"
    try:  # in the payment's currency; audited with the refund, in the same transaction
        amount = Money(form.amount.data, payment.currency) if form.amount.data else None
        done = refunds.refund(
            gateway(), merchant(), payment_id, amount, form.reason.data, key, actor()
        )
    except (GatewayError, InvalidAmount) as exc:
        return _confirm(form, payment, "refund", error=exc.detail), 409
    if done.status == RefundStatus.FAILED:
        error = _("El reembolso falló: %(reason)s") % {"reason": done.failure_message or ""}
        return _confirm(form, payment, "refund", error=error), 409
    if done.status == RefundStatus.PENDING:
        flash(_("Reembolso en proceso: %(amount)s.") % {"amount": str(done.amount.amount)})
    else:
        flash(_("Reembolso registrado: %(amount)s.") % {"amount": str(done.amount.amount)})
    return redirect(url_for("panel.payment", payment_id=payment_id))


@bp.route("/pagos/<payment_id>/anular", methods=["GET", "POST"])
@require("void")
def void(payment_id: str) -> ResponseReturnValue:
    payment = _payment(payment_id)
    form = _form(VoidForm)
    if not form.validate_on_submit():
        return _confirm(form, payment, "void")
    me = actor()
    try:
        void_payment(gateway(), merchant(), payment_id, form.reason.data, me.email, me)
    except GatewayError as exc:
        return _confirm(form, payment, "void", error=exc.detail), 409
    flash(_("Pago anulado: sus facturas se pueden pagar otra vez."))
    return redirect(url_for("panel.payment", payment_id=payment_id))


@bp.route("/pagos/<payment_id>/cancelar", methods=["GET", "POST"])
@require("cancel")
def cancel(payment_id: str) -> ResponseReturnValue:
    payment = _payment(payment_id)
    form = _form(ConfirmForm)
    if not form.validate_on_submit():
        return _confirm(form, payment, "cancel")
    try:
        done = cancel_waiting(gateway(), merchant(), payment_id, actor())
    except GatewayError as exc:
        return _confirm(form, payment, "cancel", error=exc.detail), 409
    flash(_("Estado del pago: %(status)s.") % {"status": texts.status(done.status)})
    return redirect(url_for("panel.payment", payment_id=payment_id))


@bp.route("/pagos/<payment_id>/eventos/<int:message_id>/reenviar", methods=["GET", "POST"])
@require("replay")
def replay_event(payment_id: str, message_id: int) -> ResponseReturnValue:
    payment = _payment(payment_id)
    form = _form(ConfirmForm)
    if not form.validate_on_submit():
        return _confirm(form, payment, "replay", message_id=message_id)
    shop = merchant()
    with gateway().store.write() as db:  # the replay and its audit entry: both or neither
        count = requeue_dead(  # only an event of this payment (the one the page shows)
            db, message_ids=[message_id], merchant_id=shop.id, payment_id=payment_id
        )
        if count:
            audit.record(db, actor(), "replay", payment_id, {"message_id": message_id})
    flash(_("El evento se enviará otra vez.") if count else _("Ese evento ya no está detenido."))
    return redirect(url_for("panel.payment", payment_id=payment_id))


@bp.route("/pagos/<payment_id>/enlace", methods=["GET", "POST"])
@require("pay_link")
def pay_link(payment_id: str) -> ResponseReturnValue:
    """A fresh link to the customer's payment page, to copy or, with "Enviar por correo", queued
    for the worker to e-mail to the customer (the form's one-time key: a double submit sends
    one e-mail)."""
    payment = _payment(payment_id)
    form = _form(ConfirmForm)
    shop = merchant()
    recipient = _recipient(payment)
    if not form.validate_on_submit():
        return _confirm(form, payment, "pay_link", recipient=recipient)
    try:
        link, expires = create_link(gateway(), shop, payment.customer_id)
    except TokenInvalid:
        error = _("El comercio no tiene llave de API para firmar enlaces.")
        return _confirm(form, payment, "pay_link", error=error, recipient=recipient), 409
    by_email = request.form.get("enviar") == "correo" and recipient is not None
    with gateway().store.write() as db:
        detail = None
        if by_email:
            found = service.get_payment(db, shop.id, payment_id)
            data = {"url": link, "expires_at": expires.isoformat()}
            mail.queue(db, found, "pay_link", dedupe_key=f"pay_link:{form.key.data}", data=data)
            detail = {"email": recipient}
        audit.record(db, actor(), "pay_link", payment_id, detail)
    if by_email:
        flash(_("Enviaremos el enlace de pago a %(email)s.") % {"email": recipient})
        return redirect(url_for("panel.payment", payment_id=payment_id))
    return render_template("panel/link.html", payment=payment, link=link, expires=expires)


def _recipient(payment: Any) -> str | None:
    """Where "Enviar por correo" sends: the customer's e-mail, when the merchant sends mail."""
    if merchant().settings.email is None:
        return None
    with gateway().store.read() as db:
        return mail.customer_email(db, merchant().id, payment.customer_id)
