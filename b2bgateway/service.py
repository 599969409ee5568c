"""Checkout and refund orchestration.

The order of operations is what keeps money safe:
1. decide payability and write the payment (and its allocations) in one committed transaction,
   before any processor call: the database's unique indexes make a second payment of an invoice
   or an order impossible, whatever runs concurrently (:mod:`b2bgateway.reservation`);
2. call the configured processor outside any transaction, sending our payment id as its
   idempotency key / order id / external reference;
3. record the answer on the locked row. An answer we cannot know (timeout, crash, plugin bug)
   leaves the payment ``processing``: reconciliation settles it by asking the processor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from b2bgateway import idempotency, lifecycle
from b2bgateway.checkout_rules import CheckoutRequest, processor_for
from b2bgateway.errors import (
    DatabaseUnavailable,
    GatewayError,
    NotFound,
    ProcessorDeclined,
    ProcessorMisconfigured,
    ProcessorUnavailable,
    UnsupportedRequest,
)
from b2bgateway.gateway import Gateway
from b2bgateway.idempotency import Claim, Replay
from b2bgateway.interface import ChargeRequest, ChargeResult, Failure, Outcome, PaymentStatus
from b2bgateway.plugins import Processor
from b2bgateway.reservation import Payer, payment_response, reserve
from b2bgateway.settings import MerchantConfig
from b2bgateway.store.db import MAYBE_UNAVAILABLE, is_unavailable
from b2bgateway.store.models import Payment

__all__ = [
    "CheckoutAnswer",
    "CheckoutRequest",
    "checkout",
    "checkout_with_key",
    "get_payment",
    "payment_response",
    "processor_failure",
]

log = logging.getLogger(__name__)


def get_payment(session: Session, merchant_id: str, payment_id: str) -> Payment:
    """A payment of this merchant, or 404 (another merchant's payment does not exist for it)."""
    payment = session.get(Payment, payment_id)
    if payment is None or payment.merchant_id != merchant_id:
        raise NotFound(f"payment {payment_id!r} not found")
    return payment


def processor_failure(
    exc: GatewayError, merchant_id: str, processor: str, subject: str
) -> Failure | None:
    """What a processor's exception means for a charge or a refund: the failure when nothing
    was done (unreachable, refused outright, our credentials refused), or None when the outcome
    is unknown (a contract error or anything else: reconciliation settles it)."""
    if isinstance(exc, ProcessorUnavailable):  # nothing was sent: a clean failure
        return Failure("processor_unavailable", exc.detail)
    if isinstance(exc, UnsupportedRequest | ProcessorDeclined):  # refused outright
        return Failure(exc.code, exc.detail)
    if isinstance(exc, ProcessorMisconfigured):  # refused before anything happened
        log.error(
            "merchant %s: processor %s refused our credentials: %s",
            merchant_id,
            processor,
            exc.detail,
        )
        return Failure("processor_misconfigured", exc.detail)
    log.error(
        "%s: processor %s: %s (outcome unknown, will reconcile)",
        subject,
        processor,
        exc.detail,
        exc_info=exc,
    )
    return None


def _charge(
    gw: Gateway, merchant: MerchantConfig, payment: Payment, payer: Payer, req: CheckoutRequest
) -> ChargeResult:
    """Step 2: ask the processor. Never raises: whatever happens becomes a result."""
    processor = processor_for(merchant)
    request = _charge_request(
        gw,
        merchant,
        processor,
        payment,
        payer,
        req.token,
        req.device_session_id,
        req.payment_details,
    )
    try:
        return processor.charge(request, merchant.processor_settings)  # type: ignore[arg-type]
    except GatewayError as exc:
        failure = processor_failure(exc, merchant.id, processor.name, f"payment {payment.id}")
        if failure is None:
            return ChargeResult(Outcome.UNKNOWN)
        return ChargeResult(Outcome.FAILED, failure=failure)


def _charge_request(
    gw: Gateway,
    merchant: MerchantConfig,
    processor: Processor,
    payment: Payment,
    payer: Payer,
    token: str | None,
    device_session_id: str | None,
    details: Mapping[str, str] | None,
) -> ChargeRequest:
    invoice_ids = [allocation.invoice_id for allocation in payment.allocations]
    description = (
        f"Pedido {payment.order_reference}"
        if payment.purpose == "order"
        else "Facturas " + ", ".join(invoice_ids)
    )
    return ChargeRequest(
        payment_id=payment.id,
        merchant_id=merchant.id,
        amount=payment.amount,
        customer=payer.customer,
        description=description[:250],
        idempotency_key=f"{payment.id}:charge",
        token=token,
        return_url=payment.return_url,
        gateway_url=str(gw.settings.public_url).rstrip("/"),
        webhook_url=gw.webhook_url(merchant.id, processor.name),
        metadata={"payment_id": payment.id, "customer_id": payment.customer_id},
        device_session_id=device_session_id,
        browser_details=dict(details or {}),
        payment_method=payment.payment_method,
        installments=payment.installments,
        expires_at=payment.expires_at,
        processor_customer=payer.processor_customer,
    )


def checkout(gw: Gateway, merchant: MerchantConfig, req: CheckoutRequest) -> Payment:
    """Pay an order or invoices: reserve, charge, record. Returns the payment as it now stands.
    For a request without a claim (the HTTP API's, with one, is :func:`checkout_with_key`).

    :raises NotPayable: with reason codes (and each invoice's), before any payment exists.
    :raises NotFound: the customer or an invoice is not this merchant's / customer's.
    :raises AmountChanged: ``expected_amount`` differs from the invoices' current balances.
    :raises UnsupportedRequest: the processor cannot do the flow asked for.
    """
    if req.claim is not None:
        raise ValueError("a request with a claim is answered by checkout_with_key")
    reserved = reserve(gw, merchant, req)
    assert not isinstance(reserved, Replay)  # only a claim has a stored answer
    payment, payer = reserved
    if payer is None or payment.status != PaymentStatus.PROCESSING:
        return payment  # a retry's payment, as it stands
    return _record(gw, payment, _charge(gw, merchant, payment, payer, req), None)[0]


@dataclass(frozen=True, slots=True)
class CheckoutAnswer:
    """A checkout's answer under its client's key: the response stored there (this request's,
    or, when ``replayed``, the first request's, byte for byte)."""

    response: Replay
    replayed: bool


def checkout_with_key(
    gw: Gateway, merchant: MerchantConfig, req: CheckoutRequest
) -> CheckoutAnswer:
    """:func:`checkout` with the client's key claimed in the payment's own transaction and the
    response (:func:`payment_response`) stored in the one that records the processor's answer:
    two write transactions in all. Raises what :func:`checkout` raises, plus
    :class:`~b2bgateway.errors.IdempotencyConflict` and
    :class:`~b2bgateway.errors.IdempotencyInProgress`; a refusal leaves nothing under the key.
    """
    claim = req.claim
    if claim is None:
        raise ValueError("checkout_with_key needs the request's claim")
    reserved = reserve(gw, merchant, req)
    if isinstance(reserved, Replay):
        return CheckoutAnswer(reserved, replayed=True)
    payment, payer = reserved
    if payer is None:  # a retry's payment, as it stands: its response was stored in reserve
        return CheckoutAnswer(payment_response(payment), replayed=False)
    try:
        result = _charge(gw, merchant, payment, payer, req)
        _, response = _record(gw, payment, result, claim)
        assert response is not None
        return CheckoutAnswer(response, replayed=False)
    except BaseException:
        # The payment is committed and stays processing for reconciliation; a retry with the key
        # may run now (and answers that payment as it stands).
        _release(gw, claim)
        raise


def _release(gw: Gateway, claim: Claim) -> None:
    try:
        idempotency.release(gw.store, claim.merchant_id, claim.key)
    except MAYBE_UNAVAILABLE:
        log.warning("could not release an idempotency claim; it expires on its own", exc_info=True)


_PAYMENT_COLUMNS = [column.key for column in Payment.__mapper__.column_attrs]
#: Pauses between attempts to record a processor's answer when the database is unavailable.
RECORD_RETRY_PAUSES: tuple[float, ...] = (0.2, 1.0, 3.0)


def _record(
    gw: Gateway, payment: Payment, result: ChargeResult, claim: Claim | None
) -> tuple[Payment, Replay | None]:
    """Step 3: record the answer on the locked row, and the response under the client's key
    (``claim``) in the same transaction. The money has moved by now, so a database that is
    briefly unavailable is waited for; if it stays away the payment stays ``processing`` and
    reconciliation records the answer by asking the processor again.

    :raises DatabaseUnavailable: after the last attempt (the client may retry with its key).
    """
    payment_id = payment.id  # a failed attempt's rollback expires the object's attributes
    for attempt in range(len(RECORD_RETRY_PAUSES) + 1):
        try:
            with gw.store.write() as session:
                if attempt == 0:
                    # This request's own object (its allocations are loaded and cannot change):
                    # only its columns are read again, under the row lock, in case a webhook
                    # got there first.
                    session.add(payment)
                    session.refresh(payment, _PAYMENT_COLUMNS, with_for_update=True)
                    locked = payment
                else:  # that object is expired and detached now: load the row afresh
                    found = session.get(Payment, payment_id, with_for_update=True)
                    assert found is not None
                    locked = found
                lifecycle.apply_charge_result(session, gw.plugins, locked, result)
                if claim is None:
                    return locked, None
                session.flush()
                response = payment_response(locked)
                idempotency.store_response(session, claim, response)
                return locked, response
        except MAYBE_UNAVAILABLE as exc:
            if not is_unavailable(exc):
                raise  # a lasting fault: the payment stays processing for reconciliation
            if attempt == len(RECORD_RETRY_PAUSES):
                log.error(
                    "payment %s: the processor answered %s but the database is unavailable; "
                    "it stays processing until reconciliation asks again",
                    payment_id,
                    result.outcome.value,
                    exc_info=exc,
                )
                raise DatabaseUnavailable(
                    "the payment was sent to the processor but its answer could not be recorded"
                    " yet; retry with the same Idempotency-Key"
                ) from None
            log.warning(
                "payment %s: recording the processor's answer failed (%s); retrying",
                payment_id,
                type(exc).__name__,
            )
            time.sleep(RECORD_RETRY_PAUSES[attempt])
    raise AssertionError("unreachable")
