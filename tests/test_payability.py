"""Payability and statements fed by the store, through the plugin hooks."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import text

from b2bgateway.errors import NotFound
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.payability import check_invoices, check_order, statement
from b2bgateway.plugins import Plugins
from b2bgateway.rules import INVOICE_DOCUMENT_TYPE
from b2bgateway.statement import balances, local_today
from b2bgateway.store.models import OPEN_FACTURA
from b2bgateway.store.repository import (
    CustomerData,
    InvoiceData,
    create_payment,
    set_payment_status,
    upsert_customer,
    upsert_invoices,
)

TODAY = date(2026, 11, 26)


def mxn(value):
    return Money(value, "MXN")


def add_customer(store, customer_id="C-1", limit="1000.00", active=True, merchant="acme"):
    with store.write() as session:
        upsert_customer(
            session,
            merchant,
            customer_id,
            CustomerData(
                name="Cliente",
                active=active,
                currency="MXN",
                credit_limit=None if limit is None else mxn(limit),
            ),
        )


def add_invoice(
    store,
    invoice_id,
    balance="100.00",
    due_on=TODAY,
    customer_id="C-1",
    document_type="factura",
    source="ventas",
    currency="MXN",
    merchant="acme",
):
    with store.write() as session:
        upsert_invoices(
            session,
            merchant,
            [
                InvoiceData(
                    invoice_id=invoice_id,
                    customer_id=customer_id,
                    folio=invoice_id,
                    document_type=document_type,
                    source=source,
                    issued_on=due_on - timedelta(days=30),
                    due_on=due_on,
                    total=Money(balance if balance[0] != "-" else "1.00", currency),
                    balance=Money(balance, currency),
                )
            ],
        )


def register_payment(store, invoice_id, status=PaymentStatus.PROCESSING, customer_id="C-1"):
    with store.write() as session:
        payment = create_payment(
            session,
            merchant_id="acme",
            customer_id=customer_id,
            purpose="invoices",
            amount=mxn("100.00"),
            processor="sandbox",
            allocations=[(invoice_id, mxn("100.00"))],
        )
        set_payment_status(session, payment, status)
        return payment.id


def test_open_factura_predicate_matches_the_rules():
    assert f"document_type = '{INVOICE_DOCUMENT_TYPE}'" in OPEN_FACTURA


def test_order_check_reads_the_customer(gateway, store, acme):
    add_customer(store, limit="1000.00")
    with store.read() as session:
        over = check_order(gateway.plugins, session, acme, "C-1", mxn("1000.01"), TODAY)
        at = check_order(gateway.plugins, session, acme, "C-1", mxn("1000.00"), TODAY)
    assert over.decision.payable
    assert over.credit_limit == mxn("1000.00")
    assert at.decision.reasons == ("within_credit_limit",)


def test_unknown_customer_is_404(gateway, store, acme):
    with store.read() as session, pytest.raises(NotFound):
        check_order(gateway.plugins, session, acme, "C-404", mxn("1.00"), TODAY)


def test_another_merchants_customer_is_404(gateway, store, acme):
    add_customer(store, merchant="globex")
    with store.read() as session, pytest.raises(NotFound):
        check_order(gateway.plugins, session, acme, "C-1", mxn("5000.00"), TODAY)


def test_merchant_without_processor(gateway, store):
    add_customer(store, merchant="globex")
    with store.read() as session:
        check = check_order(
            gateway.plugins, session, gateway.merchants["globex"], "C-1", mxn("5000.00"), TODAY
        )
    assert check.decision.reasons == ("processor_not_configured", "order_payments_disabled")


@pytest.mark.parametrize(
    ("status", "registered"),
    [
        (PaymentStatus.REQUIRES_ACTION, True),
        (PaymentStatus.PROCESSING, True),
        (PaymentStatus.SUCCEEDED, True),
        (PaymentStatus.PARTIALLY_REFUNDED, True),
        (PaymentStatus.FAILED, False),
        (PaymentStatus.CANCELED, False),
        (PaymentStatus.REFUNDED, False),
    ],
)
def test_payment_registered_by_status(gateway, store, acme, status, registered):
    add_customer(store)
    add_invoice(store, "F-1")
    register_payment(store, "F-1", status)
    with store.read() as session:
        result = check_invoices(gateway.plugins, session, acme, "C-1", ["F-1"], TODAY)
    assert result.payable is not registered
    assert (result.reasons == ("payment_registered",)) is registered


def test_several_invoices(gateway, store, acme):
    add_customer(store)
    add_invoice(store, "F-1", "100.10", TODAY - timedelta(days=3))
    add_invoice(store, "F-2", "2399.90", TODAY + timedelta(days=3))
    with store.read() as session:
        result = check_invoices(gateway.plugins, session, acme, "C-1", ["F-1", "F-2", "F-1"], TODAY)
    assert result.payable
    assert result.amount == mxn("2500.00")
    assert [inv.invoice_id for inv, _ in result.invoices] == ["F-1", "F-2"]


def test_missing_or_other_customers_invoices_are_named_in_the_404(gateway, store, acme):
    add_customer(store)
    add_customer(store, "C-2")
    add_invoice(store, "F-1")
    add_invoice(store, "F-9", customer_id="C-2")
    with store.read() as session, pytest.raises(NotFound) as info:
        check_invoices(gateway.plugins, session, acme, "C-1", ["F-1", "F-9", "F-404"], TODAY)
    assert info.value.extra["invoice_ids"] == ["F-9", "F-404"]


def test_statement_sums_and_lines(gateway, store, acme):
    add_customer(store)
    add_invoice(store, "F-old", "100.00", TODAY - timedelta(days=1))
    add_invoice(store, "F-today", "200.00", TODAY)
    add_invoice(store, "F-later", "300.50", TODAY + timedelta(days=1))
    add_invoice(store, "F-paid", "0.00", TODAY - timedelta(days=9))
    add_invoice(store, "F-neg", "-50.00", TODAY)
    add_invoice(store, "NC-1", "80.00", TODAY, document_type="nota_credito")
    add_invoice(store, "CG-1", "70.00", TODAY, document_type="cargo", source="cuentas_por_cobrar")
    add_invoice(store, "F-cxc", "40.00", TODAY - timedelta(days=2), source="cuentas_por_cobrar")
    register_payment(store, "F-later")
    with store.read() as session:
        result = statement(gateway.plugins, session, acme, "C-1", TODAY)
    b = result.balances
    assert (b.total, b.overdue, b.upcoming) == (mxn("640.50"), mxn("140.00"), mxn("500.50"))
    assert b.count == 4
    lines = {line.invoice.invoice_id: line for line in result.lines}
    assert list(lines) == ["F-cxc", "F-old", "F-today", "F-later"]  # oldest due first
    assert lines["F-old"].overdue and not lines["F-today"].overdue
    assert lines["F-cxc"].decision.reasons == ("unsupported_source",)
    assert lines["F-later"].decision.reasons == ("payment_registered",)
    assert lines["F-today"].decision.payable


def test_statement_of_a_customer_without_invoices(gateway, store, acme):
    add_customer(store)
    with store.read() as session:
        result = statement(gateway.plugins, session, acme, "C-1", TODAY)
    assert result.balances.total == mxn("0.00")
    assert result.lines == ()


def test_invoices_in_another_currency_are_summed_apart(gateway, store, acme):
    add_customer(store)
    add_invoice(store, "F-1", "100.00")
    add_invoice(store, "F-2", "7.00", currency="USD")
    with store.read() as session:
        result = statement(gateway.plugins, session, acme, "C-1", TODAY)
    assert result.balances.total == mxn("100.00")
    assert [(o.currency, o.total) for o in result.other_currencies] == [
        ("USD", Money("7.00", "USD"))
    ]


@pytest.mark.parametrize(
    ("utc_instant", "local_date"),
    [
        # Mexico City is UTC-6 all year (no DST since 2022).
        (datetime(2026, 11, 27, 5, 59, tzinfo=UTC), date(2026, 11, 26)),
        (datetime(2026, 11, 27, 6, 0, tzinfo=UTC), date(2026, 11, 27)),
        (datetime(2026, 11, 26, 23, 30, tzinfo=UTC), date(2026, 11, 26)),
    ],
)
def test_today_is_the_merchants_local_date(utc_instant, local_date):
    assert local_today(ZoneInfo("America/Mexico_City"), utc_instant) == local_date


def test_due_yesterday_today_tomorrow_around_midnight_utc(gateway, store, acme):
    """At 01:00 UTC on the 27th it is still the 26th in Mexico City: due the 26th is upcoming."""
    add_customer(store)
    add_invoice(store, "F-25", "1.00", date(2026, 11, 25))
    add_invoice(store, "F-26", "10.00", date(2026, 11, 26))
    add_invoice(store, "F-27", "100.00", date(2026, 11, 27))
    today = local_today(acme.zone, datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    with store.read() as session:
        result = statement(gateway.plugins, session, acme, "C-1", today)
    assert result.balances.overdue == mxn("1.00")
    assert result.balances.upcoming == mxn("110.00")


def test_the_statement_sums_use_the_partial_covering_index(store):
    add_customer(store)
    add_invoice(store, "F-1")
    from sqlalchemy import and_, case, func, select

    from b2bgateway.statement import open_invoices_filter
    from b2bgateway.store.models import Invoice

    query = (
        select(
            Invoice.currency,
            func.sum(Invoice.balance_minor),
            func.sum(case((Invoice.due_on < TODAY, Invoice.balance_minor), else_=0)),
        )
        .where(and_(*open_invoices_filter("acme", "C-1")))
        .group_by(Invoice.currency)
    )
    with store.read() as session:
        compiled = query.compile(session.bind, compile_kwargs={"literal_binds": True})
        if store.dialect == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
            assert "COVERING INDEX ix_invoices_open_facturas" in plan, plan
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))
            assert "ix_invoices_open_facturas" in plan, plan


class NinetyDays:
    @hookimpl
    def b2bgateway_invoice_reasons(self, context):
        if (context.today - context.invoice.due_on).days > 90:
            return ["overdue_over_90_days"]
        return None

    @hookimpl
    def b2bgateway_order_reasons(self, context):
        return ["credit_on_hold"] if context.customer.customer_id == "C-hold" else []


def test_plugins_add_reasons_after_the_core_ones(gateway, store, acme, pm):
    pm.register(NinetyDays(), name="ninety")
    plugins = Plugins(pm)
    add_customer(store)
    add_customer(store, "C-hold", limit="0.00")
    add_invoice(store, "F-old", "100.00", TODAY - timedelta(days=91))
    add_invoice(store, "F-new", "100.00", TODAY - timedelta(days=90))
    register_payment(store, "F-old")
    with store.read() as session:
        result = check_invoices(plugins, session, acme, "C-1", ["F-old", "F-new"], TODAY)
        held = check_order(plugins, session, acme, "C-hold", mxn("10.00"), TODAY)
    per_invoice = {inv.invoice_id: d.reasons for inv, d in result.invoices}
    assert per_invoice == {"F-old": ("payment_registered", "overdue_over_90_days"), "F-new": ()}
    assert held.decision.reasons == ("credit_on_hold",)


def test_a_statement_asks_a_plugins_rules_about_every_line(gateway, store, acme, pm):
    """Invoices alike for the built-in rules (one decision shared) differ for a plugin's."""
    add_customer(store)
    add_invoice(store, "F-old", "100.00", TODAY - timedelta(days=91))
    add_invoice(store, "F-new", "100.00", TODAY - timedelta(days=90))
    with store.read() as session:
        plain = statement(Plugins(pm), session, acme, "C-1", TODAY)
    pm.register(NinetyDays(), name="ninety")
    with store.read() as session:
        extended = statement(Plugins(pm), session, acme, "C-1", TODAY)
    assert [line.decision.reasons for line in plain.lines] == [(), ()]
    assert [line.decision.reasons for line in extended.lines] == [("overdue_over_90_days",), ()]


def test_a_plugin_cannot_remove_the_cores_reasons(store, acme, pm):
    class Permissive:
        @hookimpl(tryfirst=True)
        def b2bgateway_order_reasons(self, context):
            return []

    pm.register(Permissive(), name="permissive")
    add_customer(store)
    with store.read() as session:
        check = check_order(Plugins(pm), session, acme, "C-1", mxn("10.00"), TODAY)
    assert check.decision.reasons == ("within_credit_limit",)


def test_the_rules_plugin_cannot_be_disabled():
    from b2bgateway.errors import ConfigurationError
    from b2bgateway.plugins import get_plugin_manager

    with pytest.raises(ConfigurationError, match="disabled_plugins"):
        get_plugin_manager(load_entrypoints=False, blocked=["rules"])


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(-50_000, 500_000),
            st.integers(-40, 40),
            st.sampled_from(["factura", "nota_credito"]),
        ),
        max_size=25,
    )
)
def test_sql_sums_equal_python_sums_and_total_is_overdue_plus_upcoming(store, items):
    with store.write() as session:
        session.execute(text("DELETE FROM invoices"))
        session.execute(text("DELETE FROM customers"))
    add_customer(store)
    for index, (cents, days, doc_type) in enumerate(items):
        add_invoice(
            store,
            f"F-{index}",
            str(Money.from_minor_units(cents, "MXN").amount),
            TODAY + timedelta(days=days),
            document_type=doc_type,
        )
    with store.read() as session:
        sums = balances(session, "acme", "C-1", TODAY).get("MXN")
    open_items = [(c, d) for c, d, t in items if t == "factura" and c > 0]
    if not open_items:
        assert sums is None
        return
    assert sums.total == sums.overdue + sums.upcoming
    assert sums.total.to_minor_units() == sum(c for c, _ in open_items)
    assert sums.overdue.to_minor_units() == sum(c for c, d in open_items if d < 0)
