"""Openpay's statuses and error codes in b2bgateway's terms.

Amounts come from the client as ``Decimal`` (JSON parsed with ``parse_float=Decimal``) and become
:class:`~b2bgateway.Money` here; nothing goes through ``float``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from b2bgateway import (
    ChargeResult,
    Failure,
    InvalidAmount,
    Money,
    Outcome,
    ProcessorContractError,
    ProcessorDeclined,
    ProcessorMisconfigured,
    ProcessorUnavailable,
    RefundResult,
)
from b2bgateway_openpay import methods
from b2bgateway_openpay.client import ApiError, Charge, NoAnswer, NotSent

#: A charge's (transaction's) ``status`` as an outcome: the statuses of the reference's
#: "Transaction Status" object, no other. A refunded or disputed charge was paid: its refunds
#: are reported in ``refunded`` and ``charge.refunded`` events, chargebacks by dispute events.
STATUS_MAP: dict[str, Outcome] = {
    "completed": Outcome.SUCCEEDED,
    "in_progress": Outcome.PENDING,
    "charge_pending": Outcome.PENDING,  # with payment_method.url: 3-D Secure or the card page
    "failed": Outcome.FAILED,
    "cancelled": Outcome.FAILED,  # "not paid and has been cancelled" (also a pending charge)
    "refunded": Outcome.SUCCEEDED,
    "chargeback_pending": Outcome.SUCCEEDED,
    "chargeback_accepted": Outcome.SUCCEEDED,
    "chargeback_adjustment": Outcome.SUCCEEDED,
}
#: The nested ``refund`` transaction's status as an outcome.
REFUND_STATUS_MAP: dict[str, Outcome] = {
    "completed": Outcome.SUCCEEDED,
    "in_progress": Outcome.PENDING,
    "failed": Outcome.FAILED,
    "cancelled": Outcome.FAILED,
}
#: Openpay ``error_code`` -> (our failure code, message for the portal's customer).
ERROR_CODES: dict[int, tuple[str, str]] = {
    3001: ("card_declined", "La tarjeta fue rechazada."),
    3002: ("expired_card", "La tarjeta ha expirado."),
    3003: ("insufficient_funds", "La tarjeta no tiene fondos suficientes."),
    3004: ("stolen_card", "La tarjeta fue rechazada."),  # the customer is not told why
    3005: ("fraud_suspected", "La tarjeta fue rechazada por el sistema antifraude."),
    3006: ("operation_not_allowed", "La operación no está permitida para esta tarjeta."),
    3008: ("card_not_supported", "La tarjeta no se acepta en compras en línea."),
    3009: ("lost_card", "La tarjeta fue rechazada."),
    3010: ("restricted_card", "El banco restringió la tarjeta."),
    3011: ("card_declined", "El banco pidió retener la tarjeta."),
    3012: ("bank_authorization_required", "El banco debe autorizar este pago; llame a su banco."),
    2004: ("invalid_card_number", "El número de tarjeta no es válido."),
    2005: ("expired_card", "La tarjeta ha expirado."),
    2006: ("invalid_cvv", "Falta el código de seguridad de la tarjeta."),
    2009: ("invalid_cvv", "El código de seguridad no es válido."),
    2010: ("authentication_failed", "La autenticación 3-D Secure falló."),
    2011: ("card_not_supported", "Ese tipo de tarjeta no se acepta."),
    1001: ("invalid_request", "Openpay rechazó la solicitud."),
    1003: ("invalid_request", "Openpay no pudo procesar la solicitud."),
    1005: ("invalid_payment_method", "El método de pago no existe o ya se usó."),
    1006: ("duplicate_order", "Ya existe un cargo para este pago."),  # looked up, see hooks
    1008: ("account_disabled", "Una de las cuentas requeridas está desactivada."),
    1012: ("amount_out_of_range", "El monto está fuera de los límites permitidos."),
    4001: ("insufficient_balance", "La cuenta de Openpay no tiene saldo para la devolución."),
}
#: Answers that say our credentials or account are wrong, not the payment.
MISCONFIGURED = frozenset({401, 403})
#: Written into a refund's description; a re-read charge shows which refund is ours.
REFUND_MARK = re.compile(r"\[b2bgateway (\S+)\]")


def failure_from_error(error: ApiError) -> Failure:
    fallback = ("card_declined", "La tarjeta fue rechazada.")
    if error.http_status != 402:
        fallback = ("processor_refused", "Openpay rechazó la operación.")
    code, message = ERROR_CODES.get(error.error_code or 0, fallback)
    processor_code = None if error.error_code is None else str(error.error_code)
    return Failure(code, message, processor_code, error.description or None)


def _refused(error: ApiError) -> None:
    """Raise for answers that are about our account or Openpay itself, not the payment."""
    if error.http_status in MISCONFIGURED or error.error_code in (1002, 1010):
        raise ProcessorMisconfigured(f"Openpay refused the merchant's credentials: {error}")
    if error.http_status == 429:  # refused before doing anything: safe to retry later
        raise ProcessorUnavailable("Openpay is limiting requests")


def charge_error(error: ApiError) -> ChargeResult:
    """An error answer to a charge: a failure, or UNKNOWN when Openpay itself failed (5xx)."""
    _refused(error)
    if error.http_status >= 500:  # it may have charged before failing: reconcile
        return ChargeResult(Outcome.UNKNOWN, processor_status=f"http_{error.http_status}")
    return ChargeResult(Outcome.FAILED, failure=failure_from_error(error), processor_status="error")


def refund_error(error: ApiError) -> RefundResult:
    _refused(error)
    if error.http_status >= 500:
        return RefundResult(Outcome.UNKNOWN)
    return RefundResult(Outcome.FAILED, failure=failure_from_error(error))


@contextmanager
def read_errors() -> Iterator[None]:
    """For calls that change nothing (retrieve, re-fetch): every failure means "ask later"."""
    try:
        yield
    except (NotSent, NoAnswer) as exc:
        raise ProcessorUnavailable(str(exc)) from exc
    except ApiError as exc:
        _refused(exc)
        if exc.http_status >= 500:
            raise ProcessorUnavailable(f"Openpay failed: {exc}") from exc
        raise ProcessorDeclined(f"Openpay refused the request: {exc}") from exc


def money(value: object, currency: object) -> Money:
    """An Openpay amount (a JSON number, parsed as Decimal or int) as Money."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int) or not currency:
        raise ProcessorContractError(f"Openpay answered an amount that is not a number: {value!r}")
    try:
        return Money(value, str(currency).upper())
    except InvalidAmount as exc:
        raise ProcessorContractError(f"Openpay answered an invalid amount: {exc.detail}") from exc


def _charge_failure(charge: Charge) -> Failure:
    status = charge.get("status")
    message = charge.get("error_message") or None
    code = charge.get("error_code")
    if isinstance(code, int) and code in ERROR_CODES:
        ours, text = ERROR_CODES[code]
        return Failure(ours, text, str(code), message)
    if status == "cancelled":
        return Failure("canceled", "El pago se canceló.", status, message)
    return Failure("payment_failed", "El pago no fue aprobado.", status, message)


def charge_result(charge: Charge, beneficiary: str = "") -> ChargeResult:
    """A charge (transaction) object as the processor's current view of the payment.

    ``beneficiary`` is the name SPEI instructions show (the merchant's ``spei_beneficiary``).
    """
    status = str(charge.get("status") or "")
    outcome = STATUS_MAP.get(status, Outcome.UNKNOWN)  # a status we do not know: reconcile
    currency = charge.get("currency") or "MXN"
    amount = money(charge["amount"], currency) if charge.get("amount") is not None else None
    action = None
    if outcome is Outcome.PENDING:
        action = methods.next_action(charge, amount, beneficiary)
    paid = outcome is Outcome.SUCCEEDED
    return ChargeResult(
        outcome,
        processor_reference=str(charge["id"]),
        amount=amount,
        next_action=action,
        failure=_charge_failure(charge) if outcome is Outcome.FAILED else None,
        refunded=refunded_total(charge),
        processor_status=status,
        method_details=methods.method_details(charge) if paid else None,
        expires_at=methods.expires_at(charge) if outcome is Outcome.PENDING else None,
    )


# -- refunds ---------------------------------------------------------------------------------
def refund_description(refund_id: str, reason: str | None) -> str:
    """Openpay has no idempotency key: our refund id travels in the description instead."""
    return f"{(reason or 'Devolución')[:200]} [b2bgateway {refund_id}]"


def refunds_of(charge: Charge) -> list[dict[str, Any]]:
    """The refund transactions a charge shows (``refund``, or a ``refunds`` list if present)."""
    found = [r for r in charge.get("refunds") or [] if isinstance(r, dict)]
    nested = charge.get("refund")
    if isinstance(nested, dict) and all(r.get("id") != nested.get("id") for r in found):
        found.append(nested)
    return found


def refund_id_of(refund: dict[str, Any]) -> str | None:
    """Our refund id, read back from the description we sent."""
    marks = REFUND_MARK.findall(str(refund.get("description") or ""))
    return marks[-1] if marks else None  # ours is written last, after the free-text reason


def find_refund(charge: Charge, refund_id: str) -> dict[str, Any] | None:
    return next((r for r in refunds_of(charge) if refund_id_of(r) == refund_id), None)


def refund_result(refund: dict[str, Any]) -> RefundResult:
    status = str(refund.get("status") or "")
    outcome = REFUND_STATUS_MAP.get(status, Outcome.UNKNOWN)
    failure = None
    if outcome is Outcome.FAILED:
        failure = Failure(
            "refund_failed",
            "Openpay no pudo hacer la devolución.",
            status,
            refund.get("error_message"),
        )
    reference = str(refund["id"]) if refund.get("id") else None
    if outcome is Outcome.SUCCEEDED and reference is None:
        outcome = Outcome.UNKNOWN
    return RefundResult(outcome, processor_reference=reference, failure=failure)


def refunded_total(charge: Charge) -> Money | None:
    """What the charge shows refunded: all of it when ``refunded``, else its refunds' sum.

    Openpay nests one ``refund`` object; after several partial refunds only one may be shown, so
    for a partially refunded charge this is a lower bound.
    """
    currency = charge.get("currency") or "MXN"
    if charge.get("status") == "refunded" and charge.get("amount") is not None:
        return money(charge["amount"], currency)
    done = [r for r in refunds_of(charge) if r.get("status") == "completed"]
    if not done:
        return None
    total = Money.zero(str(currency).upper())
    for refund in done:
        total = total + money(refund.get("amount"), refund.get("currency") or currency)
    return total
