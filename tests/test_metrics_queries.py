"""The core's side of the metrics, without Flask: the scrape-time counts
(``b2bgateway.metrics_queries``) and what the core reports through ``b2bgateway.instruments``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from b2bgateway.errors import ProcessorContractError
from b2bgateway.gateway import Gateway
from b2bgateway.metrics_queries import read_gauges
from b2bgateway.store import Store
from b2bgateway.store.models import Payment, utcnow
from tests.test_webhooks import checkout
from tests.test_webhooks import customer as customer


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, float, bool]] = []
        self.webhooks: list[tuple[str, bool, str]] = []
        self.fail = fail

    def processor_call(self, processor: str, hook: str, seconds: float, error: bool) -> None:
        self.calls.append((processor, hook, seconds, error))
        if self.fail:
            raise RuntimeError("a broken exporter")

    def webhook(self, processor: str, accepted: bool, reason: str) -> None:
        self.webhooks.append((processor, accepted, reason))
        if self.fail:
            raise RuntimeError("a broken exporter")


def test_the_counts_by_status_method_and_processor(
    gateway: Gateway,
    acme: Any,
    customer: None,
    store: Store,
) -> None:
    for key, token in (("a", "tok_approved"), ("b", "tok_approved"), ("c", "tok_3ds")):
        checkout(gateway, acme, key, token=token)
    old = checkout(gateway, acme, "d", token="tok_3ds")
    now = utcnow()
    with store.write() as session:
        session.execute(
            update(Payment)
            .where(Payment.id == old.id)
            .values(status="processing", updated_at=now - timedelta(minutes=7))
        )
    with store.read() as session:
        gauges = read_gauges(session, ["sandbox", "other"], now=now)
    assert gauges.payments[("succeeded", "card", "sandbox")] == 2
    assert gauges.payments[("requires_action", "card", "sandbox")] == 1
    assert gauges.payments[("processing", "card", "sandbox")] == 1
    assert gauges.payments[("succeeded", "cash", "other")] == 0  # installed: shown at 0
    assert sum(gauges.payments.values()) == 4
    assert gauges.waiting() == {"processing": 1, "requires_action": 1}
    assert gauges.oldest_waiting_seconds == pytest.approx(420, abs=1)
    assert gauges.outbox == {"pending": 0, "dead": 0}  # acme has no notification_url here
    # a processor no longer installed still shows its payments
    with store.read() as session:
        assert read_gauges(session, [], now=now).payments == {
            ("succeeded", "card", "sandbox"): 2,
            ("requires_action", "card", "sandbox"): 1,
            ("processing", "card", "sandbox"): 1,
        }


def test_the_payments_count_reads_the_index_alone(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite's plan (PostgreSQL chooses by table size)")
    statement = select(
        Payment.status, Payment.payment_method, Payment.processor, func.count()
    ).group_by(Payment.status, Payment.payment_method, Payment.processor)
    compiled = statement.compile(store.engine)
    with store.engine.connect() as conn:
        plan = " ".join(
            str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
        )
    assert "USING COVERING INDEX ix_payments_status_method_processor" in plan, plan


def test_processor_calls_are_reported_with_their_hook_and_duration(
    gateway: Gateway,
    acme: Any,
    customer: None,
) -> None:
    recorder = Recorder()
    gateway.plugins.observe_with(recorder)
    checkout(gateway, acme, "k1", token="tok_approved")
    [(processor, hook, seconds, error)] = recorder.calls
    assert (processor, hook, error) == ("sandbox", "b2bgateway_create_charge", False)
    assert 0 < seconds < 30


def test_a_raising_processor_call_is_reported_as_an_error(gateway: Gateway, acme: Any) -> None:
    recorder = Recorder()
    gateway.plugins.observe_with(recorder)
    processor = gateway.plugins.processor("sandbox")
    with pytest.raises(ProcessorContractError):
        processor.parse_webhook(None, acme.processor_settings)  # type: ignore[arg-type]
    assert [(c[1], c[3]) for c in recorder.calls] == [("b2bgateway_parse_webhook", True)]


def test_a_failing_exporter_changes_nothing(
    gateway: Gateway,
    acme: Any,
    customer: None,
    client: Any,
) -> None:
    """Measuring must never change a payment's course: the exporter's error is logged, dropped."""
    gateway.plugins.observe_with(Recorder(fail=True))
    payment = checkout(gateway, acme, "k1", token="tok_approved")
    assert payment.status == "succeeded"
    from b2bgateway import webhooks

    with pytest.raises(webhooks.NotFound):
        webhooks.receive(gateway, "nobody", "sandbox", b"{}", {}, {})
