"""Step 1 of a checkout (:mod:`b2bgateway.service`): decide and write the payment, committed
before the processor is called.

One transaction: the first statement reads everything the decision starts from (the customer,
a payment this idempotency key already created, the customer's id at the processor, and, when
the API key's check left it here, whether the client's address is refused); then the client's
``Idempotency-Key`` is claimed, payability decided and the payment inserted. A refusal rolls
the claim back with everything else: the key stays free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from b2bgateway import idempotency, lifecycle, throttle
from b2bgateway.checkout_rules import (
    CheckoutRequest,
    check_capabilities,
    check_method,
    check_method_currency,
    check_required,
    processor_for,
    what_to_charge,
)
from b2bgateway.errors import NotFound, NotPayable, TooManyFailedAuthentications
from b2bgateway.gateway import Gateway
from b2bgateway.idempotency import Replay
from b2bgateway.interface import CustomerRef, PaymentStatus
from b2bgateway.money import Money
from b2bgateway.representation import payment_json
from b2bgateway.settings import MerchantConfig
from b2bgateway.store.models import Customer, Payment, ProcessorCustomer, utcnow
from b2bgateway.store.repository import create_payment, payment_by_key

__all__ = ["Payer", "payment_response", "reserve"]


@dataclass(frozen=True, slots=True)
class Payer:
    """Who pays a new payment, and their id at the processor when its plugin made one."""

    customer: CustomerRef
    processor_customer: str | None


@dataclass(frozen=True, slots=True)
class _Found:
    """What the reservation's first statement read."""

    customer: Customer | None  # None: not this merchant's customer (404)
    keyed_payment: str | None  # the payment this idempotency key created (a retry after a crash)
    processor_customer: str | None
    blocked_until: datetime | None  # the client's address refused until then (its API key check)


def reserve(
    gw: Gateway, merchant: MerchantConfig, req: CheckoutRequest
) -> tuple[Payment, Payer | None] | Replay:
    """Decide and write the payment in one transaction (see the module). Returns the payment
    and, when this call created it, who pays it (for the charge); or the key's stored answer.

    A refused address (``req.client_address``) is answered 429 before the key is claimed or any
    answer of it replayed; a retry's payment (same idempotency key) is answered as it stands,
    its response stored with the claim; then the customer (404), the processor's capabilities,
    payability, and the insert.
    """
    try:
        with gw.store.write() as session:
            found = _look_up(session, merchant, req)
            refused = throttle.seconds_refused(found.blocked_until)
            if refused is not None:
                raise TooManyFailedAuthentications(refused)
            if req.claim is not None:
                stored = idempotency.claim(session, req.claim)
                if stored is not None:
                    return stored
            if found.keyed_payment is not None:  # a retry after a crash: never a second payment
                existing = session.get(Payment, found.keyed_payment)
                assert existing is not None  # payments are never deleted
                if req.claim is not None:
                    session.flush()
                    idempotency.store_response(session, req.claim, payment_response(existing))
                return existing, None
            return _new_payment(gw, session, merchant, req, found)
    except IntegrityError:
        # A concurrent checkout registered the same invoice/order first (the unique index
        # decided), or (without a claim, which would have answered 409) the same idempotency
        # key created its payment a moment ago.
        existing = None if req.claim else _existing(gw, merchant.id, req.idempotency_key)
        if existing is not None:
            return existing, None
        raise NotPayable(
            "a payment of this is already registered", ["payment_registered"]
        ) from None


def payment_response(payment: Payment) -> Replay:
    """The HTTP answer a checkout stores under its key: 201 and the payment's JSON."""
    body = json.dumps(payment_json(payment), ensure_ascii=False, separators=(",", ":"))
    return Replay(201, body, "application/json")


def _existing(gw: Gateway, merchant_id: str, key: str) -> Payment | None:
    with gw.store.read() as session:
        return payment_by_key(session, merchant_id, key)


def _look_up(session: Session, merchant: MerchantConfig, req: CheckoutRequest) -> _Found:
    """One statement (one round trip) for the customer and what goes with it; a second one only
    when there is no such customer (a 404, after the address's refusal and a retry's payment)."""
    params = {
        "merchant_id": merchant.id,
        "customer_id": req.customer_id,
        "key": req.idempotency_key,
        "processor": "" if merchant.processor is None else merchant.processor.name,
        "address": None if req.client_address is None else req.client_address[:64],
    }
    row = session.execute(_LOOK_UP, params).first()
    if row is not None:
        return _Found(*row)
    alone = session.connection().execute(_LOOK_UP_WITHOUT_CUSTOMER, params).one()
    return _Found(None, alone.keyed_payment, None, alone.blocked_until)


def _new_payment(
    gw: Gateway, session: Session, merchant: MerchantConfig, req: CheckoutRequest, found: _Found
) -> tuple[Payment, Payer]:
    customer = found.customer
    if customer is None:
        raise NotFound(f"customer {req.customer_id!r} not found")
    processor = processor_for(merchant)
    check_method(processor, merchant, req)
    check_capabilities(processor, req.token, req.payment_method)
    check_required(processor, req, customer.email, merchant.processor_settings)
    amount, allocations = what_to_charge(gw.plugins, session, merchant, req)
    check_method_currency(processor, merchant, req.payment_method, amount)
    payment = _create_payment(session, merchant, req, processor.name, amount, allocations)
    lifecycle.created(session, gw.plugins, payment)
    payer = CustomerRef(customer.customer_id, customer.name, customer.email)
    return payment, Payer(payer, found.processor_customer)


def _create_payment(
    session: Session,
    merchant: MerchantConfig,
    req: CheckoutRequest,
    processor: str,
    amount: Money,
    allocations: list[tuple[str, Money]],
) -> Payment:
    return create_payment(
        session,
        merchant_id=merchant.id,
        customer_id=req.customer_id,
        purpose=req.purpose,
        amount=amount,
        processor=processor,
        allocations=allocations,
        order_reference=req.order_reference,
        idempotency_key=req.idempotency_key,
        return_url=req.return_url,
        status=PaymentStatus.PROCESSING,
        payment_method=req.payment_method,
        installments=req.installments,
        expires_at=utcnow() + merchant.settings.expiry.for_method(req.payment_method),
    )


# Built once (every checkout runs them). Parameters: merchant_id, customer_id, key, processor,
# address (None when the API key's check already read it: then nothing matches).
_KEYED_PAYMENT = (
    select(Payment.id)
    .where(Payment.merchant_id == bindparam("merchant_id"))
    .where(Payment.idempotency_key == bindparam("key"))
    .scalar_subquery()
    .label("keyed_payment")
)
_PROCESSOR_CUSTOMER = (
    select(ProcessorCustomer.reference)
    .where(ProcessorCustomer.merchant_id == bindparam("merchant_id"))
    .where(ProcessorCustomer.processor == bindparam("processor"))
    .where(ProcessorCustomer.customer_id == bindparam("customer_id"))
    .scalar_subquery()
    .label("processor_customer")
)
_BLOCKED_UNTIL = throttle.BLOCKED_UNTIL.label("blocked_until")
_LOOK_UP = (
    select(Customer, _KEYED_PAYMENT, _PROCESSOR_CUSTOMER, _BLOCKED_UNTIL)
    .where(Customer.merchant_id == bindparam("merchant_id"))
    .where(Customer.customer_id == bindparam("customer_id"))
)
_LOOK_UP_WITHOUT_CUSTOMER = select(_KEYED_PAYMENT, _BLOCKED_UNTIL)
