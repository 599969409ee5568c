"""How a Mercado Pago payment was (or is to be) paid, in the contract's terms: the method details
the merchant's ERP needs for the CFDI (``payment_type_id``, card brand and last four digits,
authorization code, installments, ``date_approved``), and what a customer paying with cash must
do: the voucher, the SPEI transfer's instructions page, or the card issuer's 3-D Secure
challenge.

Mercado Pago's ``payment_type_id``: ``credit_card``, ``debit_card`` and ``prepaid_card`` are
cards; ``ticket`` is cash (OXXO, Paycash, bank counters); ``bank_transfer`` is SPEI (``clabe``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from b2bgateway import BankTransferInstructions, CashVoucher, MethodDetails, Money, NextAction
from b2bgateway.next_actions import web_origin

__all__ = [
    "FUNDING",
    "cash_next_action",
    "challenge_next_action",
    "method_details",
    "method_type",
    "pending_next_action",
    "transfer_next_action",
]

#: ``payment_type_id`` of a card -> the contract's funding.
FUNDING: dict[str, Literal["credit", "debit", "prepaid"]] = {
    "credit_card": "credit",
    "debit_card": "debit",
    "prepaid_card": "prepaid",
}
#: Mercado Pago's card ``payment_method_id`` -> the brand's usual name (others pass as they are).
BRANDS = {"master": "mastercard", "debmaster": "mastercard", "debvisa": "visa"}
_TYPES = {"ticket": "cash", "atm": "cash", "bank_transfer": "bank_transfer"}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def method_type(payment: Mapping[str, Any]) -> str | None:
    """The contract's payment method type of this payment (None when Mercado Pago did not say)."""
    kind = str(payment.get("payment_type_id") or "")
    if kind in FUNDING:
        return "card"
    return _TYPES.get(kind)


def method_details(payment: Mapping[str, Any]) -> MethodDetails | None:
    """The method details of a payment, as far as Mercado Pago reports them."""
    kind = method_type(payment)
    if kind is None:
        return None
    paid_at = _parse_time(payment.get("date_approved"))
    if kind != "card":
        return MethodDetails(type=kind, paid_at=paid_at)
    card = payment.get("card")
    card = card if isinstance(card, Mapping) else {}
    brand = _text(payment.get("payment_method_id"))
    installments = payment.get("installments")
    return MethodDetails(
        type="card",
        brand=BRANDS.get(brand, brand) if brand else None,
        last4=_text(card.get("last_four_digits")),
        funding=FUNDING[str(payment["payment_type_id"])],
        authorization_code=_text(payment.get("authorization_code")),
        installments=int(installments) if isinstance(installments, int) else None,
        paid_at=paid_at,
    )


def cash_next_action(payment: Mapping[str, Any], amount: Money | None) -> NextAction | None:
    """The voucher of a pending cash payment: the reference to pay at the store
    (``payment_method.data.reference_id``), the printable voucher
    (``transaction_details.external_resource_url``) and its due date (``date_of_expiration``)."""
    if method_type(payment) != "cash" or amount is None:
        return None
    method = payment.get("payment_method")
    data = method.get("data") if isinstance(method, Mapping) else None
    reference = _text(data.get("reference_id")) if isinstance(data, Mapping) else None
    details = payment.get("transaction_details")
    url = _text(details.get("external_resource_url")) if isinstance(details, Mapping) else None
    if reference is None:
        return None
    voucher = CashVoucher(
        reference=reference,
        amount=amount,
        voucher_url=url,
        expires_at=_parse_time(payment.get("date_of_expiration")),
    )
    return NextAction(type="display_cash_voucher", url=url, cash_voucher=voucher)


def _method_data(payment: Mapping[str, Any]) -> Mapping[str, Any]:
    method = payment.get("payment_method")
    data = method.get("data") if isinstance(method, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def transfer_next_action(payment: Mapping[str, Any], amount: Money | None) -> NextAction | None:
    """The instructions of a pending SPEI transfer. Mercado Pago documents no CLABE in its
    answer, only its page with the instructions (``payment_method.data.external_resource_url``,
    in the older guide ``transaction_details.external_resource_url``) and a reference
    (``payment_method.data.reference_id``): the page is the instructions' hosted URL."""
    if method_type(payment) != "bank_transfer" or amount is None:
        return None
    data = _method_data(payment)
    details = payment.get("transaction_details")
    url = _text(data.get("external_resource_url"))
    if url is None and isinstance(details, Mapping):
        url = _text(details.get("external_resource_url"))
    if url is None or not url.startswith("https://"):
        return None
    instructions = BankTransferInstructions(
        clabe=None,
        bank=None,
        beneficiary=None,
        amount=amount,
        reference=_text(data.get("reference_id")),
        expires_at=_parse_time(payment.get("date_of_expiration")),
        hosted_instructions_url=url,
    )
    return NextAction(
        type="display_bank_transfer_instructions", url=url, bank_transfer=instructions
    )


#: ``status_detail`` of a card payment waiting for the buyer's 3-D Secure challenge.
PENDING_CHALLENGE = "pending_challenge"


def challenge_next_action(payment: Mapping[str, Any]) -> NextAction | None:
    """The 3-D Secure challenge of a ``pending`` / ``pending_challenge`` card payment: a form
    posting ``creq`` to the issuer's ``external_resource_url``. The SDK's type names the object
    ``three_ds_info``; the guide's sample answer spells it ``three_dsinfo``: either is read."""
    if payment.get("status_detail") != PENDING_CHALLENGE:
        return None
    info = payment.get("three_ds_info") or payment.get("three_dsinfo")
    if not isinstance(info, Mapping):
        return None
    url = _text(info.get("external_resource_url"))
    creq = _text(info.get("creq"))
    if url is None or creq is None:
        return None
    try:
        web_origin(url)  # https, a plain host and port: what NextAction requires
    except ValueError:
        return None
    return NextAction(type="post_form", url=url, data={"creq": creq})


def pending_next_action(payment: Mapping[str, Any], amount: Money | None) -> NextAction | None:
    """What the customer must do for a pending payment, if anything: pay the voucher, send the
    transfer or answer the issuer's challenge."""
    return (
        cash_next_action(payment, amount)
        or transfer_next_action(payment, amount)
        or challenge_next_action(payment)
    )
