"""The sandbox's own pages: 3-D Secure, the hosted checkout, SPEI instructions, cash vouchers.

They stand in for a processor's pages (a bank's 3-D Secure challenge, a hosted checkout, the
transfer instructions and the store voucher a processor shows), so they are in Spanish (es-MX),
work without JavaScript, and touch only the sandbox ledger, never the gateway's database: the
gateway learns the outcome from the signed webhook the ledger then owes, or by asking the
sandbox when the customer comes back to the portal. A transfer or a voucher waits until someone
"pays" it here (or with ``b2bgateway sandbox pay``), playing the customer's bank or the store.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue

from b2bgateway.errors import InvalidAmount, ProcessorPaymentNotFound
from b2bgateway.sandbox.delivery import deliver_in_background
from b2bgateway.sandbox.ledger import Charge, Completion, LedgerRefusal, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.sandbox.signing import check_form_token
from b2bgateway.sandbox.simulate import pay_and_notify
from b2bgateway.sandbox.vouchers import barcode_svg
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.plugins.sandbox import views
from b2bgateway_web.plugins.sandbox.views import ACTIONS, NOTICES, with_payment_id
from b2bgateway_web.state import gateway

__all__ = ["bp", "with_payment_id"]

bp = Blueprint("sandbox_pages", __name__, url_prefix="/sandbox", template_folder="templates")


@bp.after_request
def _headers(response: Response) -> Response:
    # The pages show a charge's live state: never from a cache, never sniffed as something else.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


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


def _checked_form(settings: SandboxSettings, merchant_id: str, charge_id: str) -> None:
    """Refuse a form this sandbox did not render for this charge (400)."""
    token = request.form.get("token", "")
    if not check_form_token(settings.webhook_secret, merchant_id, charge_id, token):
        abort(400, "el formulario no es válido; vuelve a abrir la página de pago")


def _back_to_page(charge: Charge, notice: str) -> ResponseReturnValue:
    """303 to the charge's page with one of :data:`NOTICES` shown (a reload repeats nothing)."""
    url = url_for(".charge_page", merchant_id=charge.merchant_id, charge_id=charge.id)
    return redirect(f"{url}?aviso={notice}", code=303)


@bp.get("/<merchant_id>/charges/<charge_id>")
def charge_page(merchant_id: str, charge_id: str) -> ResponseReturnValue:
    """The charge's page: its buttons (a card), its instructions and a form to simulate the
    transfer (SPEI) or its voucher and a button to simulate the payment (cash) while it waits;
    its final state after.

    :raise 404: unknown merchant or charge, or a merchant that does not use the sandbox.
    """
    settings = _sandbox_settings(merchant_id)
    charge = open_ledger(settings).get_charge(merchant_id, charge_id) or abort(404)
    notice = request.args.get("aviso", "")
    return views.charge_page(settings, charge, notice=notice if notice in NOTICES else None)


@bp.post("/<merchant_id>/charges/<charge_id>")
def complete_charge(merchant_id: str, charge_id: str) -> ResponseReturnValue:
    """Apply the card button pressed (form field ``action``). ``approve`` and ``cancel`` send
    the person back to the portal's ``return_url`` with ``payment_id`` (303), or show that it is
    done; ``decline`` keeps the charge open and brings the person back to its page, to try
    another card.

    :raise 400: a form this page did not render (bad ``token``) or an action the flow lacks.
    :raise 404: unknown merchant or charge.
    """
    settings = _sandbox_settings(merchant_id)
    ledger = open_ledger(settings)
    charge = ledger.get_charge(merchant_id, charge_id) or abort(404)
    _checked_form(settings, merchant_id, charge_id)
    chosen = request.form.get("action", "")
    completion: Completion | None = next(
        (c for c, _label in ACTIONS.get(charge.flow, ()) if c == chosen), None
    )
    if completion is None:
        abort(400, "acción desconocida")
    try:
        charge = ledger.complete_charge(merchant_id, charge_id, completion)
    except LedgerRefusal:
        # Already final (a second click, another tab): show how it ended.
        return views.charge_page(settings, ledger.get_charge(merchant_id, charge_id) or charge)
    # The ledger recorded the event this owes (charge.succeeded, .attempt_failed, .canceled).
    deliver_in_background(settings, merchant_id, charge_id=charge_id)
    if completion == "decline":
        return _back_to_page(charge, "tarjeta_rechazada")
    if charge.return_url:
        return redirect(with_payment_id(charge.return_url, charge.payment_id), code=303)
    return views.done_page(charge)


@bp.post("/<merchant_id>/charges/<charge_id>/pay")
def pay(merchant_id: str, charge_id: str) -> ResponseReturnValue:
    """Simulate the money arriving: a SPEI transfer of the form's ``importe`` (what is still
    owed if empty; short and excess transfers are allowed) or the voucher paid at a store. Then
    back to the charge's page (303).

    :raise 400: a form this page did not render (bad ``token``); an amount that is not one
      (the page again, with the message).
    :raise 404: unknown merchant or charge.
    :raise 409: the sandbox refuses it (expired, already paid, a card): the page, with why.
    """
    settings = _sandbox_settings(merchant_id)
    charge = open_ledger(settings).get_charge(merchant_id, charge_id) or abort(404)
    _checked_form(settings, merchant_id, charge_id)
    typed = request.form.get("importe", "").strip().replace(",", "").removeprefix("$").strip()
    amount = typed if charge.method == "bank_transfer" and typed else None
    try:
        paid, _thread = pay_and_notify(settings, merchant_id, charge_id, amount)
    except (InvalidAmount, ValueError):
        error = _("El importe no es válido: escribe pesos y centavos, por ejemplo 1500.00.")
        return views.charge_page(settings, charge, error=error, typed=typed), 400
    except LedgerRefusal as refusal:
        current = open_ledger(settings).get_charge(merchant_id, charge_id) or charge
        status = 400 if refusal.code in ("invalid_amount", "amount_mismatch") else 409
        return views.charge_page(settings, current, error=views.refusal_text(refusal)), status
    except ProcessorPaymentNotFound:
        abort(404)
    if paid.status == "succeeded":
        return _back_to_page(paid, "pagado")
    return _back_to_page(paid, "transferencia_parcial")


@bp.get("/vouchers/<charge_id>")
def voucher_page(charge_id: str) -> ResponseReturnValue:
    """The printable cash voucher (its URL names no merchant, as a store's voucher link does
    not): reference, amount, due date and barcode.

    :raise 404: no sandbox merchant has a cash charge ``charge_id``.
    """
    charge, merchant_zone = _voucher(charge_id)
    return views.voucher_page(charge, merchant_zone)


@bp.get("/vouchers/<charge_id>/barcode")
def voucher_barcode(charge_id: str) -> ResponseReturnValue:
    """The voucher's reference as an ITF barcode (``image/svg+xml``).

    :raise 404: no sandbox merchant has a cash charge ``charge_id``.
    """
    charge, _zone = _voucher(charge_id)
    svg = barcode_svg(charge.payment_reference or "")
    return Response(svg, mimetype="image/svg+xml")


def _voucher(charge_id: str) -> tuple[Charge, str]:
    """The cash charge ``charge_id`` and its merchant's time zone, looked up once in each ledger
    of the merchants with sandbox settings; a charge counts only if its merchant is one of them.

    :raise 404: none has it.
    """
    if not charge_id.startswith("sbx_ch_"):
        abort(404)
    ledgers: dict[str, tuple[SandboxSettings, dict[str, str]]] = {}
    for merchant in gateway().merchants.values():
        settings = merchant.settings_for("sandbox")
        if isinstance(settings, SandboxSettings):
            path = open_ledger(settings).path
            ledgers.setdefault(path, (settings, {}))[1][merchant.id] = merchant.settings.timezone
    for settings, zones in ledgers.values():
        charge = open_ledger(settings).voucher(charge_id)
        if charge is not None and charge.merchant_id in zones and charge.payment_reference:
            return charge, zones[charge.merchant_id]
    abort(404)
