"""JSON-ready representations of the gateway's objects (the shapes of /openapi.json), shared by
the HTTP layer and outbound events. Money is a string with the currency's decimals, never a
number; dates are ``YYYY-MM-DD``; timestamps RFC 3339 in UTC."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from typing import Any

from b2bgateway.interface import MethodDetails, NextAction, PaymentMethodType
from b2bgateway.money import Money
from b2bgateway.payability import Statement, StatementLine
from b2bgateway.rules import Decision
from b2bgateway.statement import Balances
from b2bgateway.store.models import Customer, Invoice, Payment, PaymentAttempt, Refund

__all__ = [
    "attempt_json",
    "customer_json",
    "forma_pago",
    "invoice_json",
    "method_details_json",
    "next_action_json",
    "payment_json",
    "refund_json",
    "statement_json",
    "timestamp",
]


def timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: ``2026-11-26T23:29:44.123456Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def customer_json(customer: Customer) -> dict[str, Any]:
    limit = customer.credit_limit
    return {
        "customer_id": customer.customer_id,
        "name": customer.name,
        "email": customer.email,
        "active": customer.active,
        "credit_limit": None if limit is None else str(limit.amount),
        "currency": customer.currency,
        "created_at": timestamp(customer.created_at),
        "updated_at": timestamp(customer.updated_at),
    }


def invoice_json(invoice: Invoice, decision: Decision | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "invoice_id": invoice.invoice_id,
        "customer_id": invoice.customer_id,
        "folio": invoice.folio,
        "document_type": invoice.document_type,
        "source": invoice.source,
        "issued_on": invoice.issued_on.isoformat(),
        "due_on": invoice.due_on.isoformat(),
        "total": str(invoice.total.amount),
        "balance": str(invoice.balance.amount),
        "currency": invoice.currency,
        "created_at": timestamp(invoice.created_at),
        "updated_at": timestamp(invoice.updated_at),
    }
    if decision is not None:
        body["payable"] = decision.payable
        body["reasons"] = list(decision.reasons)
    return body


def _failure(code: str | None, message: str | None) -> dict[str, str] | None:
    return None if code is None else {"code": code, "message": message or ""}


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": str(refund.amount.amount),
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "processor_reference": refund.processor_reference,
        "failure": _failure(refund.failure_code, refund.failure_message),
        "created_at": timestamp(refund.created_at),
        "updated_at": timestamp(refund.updated_at),
    }


def payment_json(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "status": payment.status,
        "purpose": payment.purpose,
        "customer_id": payment.customer_id,
        "amount": str(payment.amount.amount),
        "currency": payment.currency,
        "processor": payment.processor,
        "processor_reference": payment.processor_reference,
        "allocations": [
            {"invoice_id": a.invoice_id, "amount": str(a.amount.amount)}
            for a in sorted(payment.allocations, key=lambda a: a.invoice_id)
        ],
        "order_reference": payment.order_reference,
        "next_action": payment.next_action,
        "failure": _failure(payment.failure_code, payment.failure_message),
        "refunded_amount": str(payment.refunded.amount),
        "created_at": timestamp(payment.created_at),
        "updated_at": timestamp(payment.updated_at),
        # v1.1
        "payment_method": _method(payment),
        "expires_at": _maybe_timestamp(payment.expires_at),
        "received_amount": (
            None
            if payment.received_minor is None
            else Money.minor_units_text(payment.received_minor, payment.currency)
        ),
        "flags": list(payment.flags or []),
        "dispute": _dispute(payment),
        "method_details": payment.method_details,
    }


def _maybe_timestamp(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value)


def _method(payment: Payment) -> dict[str, Any]:
    body: dict[str, Any] = {"type": payment.payment_method}
    if payment.installments:
        body["installments"] = payment.installments
    return body


def _dispute(payment: Payment) -> dict[str, Any] | None:
    if payment.dispute_status is None:
        return None
    return {
        "status": payment.dispute_status,
        "amount": (
            None
            if payment.dispute_amount_minor is None
            else Money.minor_units_text(payment.dispute_amount_minor, payment.currency)
        ),
        "reason": payment.dispute_reason,
        "opened_at": _maybe_timestamp(payment.dispute_opened_at),
        "closed_at": _maybe_timestamp(payment.dispute_closed_at),
    }


def attempt_json(attempt: PaymentAttempt) -> dict[str, Any]:
    """One try at the processor (``GET /v1/payments/{id}/attempts`` lists them)."""
    return {
        "reference": attempt.reference,
        "outcome": attempt.outcome,
        "final": attempt.final,
        "failure": _failure(attempt.failure_code, attempt.failure_message),
        "method_details": attempt.method_details,
        "created_at": timestamp(attempt.created_at),
        "updated_at": timestamp(attempt.updated_at),
    }


def _balances(b: Balances) -> dict[str, Any]:
    return {
        "currency": b.currency,
        "total_balance": str(b.total.amount),
        "overdue_balance": str(b.overdue.amount),
        "upcoming_balance": str(b.upcoming.amount),
    }


def _line(line: StatementLine, days: dict[date, str], reasons: dict[int, list[str]]) -> Any:
    invoice, decision = line.invoice, line.decision
    # Lines share due dates and decisions (see payability.statement): format each once.
    day = days.get(invoice.due_on)
    if day is None:
        day = days[invoice.due_on] = invoice.due_on.isoformat()
    why = reasons.get(id(decision))
    if why is None:
        why = reasons[id(decision)] = list(decision.reasons)
    return {
        "invoice_id": invoice.invoice_id,
        "folio": invoice.folio,
        "due_on": day,
        "balance": Money.minor_units_text(invoice.balance_minor, invoice.currency),
        "currency": invoice.currency,
        "state": "overdue" if line.overdue else "upcoming",
        "payable": not why,
        "reasons": why,
    }


def statement_json(statement: Statement) -> dict[str, Any]:
    days: dict[date, str] = {}
    reasons: dict[int, list[str]] = {}
    body: dict[str, Any] = {
        "customer_id": statement.customer_id,
        "currency": statement.currency,
        "as_of": statement.as_of.isoformat(),
        "total_balance": str(statement.balances.total.amount),
        "overdue_balance": str(statement.balances.overdue.amount),
        "upcoming_balance": str(statement.balances.upcoming.amount),
        "pending_balance": (
            Money.minor_units_text(0, statement.currency)
            if statement.pending is None
            else str(statement.pending.amount)
        ),
        "invoices": [_line(line, days, reasons) for line in statement.lines],
    }
    if statement.other_currencies:
        body["other_currencies"] = [_balances(b) for b in statement.other_currencies]
    return body


#: SAT's c_FormaPago for the CFDI payment receipt, by method and card funding.
FORMA_PAGO = {"credit": "04", "debit": "28", "prepaid": "28"}


def forma_pago(details: Mapping[str, Any]) -> str:
    """The SAT payment form code: 04 credit card, 28 debit card, 03 transfer, 01 cash,
    02 cheque, 99 to be defined (a card whose funding the processor did not say)."""
    method = details.get("type")
    if method == PaymentMethodType.CARD.value:
        return FORMA_PAGO.get(str(details.get("funding")), "99")
    return {"bank_transfer": "03", "cash": "01", "transfer": "03", "check": "02"}.get(
        str(method), "99"
    )


_DETAILS = tuple(f.name for f in fields(MethodDetails))


def method_details_json(details: MethodDetails, paid_at: Any = None) -> dict[str, Any]:
    body = {name: getattr(details, name) for name in _DETAILS}  # flat: no asdict's deep copy
    when = paid_at or details.paid_at
    body["paid_at"] = None if when is None else timestamp(when)
    body["forma_pago"] = forma_pago(body)
    return body


def next_action_json(action: NextAction) -> dict[str, Any]:
    """A next action as the payment JSON carries it (API: ``next_action``): money as strings,
    timestamps RFC 3339, instructions flattened into the action."""
    body: dict[str, Any] = {"type": action.type}
    if action.url:
        body["url"] = action.url
    if action.client_secret:
        body["client_secret"] = action.client_secret
    if action.data:
        body["data"] = dict(action.data)
    instructions = action.bank_transfer or action.cash_voucher
    if instructions is not None:
        for key, value in asdict(instructions).items():
            if key == "amount":
                body[key] = str(instructions.amount.amount)
                body["currency"] = instructions.amount.currency
            elif key == "expires_at":
                body[key] = None if value is None else timestamp(value)
            elif value is not None:
                body[key] = value
    return body
