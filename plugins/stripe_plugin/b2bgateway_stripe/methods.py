"""How a PaymentIntent is paid, in the contract's terms: the OXXO voucher and the SPEI transfer
instructions the customer follows (``next_action``), the funds a transfer has brought so far, and
the method details the merchant's ERP needs for the CFDI once the charge is paid.

Everything is read from Stripe's objects as documented for the API version the plugin pins
(``PaymentIntent.next_action.oxxo_display_details`` and ``display_bank_transfer_instructions``,
``Charge.payment_method_details``), with ``.get``: a field a version lacks is simply absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, cast

from b2bgateway import BankTransferInstructions, CashVoucher, MethodDetails, Money, NextAction

__all__ = ["charge_of", "method_details", "pending_action", "received", "references"]

Obj = Mapping[str, Any]
#: Stripe's ``payment_method_details.type`` -> our payment method.
_METHOD_TYPES = {"card": "card", "oxxo": "cash", "customer_balance": "bank_transfer"}
_FUNDING = ("credit", "debit", "prepaid")


def _text(obj: object, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) and value else None


def _when(timestamp: object) -> datetime | None:
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return datetime.fromtimestamp(timestamp, UTC)
    return None


def charge_of(intent: Obj) -> Obj | None:
    """The PaymentIntent's latest charge, when it was expanded."""
    charge = intent.get("latest_charge")
    return charge if isinstance(charge, Mapping) else None


def references(intent: Obj) -> tuple[str, ...]:
    """The PaymentIntent's own id and its latest charge's: a dispute or a refund made in the
    Dashboard names the payment by one of them."""
    own, charge = _text(intent, "id"), intent.get("latest_charge")
    charge_id = _text(charge, "id") if isinstance(charge, Mapping) else charge
    if own is None:
        return ()
    return (own, charge_id) if isinstance(charge_id, str) and charge_id else (own,)


def method_details(charge: Obj) -> MethodDetails | None:
    """How a paid charge was paid: card brand, last4, funding, authorization code and MSI plan;
    or the OXXO voucher / SPEI transfer; with when Stripe received the money."""
    details = charge.get("payment_method_details")
    if not isinstance(details, Mapping) or charge.get("status") != "succeeded":
        return None
    kind = str(details.get("type") or "")
    paid_at = _when(charge.get("created"))
    if kind != "card":
        our = _METHOD_TYPES.get(kind)
        return None if our is None else MethodDetails(type=our, paid_at=paid_at)
    card = details.get("card")
    card = card if isinstance(card, Mapping) else {}
    funding = _text(card, "funding")
    plan = (card.get("installments") or {}).get("plan") if isinstance(card, Mapping) else None
    count = plan.get("count") if isinstance(plan, Mapping) else None
    return MethodDetails(
        type="card",
        brand=_text(card, "brand"),
        last4=_text(card, "last4"),
        funding=cast(Literal["credit", "debit", "prepaid"], funding)
        if funding in _FUNDING
        else None,
        authorization_code=_text(card, "authorization_code") or _text(charge, "authorization_code"),
        installments=count if isinstance(count, int) and count > 1 else None,
        paid_at=paid_at,
    )


def _voucher(display: Obj, amount: Money) -> NextAction | None:
    number = _text(display, "number")
    if number is None:
        return None
    voucher = CashVoucher(
        reference=number,
        amount=amount,
        voucher_url=_text(display, "hosted_voucher_url"),
        expires_at=_when(display.get("expires_after")),
    )
    return NextAction("display_cash_voucher", url=voucher.voucher_url, cash_voucher=voucher)


def _transfer(display: Obj, amount: Money) -> NextAction | None:
    addresses = display.get("financial_addresses") or []
    spei = next(
        (
            a.get("spei")
            for a in addresses
            if isinstance(a, Mapping) and isinstance(a.get("spei"), Mapping)
        ),
        None,
    )
    clabe = _text(spei, "clabe")
    if spei is None or clabe is None:
        return None
    remaining = display.get("amount_remaining")
    due = (
        Money.from_minor_units(remaining, amount.currency)
        if isinstance(remaining, int) and not isinstance(remaining, bool)
        else amount
    )
    instructions = BankTransferInstructions(
        clabe=clabe,
        bank=_text(spei, "bank_name") or _text(spei, "bank_code") or "",
        beneficiary=_text(spei, "account_holder_name") or "",
        amount=due,
        reference=_text(display, "reference"),
        hosted_instructions_url=_text(display, "hosted_instructions_url"),
    )
    return NextAction(
        "display_bank_transfer_instructions",
        url=instructions.hosted_instructions_url,
        bank_transfer=instructions,
    )


def pending_action(intent: Obj, amount: Money) -> NextAction | None:
    """The voucher or the transfer instructions a ``requires_action`` PaymentIntent waits on."""
    action = intent.get("next_action")
    if not isinstance(action, Mapping):
        return None
    voucher = action.get("oxxo_display_details")
    if isinstance(voucher, Mapping):
        return _voucher(voucher, amount)
    transfer = action.get("display_bank_transfer_instructions")
    if isinstance(transfer, Mapping):
        return _transfer(transfer, amount)
    return None


def received(intent: Obj, amount: Money) -> Money | None:
    """What a SPEI transfer has brought so far: the amount less what Stripe says remains, or
    everything once a transfer (``customer_balance``) has paid it. None for other methods."""
    action = intent.get("next_action")
    display = (
        action.get("display_bank_transfer_instructions") if isinstance(action, Mapping) else None
    )
    remaining = display.get("amount_remaining") if isinstance(display, Mapping) else None
    if isinstance(remaining, int) and not isinstance(remaining, bool):
        return Money.from_minor_units(max(amount.to_minor_units() - remaining, 0), amount.currency)
    paid = intent.get("amount_received")
    if (
        intent.get("status") == "succeeded"
        and "customer_balance" in (intent.get("payment_method_types") or ())
        and isinstance(paid, int)
        and not isinstance(paid, bool)
    ):
        return Money.from_minor_units(paid, amount.currency)
    return None
