"""Payability: when the portal shows a pay button. Pure functions over plain data.

The conditions are the merchant's ("Pagos en línea" help pages). Every "no" carries reason codes
(docs/reference/reasons.md), all of them at once, so the portal can say why the button is
missing. These functions are the built-in rules; plugins may add reasons through the payability
hooks, never remove these.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from b2bgateway.money import Money

__all__ = [
    "INVOICE_DOCUMENT_TYPE",
    "PAYABLE_SOURCES",
    "CustomerFacts",
    "Decision",
    "InvoiceContext",
    "InvoiceFacts",
    "InvoicesDecision",
    "MerchantPolicy",
    "OrderContext",
    "Reason",
    "combine",
    "invoice_reasons",
    "invoices_decision",
    "order_reasons",
]

INVOICE_DOCUMENT_TYPE = "factura"
PAYABLE_SOURCES = frozenset({"ventas", "punto_de_venta"})


class Reason(enum.StrEnum):
    """Why an order or an invoice may not be paid online (docs/reference/reasons.md). Plugins
    may add their own codes."""

    PROCESSOR_NOT_CONFIGURED = "processor_not_configured"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported"
    CUSTOMER_INACTIVE = "customer_inactive"
    # orders
    ORDERS_MODULE_HIDDEN = "orders_module_hidden"
    ORDER_PAYMENTS_DISABLED = "order_payments_disabled"
    CREDIT_LIMIT_NOT_ASSIGNED = "credit_limit_not_assigned"
    WITHIN_CREDIT_LIMIT = "within_credit_limit"
    CURRENCY_MISMATCH = "currency_mismatch"
    # invoices
    INVOICES_MODULE_HIDDEN = "invoices_module_hidden"
    INVOICE_PAYMENTS_DISABLED = "invoice_payments_disabled"
    NOT_AN_INVOICE = "not_an_invoice"
    UNSUPPORTED_SOURCE = "unsupported_source"
    NO_BALANCE = "no_balance"
    PAYMENT_REGISTERED = "payment_registered"
    PAYMENT_PENDING = "payment_pending"  # held by a payment that waits for the customer's funds
    MIXED_CURRENCIES = "mixed_currencies"


@dataclass(frozen=True, slots=True)
class MerchantPolicy:
    """The merchant's switches, and what its processor can charge (None: no processor)."""

    processor_currencies: frozenset[str] | None
    customers_see_orders: bool = True
    order_payments: bool = False
    customers_see_invoices: bool = True
    invoice_payments: bool = False


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    customer_id: str
    active: bool
    currency: str
    credit_limit: Money | None  # None: not assigned; zero: no credit, every order is payable


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    invoice_id: str
    document_type: str
    source: str
    due_on: date
    balance: Money
    registered: bool = False  # a payment in the gateway holds it
    pending: bool = False  # ...and that payment waits for the customer's funds (SPEI, OXXO)


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What the order rules (and plugins' extra rules) look at."""

    merchant_id: str
    policy: MerchantPolicy
    customer: CustomerFacts
    amount: Money
    today: date


@dataclass(frozen=True, slots=True)
class InvoiceContext:
    merchant_id: str
    policy: MerchantPolicy
    customer: CustomerFacts
    invoice: InvoiceFacts
    today: date  # the merchant's local date


@dataclass(frozen=True, slots=True)
class Decision:
    reasons: tuple[str, ...] = ()

    @property
    def payable(self) -> bool:
        return not self.reasons


def combine(*groups: Iterable[str]) -> tuple[str, ...]:
    """Reason codes in first-seen order, without repeats."""
    return tuple(dict.fromkeys(reason for group in groups for reason in group))


def _currency_reasons(policy: MerchantPolicy, currency: str) -> list[str]:
    if policy.processor_currencies is None:
        return [Reason.PROCESSOR_NOT_CONFIGURED]
    if currency not in policy.processor_currencies:
        return [Reason.CURRENCY_NOT_SUPPORTED]
    return []


def order_reasons(ctx: OrderContext) -> list[str]:
    """Why an order may not be paid online (empty: it may).

    Payable only when it is **greater than** the credit limit; equal is within the limit. A limit
    of zero means no credit, so every (positive) order is payable.
    """
    policy, customer, amount = ctx.policy, ctx.customer, ctx.amount
    reasons = _currency_reasons(policy, amount.currency)
    if not policy.customers_see_orders:
        reasons.append(Reason.ORDERS_MODULE_HIDDEN)
    if not policy.order_payments:
        reasons.append(Reason.ORDER_PAYMENTS_DISABLED)
    if not customer.active:
        reasons.append(Reason.CUSTOMER_INACTIVE)
    if amount.currency != customer.currency:
        reasons.append(Reason.CURRENCY_MISMATCH)
    limit = customer.credit_limit
    if limit is None:
        reasons.append(Reason.CREDIT_LIMIT_NOT_ASSIGNED)
    elif amount.currency == limit.currency and amount.amount <= limit.amount:
        # Equal is not greater: an order exactly at the limit still fits the credit.
        reasons.append(Reason.WITHIN_CREDIT_LIMIT)
    return reasons


def invoice_reasons(ctx: InvoiceContext) -> list[str]:
    """Why one invoice may not be paid online (empty: it may)."""
    policy, customer, invoice = ctx.policy, ctx.customer, ctx.invoice
    reasons = _currency_reasons(policy, invoice.balance.currency)
    if not policy.customers_see_invoices:
        reasons.append(Reason.INVOICES_MODULE_HIDDEN)
    if not policy.invoice_payments:
        reasons.append(Reason.INVOICE_PAYMENTS_DISABLED)
    if not customer.active:
        reasons.append(Reason.CUSTOMER_INACTIVE)
    if invoice.document_type != INVOICE_DOCUMENT_TYPE:
        reasons.append(Reason.NOT_AN_INVOICE)
    if invoice.source not in PAYABLE_SOURCES:
        reasons.append(Reason.UNSUPPORTED_SOURCE)
    if invoice.balance.amount <= 0:
        reasons.append(Reason.NO_BALANCE)
    if invoice.registered:
        reasons.append(Reason.PAYMENT_PENDING if invoice.pending else Reason.PAYMENT_REGISTERED)
    return reasons


def invoice_reasons_key(
    document_type: str,
    source: str,
    currency: str,
    has_balance: bool,
    registered: bool,
    pending: bool = False,
) -> tuple[object, ...]:
    """All that :func:`invoice_reasons` looks at of one invoice (the merchant's policy and the
    customer being the same): invoices with equal keys get equal reasons, so a statement decides
    each distinct key once. ``has_balance``: the balance is greater than zero. Keep it in step
    with :func:`invoice_reasons` (a property test checks)."""
    return (currency, has_balance, document_type, source, registered, registered and pending)


@dataclass(frozen=True, slots=True)
class InvoicesDecision:
    """Several invoices in one payment: each one's decision, the total, and the overall answer."""

    reasons: tuple[str, ...]
    invoices: tuple[tuple[InvoiceFacts, Decision], ...]
    amount: Money | None  # the sum of the balances; None when the currencies differ

    @property
    def payable(self) -> bool:
        return not self.reasons


def invoices_decision(
    decided: Sequence[tuple[InvoiceFacts, Decision]],
) -> InvoicesDecision:
    """Combine per-invoice decisions: payable only if each is, all in one currency.

    The amount is the sum of the balances, computed here, never taken from the client.
    """
    if not decided:
        raise ValueError("at least one invoice is needed")
    currencies = {invoice.balance.currency for invoice, _ in decided}
    reasons = combine(*(decision.reasons for _, decision in decided))
    amount: Money | None = None
    if len(currencies) > 1:
        reasons = combine(reasons, [Reason.MIXED_CURRENCIES])
    else:
        amount = Money.zero(currencies.pop())
        for invoice, _ in decided:
            amount = amount + invoice.balance
    return InvoicesDecision(reasons=reasons, invoices=tuple(decided), amount=amount)
