"""Mercado Pago's answers as b2bgateway results, and its errors as b2bgateway errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from b2bgateway import (
    ChargeResult,
    EventKind,
    Failure,
    Money,
    NextAction,
    Outcome,
    ProcessorMisconfigured,
    ProcessorUnavailable,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from b2bgateway_mercadopago import client, disputes, methods

log = logging.getLogger(__name__)

#: A payment's ``status`` as an outcome. A payment that was paid stays SUCCEEDED whatever
#: happened to it later: refunds are reported with ``refunded`` (and refund events), a dispute
#: or a charge-back as a DISPUTE event.
STATUS_MAP: dict[str, Outcome] = {
    "approved": Outcome.SUCCEEDED,
    "pending": Outcome.PENDING,  # cash voucher, SPEI transfer, 3-D Secure challenge
    "in_process": Outcome.PENDING,  # under review
    "authorized": Outcome.PENDING,  # awaiting capture (we always capture)
    "rejected": Outcome.FAILED,  # the card was declined: see DECLINES
    "cancelled": Outcome.FAILED,  # cancelled, or an unpaid voucher expired
    "refunded": Outcome.SUCCEEDED,  # paid, then refunded in full
    "charged_back": Outcome.SUCCEEDED,  # paid, then charged back (a dispute)
    "in_mediation": Outcome.SUCCEEDED,  # paid; the buyer opened a dispute
}
#: A refund's ``status`` as an outcome.
REFUND_STATUS_MAP: dict[str, Outcome] = {
    "approved": Outcome.SUCCEEDED,
    "in_process": Outcome.PENDING,
    "pending": Outcome.PENDING,
    "authorized": Outcome.PENDING,
    "rejected": Outcome.FAILED,
    "cancelled": Outcome.FAILED,
}
DISPUTED = frozenset({"charged_back", "in_mediation"})

#: ``status_detail`` of a rejected payment: (our failure code, message for the customer).
DECLINES: dict[str, tuple[str, str]] = {
    "cc_rejected_insufficient_amount": (
        "insufficient_funds",
        "La tarjeta no tiene fondos suficientes.",
    ),
    "cc_rejected_call_for_authorize": (
        "call_issuer",
        "Tu banco pide que autorices el pago: llámalo y vuelve a intentar.",
    ),
    "cc_rejected_high_risk": ("fraud_suspected", "El pago fue rechazado por seguridad."),
    "cc_rejected_blacklist": ("fraud_suspected", "El pago fue rechazado por seguridad."),
    "cc_rejected_duplicated_payment": (
        "duplicate_payment",
        "Ya se hizo un pago igual hace un momento.",
    ),
    "cc_rejected_invalid_installments": (
        "invalid_installments",
        "La tarjeta no acepta ese número de meses.",
    ),
}
BAD_FILLED = ("invalid_card_data", "Revisa los datos de la tarjeta.")  # cc_rejected_bad_filled_*
DECLINED = ("card_declined", "Tu banco rechazó la tarjeta.")
#: ``status_detail`` of a cancelled payment.
CANCELLATIONS: dict[str, tuple[str, str]] = {
    "expired": ("expired", "El pago no se completó a tiempo."),
}
CANCELED = ("canceled", "El pago se canceló.")
#: Error cause codes of a refused request (HTTP 400) that are about the card token.
TOKEN_ERRORS = frozenset({"2006", "3003", "3006", "3008", "3011", "3014", "3028"})


class OutcomeUnknown(Exception):
    """A write was sent and its answer is lost or unusable: the operation may have happened."""


@contextmanager
def translated_errors(*, writes: bool) -> Iterator[None]:
    """Transport failures and refusals of our credentials as b2bgateway errors.

    With ``writes``, a request that may have taken effect raises :class:`OutcomeUnknown` (the
    hook answers UNKNOWN). Other refusals (4xx) pass through as :class:`client.ApiError`.
    """
    try:
        yield
    except client.NotSent as exc:
        raise ProcessorUnavailable(f"Mercado Pago could not be reached ({exc})") from exc
    except client.NoAnswer as exc:
        if writes:
            raise OutcomeUnknown(str(exc)) from exc
        raise ProcessorUnavailable(f"Mercado Pago did not answer ({exc})") from exc
    except client.ApiError as exc:
        if exc.status in (401, 403):
            raise ProcessorMisconfigured(
                f"Mercado Pago refused the access token (HTTP {exc.status} {exc.error}: "
                f"{exc.message})",
                extra={"processor_code": exc.code},
            ) from exc
        if exc.status == 429:  # refused before doing anything
            raise ProcessorUnavailable("Mercado Pago is rate limiting us") from exc
        if exc.status >= 500 or exc.status == 409 or exc.status < 200:
            if writes:
                raise OutcomeUnknown(str(exc)) from exc
            raise ProcessorUnavailable(f"Mercado Pago failed ({exc})") from exc
        raise


def is_payment_id(value: str | None) -> bool:
    """Mercado Pago's payment ids are numbers (preference ids are not)."""
    return value is not None and value.isascii() and value.isdigit()


def money(value: Any, currency: Any) -> Money | None:
    """A Mercado Pago amount (a ``Decimal``, from the client's JSON parsing) as ``Money``."""
    if value is None or not isinstance(currency, str):
        return None
    return Money(value, currency)


def parse_time(value: Any) -> datetime | None:
    """``2024-01-10T12:00:01.000-04:00`` as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def decline(payment: Mapping[str, Any]) -> Failure:
    """Why a rejected or cancelled payment failed, keeping Mercado Pago's own detail."""
    status = str(payment.get("status") or "")
    detail = str(payment.get("status_detail") or status)
    if status == "cancelled":
        code, message = CANCELLATIONS.get(detail, CANCELED)
    elif detail.startswith("cc_rejected_bad_filled_"):
        code, message = BAD_FILLED
    else:
        code, message = DECLINES.get(detail, DECLINED)
    return Failure(code, message, processor_code=detail, processor_message=status)


def request_failure(exc: client.ApiError) -> Failure:
    """A write Mercado Pago refused outright (HTTP 4xx): nothing happened."""
    if exc.code in TOKEN_ERRORS:
        code, message = "invalid_payment_method", "Los datos de la tarjeta no son válidos."
    else:
        code, message = "processor_refused", "Mercado Pago rechazó la solicitud."
    return Failure(code, message, processor_code=exc.code, processor_message=exc.message)


def status_of(payment: Mapping[str, Any] | None) -> str:
    """``status/status_detail`` of a payment, for logs and support ("no payment" for None)."""
    if payment is None:
        return "no payment"
    status = str(payment.get("status") or "")
    detail = payment.get("status_detail")
    return f"{status}/{detail}" if detail else status


def charge_result(payment: Mapping[str, Any], *, attempt_open: bool = False) -> ChargeResult:
    """A Mercado Pago payment as the core's view of the charge.

    With ``attempt_open`` (the Checkout Pro preference it was made on still takes payments), a
    rejected or cancelled payment is one attempt (``final=False``): the buyer may try again on
    the same page, and its id is only the attempt's reference, never the charge's."""
    outcome = STATUS_MAP.get(str(payment.get("status")), Outcome.UNKNOWN)
    currency = payment.get("currency_id")
    reference = str(payment["id"])
    amount = money(payment.get("transaction_amount"), currency)
    attempt = attempt_open and outcome is Outcome.FAILED
    pending = outcome is Outcome.PENDING
    return ChargeResult(
        outcome,
        processor_reference=None if attempt else reference,
        amount=amount,
        next_action=methods.pending_next_action(payment, amount) if pending else None,
        failure=decline(payment) if outcome is Outcome.FAILED else None,
        refunded=money(payment.get("transaction_amount_refunded"), currency),
        processor_status=status_of(payment),
        final=not attempt,
        attempt_reference=reference,
        method_details=methods.method_details(payment),
        expires_at=parse_time(payment.get("date_of_expiration")) if pending else None,
    )


def refund_result(refund: Mapping[str, Any], request: RefundRequest) -> RefundResult:
    """Mercado Pago's refund as our refund's result. A refund of another amount than ours is
    UNKNOWN, without its reference (an ALERT): our refund stays pending, never recorded as
    succeeded for an amount that did not go back; Mercado Pago's own refund reaches the books
    through its notification, for what it is."""
    refunded = money(refund.get("amount"), request.amount.currency)
    if refunded is not None and refunded != request.amount:
        log.error(
            "ALERT refund %s: Mercado Pago's refund %s is of %s, we asked for %s: left pending",
            request.refund_id,
            refund.get("id"),
            refunded,
            request.amount,
        )
        return RefundResult(Outcome.UNKNOWN)
    status = str(refund.get("status") or "")
    outcome = REFUND_STATUS_MAP.get(status, Outcome.PENDING)
    declined = None
    if outcome is Outcome.FAILED:
        declined = Failure(
            "refund_refused", "Mercado Pago rechazó el reembolso.", processor_code=status
        )
    return RefundResult(outcome, processor_reference=str(refund["id"]), failure=declined)


def checkout_result(preference: Mapping[str, Any], *, sandbox: bool = False) -> ChargeResult:
    """A Checkout Pro preference waiting for the buyer: PENDING, with the redirect to it."""
    key = "sandbox_init_point" if sandbox else "init_point"
    url = preference.get(key) or preference.get("init_point")
    if not url:
        return ChargeResult(Outcome.PENDING, processor_status="preference")
    data = {"preference_id": str(preference.get("id", ""))}
    action = NextAction("redirect", url=str(url), data=data)
    return ChargeResult(Outcome.PENDING, next_action=action, processor_status="preference")


def newest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def created(item: dict[str, Any]) -> float:
        moment = parse_time(item.get("date_created"))
        return moment.timestamp() if moment else 0.0

    return sorted(items, key=created, reverse=True)


def newest(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    ordered = newest_first(items)
    return ordered[0] if ordered else None


def latest_refund(payment: Mapping[str, Any]) -> dict[str, Any] | None:
    refunds = [item for item in payment.get("refunds") or [] if isinstance(item, dict)]
    return newest(refunds)


def webhook_event(
    payment: Mapping[str, Any], event_type: str, *, attempt_open: bool = False
) -> WebhookEvent:
    """The event for a notification, from the payment as re-fetched from Mercado Pago.

    Its id is the payment's id, state and last update (``date_last_updated``), so a later change
    of the same payment is a new event, a return to a state it had before (``approved`` again
    after a mediation) too, and a notification delivered twice (or two notifications about one
    state) is one event. ``attempt_open`` as in :func:`charge_result`.
    """
    status = str(payment.get("status") or "")
    detail = str(payment.get("status_detail") or "")
    reference = str(payment["id"])
    currency = payment.get("currency_id")
    common: dict[str, Any] = {
        "event_type": event_type,
        "payment_id": payment.get("external_reference") or None,
        "refunded": money(payment.get("transaction_amount_refunded"), currency),
        "occurred_at": parse_time(payment.get("date_last_updated")),
    }
    state = f"payment:{reference}:{status}:{detail}"
    updated = f"@{payment.get('date_last_updated') or ''}"
    # The end of a mediation, if the payment was in one (the core applies it only then).
    ending = disputes.after_mediation(payment)
    refund = None
    if status == "refunded" or detail == "partially_refunded":
        refund = latest_refund(payment)
    if refund is not None and refund.get("id") is not None:
        return WebhookEvent(
            event_id=f"{state}:refund:{refund['id']}{updated}",
            kind=EventKind.REFUND,
            processor_reference=reference,
            outcome=REFUND_STATUS_MAP.get(str(refund.get("status")), Outcome.PENDING),
            amount=money(refund.get("amount"), currency),
            refund_reference=str(refund["id"]),
            dispute=ending,
            **common,
        )
    if status in DISPUTED:
        return WebhookEvent(
            event_id=state + updated,
            kind=EventKind.DISPUTE,
            processor_reference=reference,
            dispute=disputes.from_payment(payment),
            **common,
        )
    result = charge_result(payment, attempt_open=attempt_open)
    return WebhookEvent(
        event_id=state + updated,
        kind=EventKind.PAYMENT,
        processor_reference=result.processor_reference,
        outcome=None if result.outcome is Outcome.UNKNOWN else result.outcome,
        amount=result.amount,
        failure=result.failure,
        final=result.final,
        attempt_reference=result.attempt_reference,
        method_details=result.method_details,
        dispute=ending,
        **common,
    )


def chargeback_event(
    chargeback: Mapping[str, Any], event_type: str, payment: Mapping[str, Any] | None = None
) -> WebhookEvent:
    """The event for a ``chargebacks`` notification, from the chargeback as re-fetched (and,
    when it has no status, its ``payment`` re-fetched too: :func:`disputes.from_chargeback`).
    Its id is the chargeback's id and status, else the payment's status and detail (a
    redelivery is one event, a decision a new one)."""
    payment_id = disputes.chargeback_payment(chargeback)
    if payment_id is None:
        raise ValueError("the chargeback names no payment")
    dispute = disputes.from_chargeback(chargeback, payment)
    state = chargeback.get("status") or ""
    if not state and payment is not None:
        state = f"payment-{payment.get('status') or ''}-{payment.get('status_detail') or ''}"
    return WebhookEvent(
        event_id=f"chargeback:{chargeback['id']}:{state}",
        kind=EventKind.DISPUTE,
        event_type=event_type,
        processor_reference=str(payment_id),
        occurred_at=parse_time(
            chargeback.get("last_modified")
            or chargeback.get("date_last_updated")
            or chargeback.get("date_created")
        ),
        dispute=dispute,
    )
