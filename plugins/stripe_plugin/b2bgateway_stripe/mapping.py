"""Stripe's statuses, objects and exceptions in b2bgateway's terms.

Amounts arrive as integer minor units with a lower-case currency and become
:class:`~b2bgateway.Money` through ``Money.from_minor_units``; nothing goes through ``float``.
Objects arrive as plain dicts (see :mod:`b2bgateway_stripe.client`) and optional fields are read
with ``.get``: which ones an object carries depends on the API version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
import stripe
import urllib3.exceptions

from b2bgateway import (
    ChargeResult,
    Failure,
    InvalidAmount,
    Money,
    NextAction,
    Outcome,
    ProcessorContractError,
    ProcessorDeclined,
    ProcessorMisconfigured,
    ProcessorPaymentNotFound,
    ProcessorUnavailable,
    RefundResult,
)
from b2bgateway_stripe import methods

#: A Stripe object's data, as the client returns it.
Obj = Mapping[str, Any]

#: A PaymentIntent's ``status`` as an outcome. ``requires_payment_method`` after a confirmation
#: is a decline (``last_payment_error`` says why); we never capture manually, so
#: ``requires_capture`` is money on hold, not yet a success.
STATUS_MAP: dict[str, Outcome] = {
    "succeeded": Outcome.SUCCEEDED,
    "processing": Outcome.PENDING,
    "requires_action": Outcome.PENDING,  # 3-D Secure: a next action for the browser
    "requires_confirmation": Outcome.PENDING,
    "requires_capture": Outcome.PENDING,
    "requires_payment_method": Outcome.FAILED,
    "canceled": Outcome.FAILED,
}
#: PaymentIntent statuses that ``cancel`` accepts.
CANCELABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)
#: A Refund's ``status`` as an outcome.
REFUND_STATUS_MAP: dict[str, Outcome] = {
    "succeeded": Outcome.SUCCEEDED,
    "pending": Outcome.PENDING,
    "requires_action": Outcome.PENDING,
    "failed": Outcome.FAILED,
    "canceled": Outcome.FAILED,
}
#: Stripe's ``decline_code`` or error ``code`` -> (our failure code, message for the customer).
#: Lost, stolen and fraudulent cards get the generic message, as Stripe recommends.
_DECLINED = ("card_declined", "La tarjeta fue rechazada.")
DECLINES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("generic_decline", "card_declined", "do_not_honor"), _DECLINED),
    "insufficient_funds": ("insufficient_funds", "La tarjeta no tiene fondos suficientes."),
    "lost_card": ("lost_card", _DECLINED[1]),
    "stolen_card": ("stolen_card", _DECLINED[1]),
    "fraudulent": ("fraud_suspected", _DECLINED[1]),
    "expired_card": ("expired_card", "La tarjeta ha expirado."),
    **dict.fromkeys(
        ("incorrect_cvc", "invalid_cvc"), ("invalid_cvv", "El código de seguridad no es válido.")
    ),
    **dict.fromkeys(
        ("incorrect_number", "invalid_number"),
        ("invalid_card_number", "El número de tarjeta no es válido."),
    ),
    "card_velocity_exceeded": ("limit_exceeded", "La tarjeta excedió su límite."),
    "card_not_supported": ("card_not_supported", "Ese tipo de tarjeta no se acepta."),
    "currency_not_supported": ("currency_not_supported", "La tarjeta no acepta esa moneda."),
    "processing_error": ("processing_error", "No se pudo procesar la tarjeta; intente de nuevo."),
    "authentication_required": ("authentication_required", "El banco pidió autenticar el pago."),
    "payment_intent_authentication_failure": (
        "authentication_failed",
        "La autenticación 3-D Secure falló.",
    ),
    # Requests Stripe refused (400): about the payment method, the amount or the refund.
    "resource_missing": ("invalid_payment_method", "El método de pago no es válido."),
    "payment_method_unexpected_state": ("invalid_payment_method", "El método de pago ya se usó."),
    "amount_too_small": ("amount_out_of_range", "El monto es menor al mínimo permitido."),
    "amount_too_large": ("amount_out_of_range", "El monto excede el máximo permitido."),
    "charge_already_refunded": ("already_refunded", "El pago ya fue reembolsado por completo."),
    "charge_disputed": ("charge_disputed", "El pago tiene una disputa abierta."),
}
_REFUSED = ("processor_refused", "Stripe rechazó la operación.")


def money(amount: object, currency: object) -> Money:
    """Stripe's integer minor units and lower-case currency as Money."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not isinstance(currency, str):
        raise ProcessorContractError(
            f"Stripe answered an amount that is not minor units: {amount!r}"
        )
    try:
        return Money.from_minor_units(amount, currency.upper())
    except InvalidAmount as exc:
        raise ProcessorContractError(f"Stripe answered an invalid amount: {exc.detail}") from exc


def _text(obj: Mapping[str, Any] | None, key: str) -> str | None:
    value = None if obj is None else obj.get(key)
    return value if isinstance(value, str) and value else None


def object_id(value: object) -> str | None:
    """An id, whether the field holds the id or the expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def meta(obj: Obj, key: str) -> str | None:
    """``obj.metadata[key]``, or None."""
    metadata = obj.get("metadata")
    return _text(metadata, key) if isinstance(metadata, Mapping) else None


def failure_from(error: Obj | None, fallback: tuple[str, str] = _REFUSED) -> Failure:
    """A Stripe error object (an exception's ``error``, or ``last_payment_error``) as a Failure."""
    decline, code = _text(error, "decline_code"), _text(error, "code")
    ours, message = DECLINES.get(decline or "") or DECLINES.get(code or "") or fallback
    return Failure(ours, message, decline or code, _text(error, "message"))


def _refunded(intent: Obj) -> Money | None:
    charge = intent.get("latest_charge")
    if isinstance(charge, Mapping) and charge.get("amount_refunded") is not None:
        return money(charge["amount_refunded"], charge.get("currency"))
    return None


def next_action(intent: Obj, publishable_key: str) -> NextAction | None:
    """What the browser must do: follow Stripe's redirect when it gave one, else let Stripe.js
    finish with the client secret (``handleNextAction``)."""
    secret = _text(intent, "client_secret")
    data = {"payment_intent": str(intent.get("id")), "publishable_key": publishable_key}
    action = intent.get("next_action") or {}
    url = _text(action.get("redirect_to_url"), "url")
    if url:
        return NextAction("redirect", url=url, client_secret=secret, data=data)
    return NextAction("client_secret", client_secret=secret, data=data) if secret else None


def intent_result(intent: Obj, publishable_key: str, reference: str | None = None) -> ChargeResult:
    """A PaymentIntent as the processor's view of the payment (``reference``: ours for it).

    A voucher or a transfer waited on is its next action; a paid one reports how it was paid
    (when its charge was expanded); its own id and its charge's are the payment's references.
    """
    status = str(intent.get("status") or "")
    outcome = STATUS_MAP.get(status, Outcome.UNKNOWN)  # a status we do not know: reconcile
    amount = money(intent.get("amount"), intent.get("currency"))
    failure = action = None
    if status == "canceled":
        failure = Failure("canceled", "El pago se canceló.", status, None)
    elif outcome is Outcome.FAILED:
        failure = failure_from(
            intent.get("last_payment_error"), ("payment_failed", "El pago no fue aprobado.")
        )
    elif status in ("requires_action", "requires_confirmation"):
        action = methods.pending_action(intent, amount) or next_action(intent, publishable_key)
    charge = methods.charge_of(intent)
    voucher = None if action is None else action.cash_voucher
    return ChargeResult(
        outcome,
        processor_reference=reference or object_id(intent),
        amount=amount,
        next_action=action,
        failure=failure,
        refunded=_refunded(intent),
        processor_status=status,
        method_details=None if charge is None else methods.method_details(charge),
        received=methods.received(intent, amount),
        expires_at=None if voucher is None else voucher.expires_at,
        references=methods.references(intent),
    )


def session_result(session: Obj, publishable_key: str) -> ChargeResult:
    """A Checkout Session as the processor's view of the payment; its id stays the reference,
    its PaymentIntent is the attempt (and, with its charge, a reference of the payment too)."""
    status = str(session.get("status") or "")
    paid = str(session.get("payment_status") or "")
    amount = money(session.get("amount_total"), session.get("currency"))
    raw = f"{status}/{paid}"
    reference = object_id(session)
    intent = session.get("payment_intent")
    attempt = object_id(intent)
    if status == "open":
        url = _text(session, "url")
        action = NextAction("redirect", url=url) if url else None
        return ChargeResult(Outcome.PENDING, reference, amount, action, processor_status=raw)
    if status == "expired":
        failure = Failure("canceled", "La página de pago expiró sin completarse.", status, None)
        return ChargeResult(
            Outcome.FAILED, reference, amount, failure=failure, processor_status=raw
        )
    if status == "complete" and isinstance(intent, Mapping):
        result = intent_result(intent, publishable_key, reference=reference)
        # Nothing is left for the customer to do on a completed page.
        return dataclasses.replace(
            result,
            next_action=None,
            outcome=Outcome.PENDING if result.next_action else result.outcome,
            attempt_reference=attempt,
            amount=amount,
            processor_status=f"{raw}/{result.processor_status}",
        )
    if status == "complete" and paid in ("paid", "no_payment_required"):
        return ChargeResult(
            Outcome.SUCCEEDED, reference, amount, processor_status=raw, attempt_reference=attempt
        )
    outcome = Outcome.PENDING if status == "complete" else Outcome.UNKNOWN
    return ChargeResult(outcome, reference, amount, processor_status=raw, attempt_reference=attempt)


def refund_result(refund: Obj) -> RefundResult:
    """A Refund (from the API or an event) as the processor's answer."""
    status = str(refund.get("status") or "")
    outcome = REFUND_STATUS_MAP.get(status, Outcome.UNKNOWN)
    failure = None
    if outcome is Outcome.FAILED:
        reason = _text(refund, "failure_reason") or status
        failure = Failure("refund_failed", "Stripe no pudo hacer el reembolso.", reason, None)
    reference = _text(refund, "id")
    if outcome is Outcome.SUCCEEDED and reference is None:
        outcome = Outcome.UNKNOWN
    return RefundResult(outcome, processor_reference=reference, failure=failure)


# -- exceptions --------------------------------------------------------------------------------
def nothing_sent(exc: stripe.APIConnectionError, sdk_retries: int) -> bool:
    """True only when the connection itself failed (refused, DNS, connect timeout).

    A read timeout or a dropped connection may come after Stripe acted. With SDK retries, an
    earlier attempt may have been sent even if the last one could not connect.
    """
    cause = exc.__cause__
    if sdk_retries or not isinstance(cause, requests.ConnectionError):
        return False
    if isinstance(cause, requests.ConnectTimeout):
        return True
    reason = getattr(cause.args[0], "reason", None) if cause.args else None
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # NewConnectionError too


def _describe(exc: stripe.StripeError) -> str:
    """Status, code and request id: enough for support, and never a key (401 messages echo it)."""
    parts = [f"HTTP {exc.http_status}" if exc.http_status else type(exc).__name__]
    parts += [p for p in (exc.code, exc.request_id) if p]
    return ", ".join(parts)


def _error(exc: stripe.StripeError) -> Obj | None:
    """The ``error`` object of Stripe's answer, as it was sent."""
    body = exc.json_body
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _raise_for_account(exc: stripe.StripeError, merchant_id: str) -> None:
    if isinstance(exc, stripe.AuthenticationError):
        raise ProcessorMisconfigured(
            f"Stripe refused the secret_key of merchant {merchant_id} ({_describe(exc)})"
        ) from exc
    if isinstance(exc, stripe.PermissionError):
        raise ProcessorMisconfigured(
            f"the Stripe key of merchant {merchant_id} may not do this; a restricted key "
            f"needs write access to PaymentIntents, Checkout Sessions and Refunds "
            f"({_describe(exc)})"
        ) from exc


def _unavailable(exc: stripe.StripeError) -> ProcessorUnavailable:
    return ProcessorUnavailable(f"Stripe could not be reached; nothing was sent ({_describe(exc)})")


def charge_error(exc: stripe.StripeError, merchant_id: str, sdk_retries: int) -> ChargeResult:
    """A charge Stripe refused (a result), or UNKNOWN when it may have acted (reconcile).

    :raises ProcessorMisconfigured: the merchant's key was refused.
    :raises ProcessorUnavailable: Stripe could not be reached and nothing was sent.
    """
    _raise_for_account(exc, merchant_id)
    if isinstance(exc, stripe.APIConnectionError) and nothing_sent(exc, sdk_retries):
        raise _unavailable(exc) from exc
    if isinstance(exc, stripe.CardError | stripe.InvalidRequestError):
        error = _error(exc)
        failure = failure_from(error, _DECLINED if isinstance(exc, stripe.CardError) else _REFUSED)
        intent = None if error is None else error.get("payment_intent")
        reference = _text(intent, "id") if isinstance(intent, Mapping) else None
        return ChargeResult(Outcome.FAILED, reference, failure=failure, processor_status="error")
    # 5xx, 409 (the same key in flight), idempotency errors, 429 after our retries, timeouts.
    return ChargeResult(Outcome.UNKNOWN, processor_status=_describe(exc))


def refund_error(exc: stripe.StripeError, merchant_id: str, sdk_retries: int) -> RefundResult:
    """As :func:`charge_error`, for a refund."""
    _raise_for_account(exc, merchant_id)
    if isinstance(exc, stripe.APIConnectionError) and nothing_sent(exc, sdk_retries):
        raise _unavailable(exc) from exc
    if isinstance(exc, stripe.CardError | stripe.InvalidRequestError):
        return RefundResult(Outcome.FAILED, failure=failure_from(_error(exc)))
    return RefundResult(Outcome.UNKNOWN)


@contextmanager
def read_errors(merchant_id: str, what: str) -> Iterator[None]:
    """For calls that change nothing, or may safely be asked again (retrieve, cancel, expire).

    :raises ProcessorPaymentNotFound: Stripe has no ``what`` (404).
    :raises ProcessorUnavailable: Stripe could not answer; ask again later.
    """
    try:
        yield
    except stripe.StripeError as exc:
        _raise_for_account(exc, merchant_id)
        if isinstance(exc, stripe.InvalidRequestError) and (
            exc.http_status == 404 or exc.code == "resource_missing"
        ):
            raise ProcessorPaymentNotFound(f"Stripe has no {what}") from exc
        if isinstance(exc, stripe.InvalidRequestError):
            raise ProcessorDeclined(f"Stripe refused the request ({_describe(exc)})") from exc
        raise ProcessorUnavailable(f"Stripe could not answer ({_describe(exc)})") from exc
