"""Manual payments: money the merchant received outside the gateway (cash at the counter, a bank
transfer, a cheque), recorded so the gateway knows its invoices or order are paid.

A manual payment is a payment like any other: ``processor`` ``manual``, ``payment_method``
``manual``, written ``succeeded`` in one transaction with its allocations, so it registers its
invoices exactly as an online payment does (the same partial unique index decides) and the
payability rules refuse them with ``payment_registered``. Observers hear of it as of any new
payment (``payment.succeeded`` in the outbound events) and the feed lists it.

The checks are the checkout's (:func:`b2bgateway.payability.check_invoices`): the invoices must
be the customer's, of one currency, with a balance, and held by no other payment. What only
concerns paying *online* (a processor, the portal's switches, the source of the invoice, an
inactive customer) does not stop money that was already received.

Voiding one (a cheque that bounced, a transfer recorded twice) cancels it: its invoices or its
order are open again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from b2bgateway import audit, history, lifecycle
from b2bgateway.audit import Actor
from b2bgateway.errors import (
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    NotPayable,
    RefundNotAllowed,
)
from b2bgateway.gateway import Gateway
from b2bgateway.interface import PaymentMethodType, PaymentStatus
from b2bgateway.money import Money
from b2bgateway.payability import check_invoices
from b2bgateway.representation import forma_pago, timestamp
from b2bgateway.rules import Reason, combine
from b2bgateway.service import get_payment
from b2bgateway.settings import MerchantConfig
from b2bgateway.statement import local_today
from b2bgateway.store.models import Customer, Payment
from b2bgateway.store.repository import create_payment, payment_by_key, set_payment_status

__all__ = [
    "MANUAL",
    "METHODS",
    "ONLINE_ONLY",
    "ManualPaymentRequest",
    "record_manual_payment",
    "void_payment",
]

#: The ``processor`` of a manual payment (no plugin has this name: nothing is ever charged).
MANUAL = "manual"
#: The earliest date a payment can say it was received (a typo's year 202 is refused).
EARLIEST = date(2000, 1, 1)
#: How the money came: ``forma_pago`` 01 cash, 03 transfer, 02 cheque, 99 other.
METHODS = ("cash", "transfer", "check", "other")
#: Reasons that concern paying online only: money already received is recorded anyway.
ONLINE_ONLY = frozenset(
    {
        Reason.PROCESSOR_NOT_CONFIGURED,
        Reason.CURRENCY_NOT_SUPPORTED,
        Reason.INVOICES_MODULE_HIDDEN,
        Reason.INVOICE_PAYMENTS_DISABLED,
        Reason.CUSTOMER_INACTIVE,
        Reason.UNSUPPORTED_SOURCE,
    }
)


@dataclass(frozen=True, slots=True)
class ManualPaymentRequest:
    """What was received: for ``invoices`` (``amount`` None: the sum of their balances) or for an
    ``order`` (``order_reference`` and ``amount``)."""

    customer_id: str
    purpose: str  # "order" | "invoices"
    idempotency_key: str
    method: str  # one of METHODS
    received_on: date
    reference: str = ""
    amount: Money | None = None
    invoice_ids: Sequence[str] = field(default_factory=tuple)
    order_reference: str | None = None
    note: str | None = None
    recorded_by: str | None = None  # a staff user's e-mail; None through the API


def record_manual_payment(
    gw: Gateway, merchant: MerchantConfig, req: ManualPaymentRequest, actor: Actor | None = None
) -> Payment:
    """Write a ``succeeded`` manual payment and its allocations (a retry with the same key
    returns the first one).

    :raises NotFound: the customer, or an invoice that is not this customer's.
    :raises NotPayable: an invoice without balance or held by another payment (reason codes as
        the checkout's), or an order reference already paid.
    :raises InvalidRequest: an amount in another currency, or one the invoices cannot take.
    """
    if req.method not in METHODS:
        raise InvalidRequest(f"method must be one of {', '.join(METHODS)}")
    latest = local_today(merchant.zone) + timedelta(days=1)
    if not EARLIEST <= req.received_on <= latest:
        raise InvalidRequest(f"received_on: between {EARLIEST} and today ({latest} at most)")
    try:
        with gw.store.write() as session:
            existing = payment_by_key(session, merchant.id, req.idempotency_key)
            if existing is not None:
                return _same_request(existing, req)
            if session.get(Customer, (merchant.id, req.customer_id)) is None:
                raise NotFound(f"customer {req.customer_id!r} not found")
            amount, allocations = _what_was_paid(gw, session, merchant, req)
            payment = create_payment(
                session,
                merchant_id=merchant.id,
                customer_id=req.customer_id,
                purpose=req.purpose,
                amount=amount,
                processor=MANUAL,
                allocations=allocations,
                order_reference=req.order_reference,
                idempotency_key=req.idempotency_key,
                status=PaymentStatus.SUCCEEDED,
                payment_method=PaymentMethodType.MANUAL.value,
            )
            payment.paid_at = datetime.combine(req.received_on, time(), tzinfo=merchant.zone)
            payment.method_details = _details(req, payment.paid_at)
            session.flush()
            with history.acting(actor):
                lifecycle.created(session, gw.plugins, payment)
            if actor is not None:
                audit.record(session, actor, "manual_payment", payment.id, {"method": req.method})
            return payment
    except IntegrityError:
        # The same key a moment ago, or a checkout registered the invoice/order first.
        with gw.store.read() as session:
            existing = payment_by_key(session, merchant.id, req.idempotency_key)
        if existing is not None:
            return _same_request(existing, req)
        raise NotPayable(
            "a payment of this is already registered", [Reason.PAYMENT_REGISTERED]
        ) from None


def _same_request(existing: Payment, req: ManualPaymentRequest) -> Payment:
    """The payment an idempotency key made, if it was this request's (same customer, manual)."""
    if existing.processor != MANUAL or existing.customer_id != req.customer_id:
        raise IdempotencyConflict(
            "this idempotency key was used for another payment; use a new key for a new one"
        )
    return existing


def _details(req: ManualPaymentRequest, paid_at: datetime) -> dict[str, Any]:
    """The payment's ``method_details``: the API's shape, with what a person wrote down."""
    body: dict[str, Any] = {
        "type": req.method,
        "brand": None,
        "last4": None,
        "funding": None,
        "authorization_code": None,
        "installments": None,
        "tracking_key": req.reference if req.method == "transfer" and req.reference else None,
        "payer_bank": None,
        "paid_at": timestamp(paid_at),
        "reference": req.reference or None,
        "received_on": req.received_on.isoformat(),
        "note": req.note or None,
        "recorded_by": req.recorded_by,
    }
    body["forma_pago"] = forma_pago(body)
    return body


def _what_was_paid(
    gw: Gateway, session: Session, merchant: MerchantConfig, req: ManualPaymentRequest
) -> tuple[Money, list[tuple[str, Money]]]:
    if req.purpose == "order":
        if not req.order_reference or req.amount is None:
            raise InvalidRequest("an order payment takes the order's reference and amount")
        if not req.amount.is_positive():
            raise InvalidRequest("amount: must be greater than zero")
        return req.amount, []
    if not req.invoice_ids:
        raise InvalidRequest("an invoices payment takes invoice_ids")
    decision = check_invoices(gw.plugins, session, merchant, req.customer_id, req.invoice_ids)
    kept = [
        (invoice, [r for r in d.reasons if r not in ONLINE_ONLY])
        for invoice, d in decision.invoices
    ]
    reasons = combine(
        *(why for _, why in kept),
        [r for r in decision.reasons if r == Reason.MIXED_CURRENCIES],
    )
    if reasons:
        raise NotPayable(
            "these invoices cannot take a manual payment",
            reasons,
            invoices=[{"invoice_id": inv.invoice_id, "reasons": why} for inv, why in kept],
        )
    assert decision.amount is not None
    return _allocate(decision.amount, req.amount, [inv.balance for inv, _ in kept], kept)


def _allocate(
    total: Money, amount: Money | None, balances: list[Money], kept: list[tuple[Any, Any]]
) -> tuple[Money, list[tuple[str, Money]]]:
    """Allocate ``amount`` (default: the balances' sum) to the invoices in the order given, each
    up to its balance; every invoice must get something, and no more than the sum is taken."""
    paid = total if amount is None else amount
    if paid.currency != total.currency:
        raise InvalidRequest(f"amount: the invoices are in {total.currency}")
    if not paid.is_positive() or paid > total:
        raise InvalidRequest(
            f"amount: must be more than zero and at most {total.amount} {total.currency}",
            extra={"amount": str(total.amount), "currency": total.currency},
        )
    left, allocations = paid, []
    for (invoice, _), balance in zip(kept, balances, strict=True):
        if not left.is_positive():
            raise InvalidRequest(
                f"amount: nothing is left for invoice {invoice.invoice_id}; "
                "leave it out or raise the amount"
            )
        share = balance if balance <= left else left
        allocations.append((invoice.invoice_id, share))
        left = left - share
    return paid, allocations


def void_payment(
    gw: Gateway,
    merchant: MerchantConfig,
    payment_id: str,
    reason: str,
    voided_by: str | None,
    actor: Actor | None = None,
) -> Payment:
    """Void a manual payment: it becomes ``canceled`` (failure ``voided``, with the reason) and
    its invoices or order are open again. Voiding a voided payment returns it as it stands.

    :raises NotFound: not this merchant's payment.
    :raises RefundNotAllowed: an online payment (refund it instead), or not ``succeeded``.
    """
    with gw.store.write() as session:
        payment = get_payment(session, merchant.id, payment_id)
        session.refresh(payment, with_for_update=True)
        if payment.processor != MANUAL:
            raise RefundNotAllowed(
                "only a manual payment can be voided; refund an online one",
                code="void_not_allowed",
            )
        if payment.status == PaymentStatus.CANCELED and payment.failure_code == "voided":
            return payment
        if payment.status != PaymentStatus.SUCCEEDED:
            raise RefundNotAllowed(
                f"a {payment.status} payment cannot be voided", code="void_not_allowed"
            )
        payment.failure_code = "voided"
        payment.failure_message = reason
        details = dict(payment.method_details or {})
        details["voided_by"] = voided_by
        payment.method_details = details
        set_payment_status(session, payment, PaymentStatus.CANCELED)
        with history.acting(actor):
            lifecycle.announce(
                session, gw.plugins, payment, PaymentStatus.SUCCEEDED, {"event": "voided"}
            )
        if actor is not None:
            audit.record(session, actor, "void", payment.id, {"reason": reason})
        return payment
