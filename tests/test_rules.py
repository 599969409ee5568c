"""The merchant's payability conditions, one by one, with every boundary."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b2bgateway.money import Money
from b2bgateway.rules import (
    CustomerFacts,
    Decision,
    InvoiceContext,
    InvoiceFacts,
    MerchantPolicy,
    OrderContext,
    combine,
    invoice_reasons,
    invoice_reasons_key,
    invoices_decision,
    order_reasons,
)

TODAY = date(2026, 11, 26)
OPEN = MerchantPolicy(
    processor_currencies=frozenset({"MXN", "USD"}),
    customers_see_orders=True,
    order_payments=True,
    customers_see_invoices=True,
    invoice_payments=True,
)


def mxn(value):
    return Money(value, "MXN")


def customer(active=True, limit="1000.00", currency="MXN"):
    return CustomerFacts("C-1", active, currency, None if limit is None else Money(limit, currency))


def order(amount="1000.01", currency="MXN", policy=OPEN, **customer_kw):
    return OrderContext("acme", policy, customer(**customer_kw), Money(amount, currency), TODAY)


def invoice(
    balance="100.00",
    currency="MXN",
    document_type="factura",
    source="ventas",
    registered=False,
    due_on=TODAY,
):
    return InvoiceFacts("F-1", document_type, source, due_on, Money(balance, currency), registered)


def inv_ctx(policy=OPEN, active=True, **invoice_kw):
    return InvoiceContext("acme", policy, customer(active=active), invoice(**invoice_kw), TODAY)


def without(policy, **changes):
    values = {
        "processor_currencies": policy.processor_currencies,
        "customers_see_orders": policy.customers_see_orders,
        "order_payments": policy.order_payments,
        "customers_see_invoices": policy.customers_see_invoices,
        "invoice_payments": policy.invoice_payments,
    }
    values.update(changes)
    return MerchantPolicy(**values)


# -- orders ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "limit", "reasons"),
    [
        ("1000.01", "1000.00", []),  # just above: payable
        ("1000.00", "1000.00", ["within_credit_limit"]),  # equal is not greater
        ("999.99", "1000.00", ["within_credit_limit"]),  # just below
        ("0.01", "0.00", []),  # limit 0 = no credit: every order is payable
        ("15000.00", "0.00", []),
        ("0.01", None, ["credit_limit_not_assigned"]),  # null = not assigned
        ("99999.00", None, ["credit_limit_not_assigned"]),
    ],
)
def test_order_against_the_credit_limit(amount, limit, reasons):
    assert order_reasons(order(amount, limit=limit)) == reasons


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (without(OPEN, processor_currencies=None), "processor_not_configured"),
        (without(OPEN, customers_see_orders=False), "orders_module_hidden"),
        (without(OPEN, order_payments=False), "order_payments_disabled"),
        (without(OPEN, processor_currencies=frozenset({"USD"})), "currency_not_supported"),
    ],
)
def test_order_merchant_conditions(policy, reason):
    assert order_reasons(order(policy=policy)) == [reason]


def test_order_inactive_customer():
    assert order_reasons(order(active=False)) == ["customer_inactive"]


def test_order_in_another_currency_than_the_credit_limit():
    assert order_reasons(order("5000.00", currency="USD")) == ["currency_mismatch"]


def test_order_every_reason_at_once():
    policy = MerchantPolicy(
        processor_currencies=None, customers_see_orders=False, order_payments=False
    )
    assert order_reasons(order("10.00", policy=policy, active=False, limit=None)) == [
        "processor_not_configured",
        "orders_module_hidden",
        "order_payments_disabled",
        "customer_inactive",
        "credit_limit_not_assigned",
    ]


# -- invoices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({}, []),
        ({"document_type": "nota_credito"}, ["not_an_invoice"]),
        ({"document_type": "cargo"}, ["not_an_invoice"]),
        ({"document_type": "Factura"}, ["not_an_invoice"]),  # exact: the ERP's code
        ({"source": "punto_de_venta"}, []),
        ({"source": "cuentas_por_cobrar"}, ["unsupported_source"]),
        ({"source": "otro"}, ["unsupported_source"]),
        ({"balance": "0.01"}, []),
        ({"balance": "0.00"}, ["no_balance"]),
        ({"balance": "-25.00"}, ["no_balance"]),
        ({"registered": True}, ["payment_registered"]),
        ({"active": False}, ["customer_inactive"]),
        ({"currency": "EUR"}, ["currency_not_supported"]),
        (
            {"document_type": "cargo", "source": "cuentas_por_cobrar", "balance": "0.00"},
            ["not_an_invoice", "unsupported_source", "no_balance"],
        ),
    ],
)
def test_invoice_conditions(changes, reasons):
    assert invoice_reasons(inv_ctx(**changes)) == reasons


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (without(OPEN, processor_currencies=None), "processor_not_configured"),
        (without(OPEN, customers_see_invoices=False), "invoices_module_hidden"),
        (without(OPEN, invoice_payments=False), "invoice_payments_disabled"),
    ],
)
def test_invoice_merchant_conditions(policy, reason):
    assert invoice_reasons(inv_ctx(policy=policy)) == [reason]


def test_due_date_does_not_decide_payability():
    for days in (-400, -1, 0, 1, 90):
        assert invoice_reasons(inv_ctx(due_on=TODAY + timedelta(days=days))) == []


# -- several invoices --------------------------------------------------------------------------


def decided(*facts):
    return [
        (f, Decision(tuple(invoice_reasons(InvoiceContext("acme", OPEN, customer(), f, TODAY)))))
        for f in facts
    ]


def test_several_invoices_sum_their_balances():
    result = invoices_decision(decided(invoice("100.10"), invoice("2399.90")))
    assert result.payable
    assert result.amount == mxn("2500.00")


def test_one_unpayable_invoice_makes_the_set_unpayable_and_says_which():
    result = invoices_decision(decided(invoice("100.00"), invoice("50.00", registered=True)))
    assert not result.payable
    assert result.reasons == ("payment_registered",)
    assert [d.payable for _, d in result.invoices] == [True, False]


def test_mixed_currencies():
    result = invoices_decision(decided(invoice("100.00"), invoice("50.00", currency="USD")))
    assert result.reasons == ("mixed_currencies",)
    assert result.amount is None


def test_no_invoices_is_a_programming_error():
    with pytest.raises(ValueError, match="at least one"):
        invoices_decision([])


def test_combine_keeps_order_and_drops_repeats():
    assert combine(["a", "b"], ["b", "c", "a"]) == ("a", "b", "c")


# -- properties --------------------------------------------------------------------------------

cents = st.integers(min_value=-(10**9), max_value=10**9)
policies = st.builds(
    MerchantPolicy,
    processor_currencies=st.sampled_from([None, frozenset({"MXN"}), frozenset({"USD"})]),
    customers_see_orders=st.booleans(),
    order_payments=st.booleans(),
    customers_see_invoices=st.booleans(),
    invoice_payments=st.booleans(),
)
invoice_facts = st.builds(
    InvoiceFacts,
    invoice_id=st.text(min_size=1, max_size=5),
    document_type=st.sampled_from(["factura", "nota_credito", "cargo"]),
    source=st.sampled_from(["ventas", "punto_de_venta", "cuentas_por_cobrar"]),
    due_on=st.dates(),
    balance=cents.map(lambda c: Money.from_minor_units(c, "MXN")),
    registered=st.booleans(),
    pending=st.booleans(),
)


@given(policy=policies, facts=invoice_facts, active=st.booleans())
def test_a_document_without_balance_is_never_payable(policy, facts, active):
    reasons = invoice_reasons(InvoiceContext("m", policy, customer(active=active), facts, TODAY))
    if facts.balance.amount <= 0:
        assert "no_balance" in reasons
        assert not Decision(tuple(reasons)).payable


@given(policy=policies, facts=invoice_facts)
def test_invoice_reasons_are_empty_exactly_when_every_condition_holds(policy, facts):
    reasons = invoice_reasons(InvoiceContext("m", policy, customer(), facts, TODAY))
    every_condition = (
        policy.processor_currencies is not None
        and "MXN" in policy.processor_currencies
        and policy.customers_see_invoices
        and policy.invoice_payments
        and facts.document_type == "factura"
        and facts.source in ("ventas", "punto_de_venta")
        and facts.balance.amount > 0
        and not facts.registered
    )
    assert (reasons == []) == every_condition


@given(
    policy=policies,
    amount=st.integers(1, 10**9),
    limit=st.one_of(st.none(), st.integers(0, 10**9)),
    active=st.booleans(),
)
def test_order_reasons_are_empty_exactly_when_every_condition_holds(policy, amount, limit, active):
    facts = CustomerFacts(
        "C", active, "MXN", None if limit is None else Money.from_minor_units(limit, "MXN")
    )
    ctx = OrderContext("m", policy, facts, Money.from_minor_units(amount, "MXN"), TODAY)
    every_condition = (
        policy.processor_currencies is not None
        and "MXN" in policy.processor_currencies
        and policy.customers_see_orders
        and policy.order_payments
        and active
        and limit is not None
        and amount > limit
    )
    assert (order_reasons(ctx) == []) == every_condition


@given(st.lists(st.tuples(cents.filter(lambda c: c > 0), st.booleans()), min_size=1, max_size=30))
def test_checkout_amount_is_the_sum_of_the_selected_balances(items):
    facts = [invoice(str(Money.from_minor_units(c, "MXN").amount), registered=r) for c, r in items]
    result = invoices_decision(decided(*facts))
    assert result.amount is not None
    assert result.amount.amount == sum((Decimal(c) / 100 for c, _ in items), Decimal(0))
    assert result.payable == (not any(r for _, r in items))


@given(
    policy=policies,
    active=st.booleans(),
    first=invoice_facts,
    other_id=st.text(min_size=1, max_size=5),
    other_due=st.dates(),
    other_cents=cents,
    currency=st.sampled_from(["MXN", "USD"]),
)
def test_invoices_with_equal_keys_get_equal_reasons(
    policy, active, first, other_id, other_due, other_cents, currency
):
    """A statement decides once per invoice_reasons_key: what the key leaves out (the id, the due
    date, the size of the balance) must not change the built-in rules' answer."""
    first = replace(first, balance=Money(first.balance.amount, currency))
    second = replace(
        first,
        invoice_id=other_id,
        due_on=other_due,
        balance=Money.from_minor_units(other_cents, currency),
    )

    def reasons(facts):
        return invoice_reasons(InvoiceContext("m", policy, customer(active=active), facts, TODAY))

    def key_of(facts):
        return invoice_reasons_key(
            facts.document_type,
            facts.source,
            facts.balance.currency,
            facts.balance.amount > 0,
            facts.registered,
            pending=facts.pending,
        )

    if key_of(first) == key_of(second):
        assert reasons(first) == reasons(second)
    else:
        assert (first.balance.amount > 0) != (second.balance.amount > 0)


@given(policy=policies, facts=invoice_facts, active=st.booleans())
def test_a_held_invoice_is_pending_or_registered_never_both(policy, facts, active):
    """An invoice a payment holds says which kind of hold: waiting for the customer's funds
    (``payment_pending``) or paid (``payment_registered``); a free one says neither."""
    reasons = invoice_reasons(InvoiceContext("m", policy, customer(active=active), facts, TODAY))
    held = {"payment_pending", "payment_registered"} & set(reasons)
    if not facts.registered:
        assert not held
    else:
        assert held == {"payment_pending" if facts.pending else "payment_registered"}
