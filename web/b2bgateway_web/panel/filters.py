"""The payments list's filters: a GET form (no CSRF: it changes nothing) read into the core's
:class:`~b2bgateway.search.PaymentFilter`. A value that does not parse is shown as an error,
never a 500."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, Regexp

from b2bgateway.errors import InvalidAmount
from b2bgateway.money import Money
from b2bgateway.search import PaymentFilter
from b2bgateway.settings import MerchantConfig
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import texts

__all__ = ["FilterForm", "filter_from", "query_args"]

AMOUNT = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
#: The "failed payments" page's statuses.
FAILED = ("failed", "canceled")


class FilterForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False

    estado = SelectField(choices=[], validators=[Optional()], validate_choice=True)
    metodo = SelectField(choices=[], validators=[Optional()], validate_choice=True)
    cliente = StringField(validators=[Optional(), Length(max=128)])
    folio = StringField(validators=[Optional(), Length(max=64)])
    pedido = StringField(validators=[Optional(), Length(max=128)])
    procesador = StringField(validators=[Optional(), Length(max=64)])
    desde = DateField(validators=[Optional()])
    hasta = DateField(validators=[Optional()])
    monto_min = StringField(validators=[Optional(), Regexp(AMOUNT)])
    monto_max = StringField(validators=[Optional(), Regexp(AMOUNT)])


def make_form() -> FilterForm:
    form = FilterForm(request.args)
    form.estado.choices = [("", _("Todos"))] + [
        (code, texts.status(code)) for code in texts.STATUSES
    ]
    form.metodo.choices = [("", _("Todos"))] + [
        (code, texts.method(code)) for code in texts.METHODS
    ]
    return form


def _money(text: str | None, currency: str) -> Money | None:
    if not text:
        return None
    try:
        return Money(text, currency)
    except InvalidAmount:
        return None


def filter_from(
    form: FilterForm, merchant: MerchantConfig, statuses: tuple[str, ...] = ()
) -> PaymentFilter:
    """The core's filter from a validated form (fields with errors are left out)."""
    form.validate()
    data: dict[str, Any] = {
        name: (field.data if not field.errors else None) for name, field in form._fields.items()
    }
    currency = merchant.settings.currency
    chosen = (data["estado"],) if data["estado"] else statuses
    return PaymentFilter(
        statuses=chosen,
        payment_method=data["metodo"] or None,
        customer=data["cliente"] or None,
        folio=data["folio"] or None,
        order_reference=data["pedido"] or None,
        processor=data["procesador"] or None,
        created_from=data["desde"],
        created_to=data["hasta"],
        amount_min=_money(data["monto_min"], currency),
        amount_max=_money(data["monto_max"], currency),
        zone=merchant.zone,
    )


def query_args() -> dict[str, Any]:
    """The filters of this request, to carry into the next page's and the exports' links."""
    return {k: v for k, v in request.args.items() if k != "despues" and v}
