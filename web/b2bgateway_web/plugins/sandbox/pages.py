"""The sandbox's own pages: where a person passes 3-D Secure or pays on the hosted page.

They stand in for a processor's pages (a bank's 3-D Secure challenge, a hosted checkout), so they
are in Spanish (es-MX), work without JavaScript, and touch only the sandbox ledger, never the
gateway's database: the gateway learns the outcome from the signed webhook the ledger then owes,
or by asking the sandbox when the customer comes back to the portal.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, redirect, render_template, request
from flask.typing import ResponseReturnValue

from b2bgateway.money import Money
from b2bgateway.sandbox.delivery import deliver_in_background
from b2bgateway.sandbox.ledger import Charge, Completion, LedgerRefusal, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.sandbox.signing import check_form_token, form_token
from b2bgateway_web.state import gateway

bp = Blueprint("sandbox_pages", __name__, url_prefix="/sandbox", template_folder="templates")

#: The two buttons of each flow that needs a person: (what it does, its label).
ACTIONS: dict[str, tuple[tuple[Completion, str], ...]] = {
    "three_d_secure": (("approve", "Autorizar"), ("decline", "Rechazar")),
    "hosted": (("approve", "Pagar"), ("cancel", "Cancelar")),
}
STATUS_LABELS = {
    "requires_action": "Pendiente",
    "succeeded": "Pago aprobado",
    "failed": "Pago rechazado",
    "canceled": "Pago cancelado",
}


def format_money(money: Money) -> str:
    """``Money("1234.5", "MXN")`` as ``"$1,234.50 MXN"``."""
    return f"${money.amount:,} {money.currency}"


def with_payment_id(url: str, payment_id: str) -> str:
    """``url`` with the query parameter ``payment_id`` set (others kept), for the return trip."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "payment_id"]
    query.append(("payment_id", payment_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _sandbox_settings(merchant_id: str) -> SandboxSettings:
    merchant = gateway().merchants.get(merchant_id)
    if (
        merchant is None
        or merchant.processor is None
        or merchant.processor.name != "sandbox"
        or not isinstance(merchant.processor_settings, SandboxSettings)
    ):
        abort(404)  # a merchant that does not use the sandbox has no sandbox pages
    return merchant.processor_settings


def _page(settings: SandboxSettings, charge: Charge) -> str:
    pending = charge.status == "requires_action"
    return render_template(
        "sandbox/charge.html",
        charge=charge,
        amount=format_money(charge.amount),
        three_d_secure=charge.flow == "three_d_secure",
        actions=ACTIONS.get(charge.flow, ()) if pending else (),
        form_token=form_token(settings.webhook_secret, charge.merchant_id, charge.id),
        status_label=STATUS_LABELS.get(charge.status, charge.status),
        return_url=with_payment_id(charge.return_url, charge.payment_id)
        if charge.return_url and not pending
        else None,
    )


@bp.get("/<merchant_id>/charges/<charge_id>")
def charge_page(merchant_id: str, charge_id: str) -> ResponseReturnValue:
    """The charge's page: its buttons while it waits for a person, its final state after.

    :raise 404: unknown merchant or charge, or a merchant that does not use the sandbox.
    """
    settings = _sandbox_settings(merchant_id)
    charge = open_ledger(settings).get_charge(merchant_id, charge_id) or abort(404)
    return _page(settings, charge)


@bp.post("/<merchant_id>/charges/<charge_id>")
def complete_charge(merchant_id: str, charge_id: str) -> ResponseReturnValue:
    """Apply the button pressed (form field ``action``), then send the person back to the
    portal's ``return_url`` with ``payment_id`` (303), or show that it is done.

    :raise 400: a form this page did not render (bad ``token``) or an action the flow lacks.
    :raise 404: unknown merchant or charge.
    """
    settings = _sandbox_settings(merchant_id)
    ledger = open_ledger(settings)
    charge = ledger.get_charge(merchant_id, charge_id) or abort(404)
    token = request.form.get("token", "")
    if not check_form_token(settings.webhook_secret, merchant_id, charge_id, token):
        abort(400, "el formulario no es válido; vuelve a abrir la página de pago")
    chosen = request.form.get("action", "")
    for completion, _label in ACTIONS.get(charge.flow, ()):
        if completion == chosen:
            break
    else:
        abort(400, "acción desconocida")
    try:
        charge = ledger.complete_charge(merchant_id, charge_id, completion)
    except LedgerRefusal:
        # Already final (a second click, another tab): show how it ended.
        return _page(settings, ledger.get_charge(merchant_id, charge_id) or charge)
    deliver_in_background(settings, merchant_id, charge_id=charge_id)
    if charge.return_url:
        return redirect(with_payment_id(charge.return_url, charge.payment_id), code=303)
    return render_template(
        "sandbox/done.html",
        charge=charge,
        amount=format_money(charge.amount),
        status_label=STATUS_LABELS.get(charge.status, charge.status),
    )
