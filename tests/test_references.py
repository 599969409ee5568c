"""The core's memory for plugins (b2bgateway.references): every reference a payment gets at the
processor finds it again (a dispute or a dashboard refund that names only the charge), and a
customer's id at the processor is kept and sent back with the customer's next charge."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from b2bgateway import service, webhooks
from b2bgateway.gateway import Gateway
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    ChargeRequest,
    ChargeResult,
    Dispute,
    DisputeStatus,
    EventKind,
    Outcome,
    ProcessorInfo,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.money import Money
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.sandbox import hooks as sandbox
from b2bgateway.settings import Settings
from b2bgateway.store.models import Payment, PaymentAllocation, PaymentReference, ProcessorCustomer
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.support.seeding import seed_customer


class AliasingProcessor:
    """The sandbox, answering as a processor that renames payments (a session, then its
    charge) and keeps a customer object of its own. Its notifications are JSON it trusts."""

    def __init__(self) -> None:
        self.requests: list[ChargeRequest] = []
        self.customer: str | None = None  # returned instead of the remembered one, if set

    @hookimpl
    def b2bgateway_processor_info(self) -> ProcessorInfo:
        info = sandbox.b2bgateway_processor_info()
        return ProcessorInfo("Aliasing sandbox", info.settings_model, info.capabilities)

    @hookimpl
    def b2bgateway_create_charge(self, request: ChargeRequest, settings: Any) -> ChargeResult:
        self.requests.append(request)
        result = sandbox.b2bgateway_create_charge(request, settings)
        return dataclasses.replace(
            result,
            references=(f"ch_{request.payment_id}", f"pi_{request.payment_id}"),
            processor_customer=self.customer
            or request.processor_customer
            or f"cus_{request.customer.id}",
        )

    @hookimpl
    def b2bgateway_parse_webhook(self, request: WebhookRequest, settings: Any) -> WebhookEvent:
        body = json.loads(request.body)
        dispute = body.pop("dispute", None)
        if dispute is not None:
            dispute = Dispute(DisputeStatus(dispute), reference="dp_1")
        refunded = body.pop("refunded", None)
        return WebhookEvent(
            kind=EventKind(body.pop("kind")),
            dispute=dispute,
            amount=None if refunded is None else Money(refunded, "MXN"),
            outcome=None if refunded is None else Outcome.SUCCEEDED,
            references=tuple(body.pop("references", ())),
            **body,
        )


@pytest.fixture
def processor() -> AliasingProcessor:
    return AliasingProcessor()


@pytest.fixture
def gateway(database_url: str, tmp_path: Any, store: Any, processor: AliasingProcessor) -> Gateway:
    settings = Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "aliasing",
                "invoice_payments": True,
                "processors": {
                    "aliasing": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "ledger.db"),
                    }
                },
            }
        },
    )
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(processor, name="aliasing")
    seed_customer(store, "acme", (("F-1", "100.00"), ("F-2", "200.00")))
    return Gateway.build(settings, Plugins(pm), store)


def pay(gateway: Gateway, invoice: str, key: str) -> Payment:
    return service.checkout(
        gateway,
        gateway.merchants["acme"],
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key=key,
            invoice_ids=[invoice],
            token="tok_approved",
        ),
    )


def deliver(gateway: Gateway, **event: Any) -> webhooks.Received:
    return webhooks.receive(gateway, "acme", "aliasing", json.dumps(event).encode(), {}, {})


def test_every_reference_an_answer_names_is_kept(gateway: Gateway) -> None:
    payment = pay(gateway, "F-1", "k1")
    assert payment.status == "succeeded"
    with gateway.store.read() as session:
        kept = set(session.scalars(select(PaymentReference.reference)))
    assert kept == {payment.processor_reference, f"ch_{payment.id}", f"pi_{payment.id}"}


def test_a_dispute_naming_only_the_charge_finds_its_payment_and_a_lost_one_reopens_invoices(
    gateway: Gateway,
) -> None:
    payment = pay(gateway, "F-1", "k1")
    charge = f"ch_{payment.id}"
    opened = deliver(
        gateway, event_id="e1", kind="dispute", processor_reference=charge, dispute="open"
    )
    assert (opened.outcome, opened.payment_id) == ("applied", payment.id)
    lost = deliver(gateway, event_id="e2", kind="dispute", references=[charge], dispute="lost")
    assert lost.outcome == "applied"
    with gateway.store.read() as session:
        row = session.get(Payment, payment.id)
        assert (row.status, row.dispute_status) == ("disputed", "lost")
        allocation = session.scalars(select(PaymentAllocation)).one()
        assert allocation.registered is False


def test_a_refund_made_at_the_processor_naming_the_intent_finds_its_payment(
    gateway: Gateway,
) -> None:
    payment = pay(gateway, "F-1", "k1")
    received = deliver(
        gateway,
        event_id="e1",
        kind="refund",
        processor_reference=f"pi_{payment.id}",
        refund_reference="re_dashboard",
        refunded="40.00",
    )
    assert (received.outcome, received.payment_id) == ("applied", payment.id)


def test_a_reference_of_no_payment_is_unknown(gateway: Gateway) -> None:
    pay(gateway, "F-1", "k1")
    received = deliver(gateway, event_id="e1", kind="dispute", references=["ch_x"], dispute="open")
    assert received.outcome == "unknown_payment"


def test_an_event_naming_a_new_reference_of_a_found_payment_keeps_it(gateway: Gateway) -> None:
    payment = pay(gateway, "F-1", "k1")
    deliver(
        gateway,
        event_id="e1",
        kind="dispute",
        processor_reference=f"ch_{payment.id}",
        references=["py_later"],
        dispute="open",
    )
    received = deliver(
        gateway, event_id="e2", kind="dispute", references=["py_later"], dispute="won"
    )
    assert (received.outcome, received.payment_id) == ("applied", payment.id)


def test_a_reference_another_payment_holds_stays_with_it(gateway: Gateway) -> None:
    first = pay(gateway, "F-1", "k1")
    second = pay(gateway, "F-2", "k2")
    deliver(
        gateway,
        event_id="e1",
        kind="dispute",
        processor_reference=f"ch_{second.id}",
        references=[f"ch_{first.id}"],
        dispute="open",
    )
    with gateway.store.read() as session:
        holder = session.scalar(
            select(PaymentReference.payment_id).where(
                PaymentReference.reference == f"ch_{first.id}"
            )
        )
    assert holder == first.id


def test_the_processor_customer_is_kept_and_sent_with_the_next_charge(
    gateway: Gateway, processor: AliasingProcessor
) -> None:
    pay(gateway, "F-1", "k1")
    pay(gateway, "F-2", "k2")
    assert [r.processor_customer for r in processor.requests] == [None, "cus_C-1"]
    with gateway.store.read() as session:
        kept = session.scalars(select(ProcessorCustomer)).one()
    assert (kept.merchant_id, kept.processor, kept.customer_id, kept.reference) == (
        "acme",
        "aliasing",
        "C-1",
        "cus_C-1",
    )


def test_a_different_processor_customer_never_replaces_the_first(
    gateway: Gateway, processor: AliasingProcessor, caplog: pytest.LogCaptureFixture
) -> None:
    """The customer's CLABE hangs on the first one: a second is an ALERT, never kept."""
    pay(gateway, "F-1", "k1")
    processor.customer = "cus_second"
    with caplog.at_level(logging.ERROR, logger="b2bgateway.references"):
        pay(gateway, "F-2", "k2")

    with gateway.store.read() as session:
        kept = session.scalars(select(ProcessorCustomer.reference)).all()
    assert kept == ["cus_C-1"]
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert len(alerts) == 1
    assert "cus_second" in alerts[0] and "cus_C-1" in alerts[0]
