"""Pagos manuales: record money received outside the gateway. Choose the customer, then the
invoices it pays among its open ones (with balances; those another payment holds are shown and
cannot be chosen), how it came, the reference and the date; the amount is their sum unless
given."""

from __future__ import annotations

import secrets
from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from b2bgateway.errors import GatewayError, NotFound
from b2bgateway.manual import METHODS, ManualPaymentRequest, record_manual_payment
from b2bgateway.money import Money
from b2bgateway.payability import statement
from b2bgateway.statement import local_today
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import texts
from b2bgateway_web.panel.base import actor, bp, merchant, require
from b2bgateway_web.panel.filters import AMOUNT
from b2bgateway_web.state import gateway

#: Reasons that mean "another payment holds it": such an invoice cannot be chosen.
HELD = frozenset({"payment_registered", "payment_pending"})


class ManualForm(FlaskForm):  # type: ignore[misc]
    key = HiddenField(validators=[DataRequired(), Length(max=64)])
    method = SelectField(choices=[], validators=[DataRequired()])
    reference = StringField(validators=[Optional(), Length(max=255)])
    received_on = DateField(validators=[DataRequired()])
    amount = StringField(validators=[Optional(), Regexp(AMOUNT)])
    note = TextAreaField(validators=[Optional(), Length(max=1000)])


def _lines(customer_id: str) -> tuple[object, list[dict[str, object]]]:
    gw, shop = gateway(), merchant()
    with gw.store.read() as db:
        found = statement(gw.plugins, db, shop, customer_id)
    lines = [
        {
            "invoice_id": line.invoice.invoice_id,
            "folio": line.invoice.folio,
            "due_on": line.invoice.due_on,
            "balance": line.invoice.balance,
            "held": bool(HELD & set(line.decision.reasons)),
        }
        for line in found.lines
    ]
    return found, lines


@bp.route("/pagos-manuales", methods=["GET", "POST"])
@require("manual_payment")
def manual() -> ResponseReturnValue:
    customer_id = (request.values.get("cliente") or "").strip()[:128]
    form = ManualForm()
    form.method.choices = [(code, texts.manual_method(code)) for code in METHODS]
    if not form.key.data:
        form.key.data = secrets.token_urlsafe(16)
    if form.received_on.data is None and request.method == "GET":
        form.received_on.data = local_today(merchant().zone)
    found: object = None
    lines: list[dict[str, object]] = []
    error: str | None = None
    status = 200
    if customer_id:
        try:
            found, lines = _lines(customer_id)
        except NotFound:
            error, status = _("No encontramos ese cliente."), 404
    if request.method == "POST" and found is not None:
        chosen = request.form.getlist("factura")
        if form.validate_on_submit() and chosen:
            try:
                return _record(form, customer_id, chosen)
            except GatewayError as exc:
                error, status = _explain(exc), 422
        else:
            error, status = _("Elige al menos una factura y revisa los datos."), 422
    return (
        render_template(
            "panel/manual.html",
            form=form,
            customer_id=customer_id,
            statement=found,
            lines=lines,
            error=error,
            chosen=set(request.form.getlist("factura")),
        ),
        status,
    )


def _record(form: ManualForm, customer_id: str, chosen: list[str]) -> ResponseReturnValue:
    shop = merchant()
    me = actor()
    amount = Money(form.amount.data, shop.settings.currency) if form.amount.data else None
    received: date = form.received_on.data
    payment = record_manual_payment(
        gateway(),
        shop,
        ManualPaymentRequest(
            customer_id=customer_id,
            purpose="invoices",
            idempotency_key=f"panel:{form.key.data}",
            method=form.method.data,
            received_on=received,
            reference=form.reference.data or "",
            amount=amount,
            invoice_ids=chosen,
            note=form.note.data or None,
            recorded_by=me.email,
        ),
        me,
    )
    flash(_("Pago manual registrado: sus facturas ya no se pueden pagar en línea."))
    return redirect(url_for("panel.payment", payment_id=payment.id))


def _explain(exc: GatewayError) -> str:
    reasons = set(exc.extra.get("reasons", []))
    if reasons & HELD:
        return _("Alguna de las facturas ya tiene un pago registrado.")
    if "no_balance" in reasons:
        return _("Alguna de las facturas ya no tiene saldo.")
    if "mixed_currencies" in reasons:
        return _("Las facturas deben ser de la misma moneda.")
    return _("No se pudo registrar: %(detail)s") % {"detail": exc.detail}
