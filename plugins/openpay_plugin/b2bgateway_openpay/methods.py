"""Openpay's kinds of charge as the gateway's payment methods, both ways.

- ``card``: a token made by openpay.js (``source_id`` + ``device_session_id``, optionally
  3-D Secure), or Openpay's card page (``confirm: false`` + ``redirect_url``); MSI as
  ``payment_plan: {"payments": n}`` (3, 6, 9, 12 or 18);
- ``cash`` is Openpay's ``method: "store"``: the answer's ``payment_method`` has the
  ``reference`` and ``barcode_url`` the customer takes to the store, until ``due_date``;
- ``bank_transfer`` is ``method: "bank_account"`` (SPEI): ``payment_method`` has the ``clabe``,
  ``bank``, ``agreement`` (BBVA's CIE agreement) and ``name`` (the concept to quote), until
  ``due_date``.

Field names are those of Openpay's API reference ("Cargos": con token, con redireccionamiento,
en tienda, en banco; the transaction, store and PaymentPlan objects). Nothing here calls Openpay.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from b2bgateway import (
    BankTransferInstructions,
    CashVoucher,
    ChargeRequest,
    MethodDetails,
    Money,
    NextAction,
    UnsupportedRequest,
)
from b2bgateway_openpay.client import Charge
from b2bgateway_openpay.settings import OpenpaySettings

__all__ = [
    "INSTALLMENTS",
    "charge_body",
    "due_date",
    "expires_at",
    "method_details",
    "next_action",
    "parse_time",
]

#: The MSI counts of Openpay's PaymentPlan object.
INSTALLMENTS = frozenset({3, 6, 9, 12, 18})
#: Our payment method -> Openpay's charge ``method``.
OPENPAY_METHOD = {"card": "card", "cash": "store", "bank_transfer": "bank_account"}


def due_date(moment: datetime) -> str:
    """A ``due_date`` as the reference's UTC example writes it (``2014-08-01T00:50:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    """One of Openpay's ISO 8601 times (``2014-05-28T13:45:00-05:00``), None if absent."""
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _customer(request: ChargeRequest) -> dict[str, Any]:
    customer = {"name": (request.customer.name or request.customer.id)[:100]}
    if request.customer.email:  # required for cards and stores: the core checked it is here
        customer["email"] = request.customer.email
    return customer


def _card(body: dict[str, Any], request: ChargeRequest, settings: OpenpaySettings) -> None:
    if request.token is None:  # Openpay's card page, which collects the device data itself
        if request.installments:  # the card page's request takes no payment_plan
            raise UnsupportedRequest("Openpay charges MSI on a token, not on its card page")
        if not request.return_url:
            raise UnsupportedRequest("Openpay's card page needs a return_url to send the customer")
        body.update(confirm=False, send_email=False, redirect_url=request.return_url)
        return
    body["source_id"] = request.token
    if request.installments:
        body["payment_plan"] = {"payments": request.installments}
    if request.device_session_id:
        body["device_session_id"] = request.device_session_id
    if settings.use_3d_secure:
        if not request.return_url:
            raise UnsupportedRequest("3-D Secure needs a return_url to send the customer back")
        body.update(use_3d_secure=True, redirect_url=request.return_url)


def charge_body(request: ChargeRequest, settings: OpenpaySettings) -> dict[str, Any]:
    """The ``POST /charges`` body of ``request``'s payment method."""
    method = OPENPAY_METHOD.get(request.payment_method)
    if method is None:
        raise UnsupportedRequest(f"Openpay cannot charge {request.payment_method}")
    body: dict[str, Any] = {
        "method": method,
        "amount": request.amount.amount,  # a Decimal, written as an exact JSON number
        "currency": request.amount.currency,
        "description": (request.description or f"Pago {request.payment_id}")[:250],
        "order_id": request.payment_id,
        "customer": _customer(request),
    }
    if method == "card":
        _card(body, request, settings)
        return body
    if request.amount.currency != "MXN":
        raise UnsupportedRequest("Openpay's store and SPEI charges are in MXN")
    if method == "bank_account" and not settings.spei_beneficiary:
        raise UnsupportedRequest("set spei_beneficiary in the Openpay settings to offer SPEI")
    if request.expires_at is not None:
        body["due_date"] = due_date(request.expires_at)
    return body


def expires_at(charge: Charge) -> datetime | None:
    """The charge's own ``due_date`` (stores and SPEI), after which Openpay takes no payment."""
    return parse_time(charge.get("due_date"))


def next_action(charge: Charge, amount: Money | None, beneficiary: str) -> NextAction | None:
    """What a pending charge asks of the customer: a redirect, a voucher or a transfer."""
    method = charge.get("payment_method")
    if not isinstance(method, dict):
        return None
    kind = method.get("type")
    if kind == "store" and method.get("reference") and amount is not None:
        voucher = CashVoucher(
            reference=str(method["reference"]),
            amount=amount,
            barcode_url=str(method["barcode_url"]) if method.get("barcode_url") else None,
            expires_at=expires_at(charge),
        )
        return NextAction("display_cash_voucher", cash_voucher=voucher)
    if kind == "bank_transfer" and method.get("clabe") and amount is not None:
        transfer = BankTransferInstructions(
            clabe=str(method["clabe"]),
            bank=str(method.get("bank") or ""),
            beneficiary=beneficiary,
            amount=amount,
            reference=str(method["name"]) if method.get("name") else None,
            expires_at=expires_at(charge),
        )
        agreement = {"agreement": str(method["agreement"])} if method.get("agreement") else {}
        return NextAction(
            "display_bank_transfer_instructions", data=agreement, bank_transfer=transfer
        )
    if method.get("url"):  # 3-D Secure or the card page
        return NextAction("redirect", url=str(method["url"]))
    return None


def _funding(card: dict[str, Any]) -> Any:
    kind = str(card.get("type") or "").lower()
    return kind if kind in ("credit", "debit", "prepaid") else None


def method_details(charge: Charge) -> MethodDetails | None:
    """How a completed charge was paid, for the ERP's CFDI: the card's brand, type (credit or
    debit), last four digits and MSI, the authorization and the operation date."""
    paid_at = parse_time(charge.get("operation_date"))
    authorization = str(charge["authorization"]) if charge.get("authorization") else None
    method = charge.get("method")
    if method == "card":
        card = charge.get("card") if isinstance(charge.get("card"), dict) else {}
        assert isinstance(card, dict)
        number = str(card.get("card_number") or "")
        plan = charge.get("payment_plan")
        payments = plan.get("payments") if isinstance(plan, dict) else None
        return MethodDetails(
            type="card",
            brand=str(card["brand"]).lower() if card.get("brand") else None,
            last4=number[-4:] if len(number) >= 4 and number[-4:].isdigit() else None,
            funding=_funding(card),
            authorization_code=authorization,
            installments=int(str(payments)) if str(payments or "").isdigit() else None,
            paid_at=paid_at,
        )
    kinds = {"store": "cash", "bank_account": "bank_transfer"}
    if method in kinds:
        return MethodDetails(
            type=kinds[str(method)], authorization_code=authorization, paid_at=paid_at
        )
    return None
