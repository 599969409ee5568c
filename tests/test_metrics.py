"""``/metrics`` and ``/readyz`` through the app: who may scrape, and the figures after real
checkouts and webhooks (the sandbox processor, the suite's database). The same with a real
gunicorn server is in test_metrics_server.py.

The measured figures (counters, histograms) live in the process for the whole session, so these
tests compare a scrape after with one before; the database's figures are absolute.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import update

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.settings import Settings
from b2bgateway.store import Store
from b2bgateway.store.models import OutboxMessage
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.support.metrics import (
    FAMILIES,
    METRICS_AUTH,
    METRICS_TOKEN,
    Samples,
    parse,
)
from tests.test_webhooks import HEADER, checkout, event_body, post
from tests.test_webhooks import customer as customer


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    """acme with outbound notifications on (so the outbox fills), and a metrics token."""
    return Settings(
        database_url=database_url,
        metrics_token=METRICS_TOKEN,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "sandbox",
                "order_payments": True,
                "notification_url": "https://erp.example/b2bgateway",
                "notification_secret": "nsec_0123456789abcdef",
                "processors": {
                    "sandbox": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "ledger.db"),
                    }
                },
            },
        },
    )


def scrape(client: Any) -> Samples:
    response = client.get("/metrics", headers=METRICS_AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    assert response.headers["Cache-Control"] == "no-store"
    return parse(response.get_data(as_text=True))


def test_metrics_need_the_configured_token(client: Any, gateway: Gateway) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert METRICS_TOKEN not in response.get_data(as_text=True)
    # The merchant's API key is not the metrics token.
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer sk_test_merchant_a"}).status_code
        == 401
    )
    assert client.get("/metrics", headers=METRICS_AUTH).status_code == 200
    # OpenMetrics for a scraper that asks for it
    response = client.get(
        "/metrics", headers={**METRICS_AUTH, "Accept": "application/openmetrics-text"}
    )
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_metrics_are_off_without_a_token(database_url: str, plugins: Plugins, store: Store) -> None:
    from b2bgateway_web import create_app

    gw = Gateway.build(Settings(database_url=database_url), plugins, store)
    response = create_app(gateway=gw).test_client().get("/metrics", headers=METRICS_AUTH)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "not_found"


def test_an_empty_gateway_shows_every_family_at_zero(client: Any, gateway: Gateway) -> None:
    samples = scrape(client)
    assert set(samples.families) >= FAMILIES
    assert samples.families["b2bgateway_processor_call_duration_seconds"] == "histogram"
    assert samples.families["b2bgateway_webhooks"] == "counter"
    assert samples.get_value("b2bgateway_database_up") == 1
    # every status and method of the installed processor, at 0
    assert (
        samples.get_value(
            "b2bgateway_payments", status="succeeded", method="card", processor="sandbox"
        )
        == 0
    )
    assert samples.total("b2bgateway_payments") == 0
    assert samples.get_value("b2bgateway_outbound_events", state="pending") == 0
    assert samples.get_value("b2bgateway_outbound_events", state="dead") == 0
    assert samples.get_value("b2bgateway_reconciliation_backlog", status="processing") == 0
    assert samples.get_value("b2bgateway_reconciliation_oldest_waiting_seconds") == 0


def test_checkouts_and_webhooks_are_counted(
    client: Any, gateway: Gateway, acme: Any, customer: None, store: Store
) -> None:
    before = scrape(client)
    approved = checkout(gateway, acme, "m1", token="tok_approved")
    declined = checkout(gateway, acme, "m2", token="tok_declined")
    waiting = checkout(gateway, acme, "m3", token="tok_3ds")
    assert (approved.status, declined.status, waiting.status) == (
        "succeeded",
        "failed",
        "requires_action",
    )

    samples = scrape(client)
    card = {"method": "card", "processor": "sandbox"}
    assert samples.get_value("b2bgateway_payments", status="succeeded", **card) == 1
    assert samples.get_value("b2bgateway_payments", status="failed", **card) == 1
    assert samples.get_value("b2bgateway_payments", status="requires_action", **card) == 1
    assert samples.get_value("b2bgateway_reconciliation_backlog", status="requires_action") == 1
    assert samples.get_value("b2bgateway_reconciliation_backlog", status="processing") == 0
    assert samples.get_value("b2bgateway_reconciliation_oldest_waiting_seconds") >= 0
    calls = {"processor": "sandbox", "hook": "create_charge", "result": "ok"}
    name = "b2bgateway_processor_call_duration_seconds"
    assert (
        samples.get_value(f"{name}_count", **calls) - before.get_value(f"{name}_count", **calls)
        == 3
    )
    assert samples.get_value(f"{name}_sum", **calls) > before.get_value(f"{name}_sum", **calls)
    # the +Inf bucket holds every call
    inf = samples.get_value(f"{name}_bucket", le="+Inf", **calls)
    assert inf == samples.get_value(f"{name}_count", **calls)
    # succeeded and failed payments each wrote outbound events for the ERP
    pending = samples.get_value("b2bgateway_outbound_events", state="pending")
    assert pending >= 2

    # the processor's notification: applied, then the same again (a duplicate), then a forgery
    body = event_body(waiting, "charge.succeeded", "succeeded")
    assert post(client, body).json["outcome"] == "applied"
    assert post(client, body).json["outcome"] == "duplicate"
    assert (
        client.post(
            "/v1/webhooks/acme/sandbox", data=body, headers={HEADER: "t=1,v1=00"}
        ).status_code
        == 400
    )
    assert post(client, b"{}", url="/v1/webhooks/acme/made-up-processor").status_code == 404
    assert post(client, b"{}", url="/v1/webhooks/nobody/sandbox").status_code == 404

    after = scrape(client)

    def webhooks(s: Samples, processor: str, result: str, reason: str) -> float:
        return s.get_value(
            "b2bgateway_webhooks_total", processor=processor, result=result, reason=reason
        )

    for processor, result, reason in (
        ("sandbox", "accepted", "applied"),
        ("sandbox", "accepted", "duplicate"),
        ("sandbox", "refused", "webhook_signature_invalid"),
        ("sandbox", "refused", "not_found"),
        ("unknown", "refused", "not_found"),  # never the name the path made up
    ):
        assert (
            webhooks(after, processor, result, reason) - webhooks(before, processor, result, reason)
            == 1
        ), (processor, result, reason)
    assert not any(("processor", "made-up-processor") in labels for _name, labels in after)
    parse_calls = {"processor": "sandbox", "hook": "parse_webhook"}
    assert (
        after.total(f"{name}_count", **parse_calls) - before.total(f"{name}_count", **parse_calls)
        == 3
    )
    assert after.get_value(f"{name}_count", result="error", **parse_calls) > before.get_value(
        f"{name}_count", result="error", **parse_calls
    )
    assert after.get_value("b2bgateway_payments", status="succeeded", **card) == 2
    assert after.get_value("b2bgateway_payments", status="requires_action", **card) == 0
    assert after.get_value("b2bgateway_reconciliation_backlog", status="requires_action") == 0

    # a dead letter (the outbox gave up on one event: what `b2bgateway outbox list` shows)
    with store.write() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id
                == session.query(OutboxMessage.id)
                .order_by(OutboxMessage.id)
                .limit(1)
                .scalar_subquery()
            )
            .values(state="dead")
        )
    last = scrape(client)
    assert last.get_value("b2bgateway_outbound_events", state="dead") == 1
    assert (
        last.get_value("b2bgateway_outbound_events", state="pending")
        == after.get_value("b2bgateway_outbound_events", state="pending") - 1
    )


def test_a_scrape_without_the_database_still_answers(
    client: Any, app: Any, gateway: Gateway, tmp_path: Any
) -> None:
    from b2bgateway_web import state

    state.init_app(
        app, dataclasses.replace(gateway, store=Store(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    )
    samples = scrape(client)
    assert samples.get_value("b2bgateway_database_up") == 0
    assert "b2bgateway_payments" not in samples.families
    assert "b2bgateway_processor_call_duration_seconds" in samples.families


# -- /readyz ---------------------------------------------------------------------------------------


def test_ready_when_the_database_is_current_and_the_plugins_loaded(client: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"
    assert response.json["checks"]["database"]["status"] == "ok"
    assert (
        response.json["checks"]["database"]["schema"]
        == response.json["checks"]["database"]["expected_schema"]
    )
    assert response.json["checks"]["plugins"] == {"processors": ["sandbox"], "missing": []}


def _ready_with(app: Any, gw: Gateway) -> Any:
    from b2bgateway_web import state

    state.init_app(app, gw)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "not_ready"
    assert response.headers["Retry-After"]
    return response.json


def test_not_ready_on_an_unmigrated_database(app: Any, gateway: Gateway, tmp_path: Any) -> None:
    body = _ready_with(
        app, dataclasses.replace(gateway, store=Store(f"sqlite:///{tmp_path}/empty.db"))
    )
    assert body["failed"] == ["database"]
    assert body["checks"]["database"]["schema"] is None


def test_not_ready_without_the_database(app: Any, gateway: Gateway, tmp_path: Any) -> None:
    body = _ready_with(
        app, dataclasses.replace(gateway, store=Store(f"sqlite:///{tmp_path}/no/such/dir.db"))
    )
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == {"status": "unreachable"}


def test_not_ready_without_a_merchants_processor(app: Any, gateway: Gateway) -> None:
    without_sandbox = Plugins(get_plugin_manager(load_entrypoints=False, blocked=["sandbox"]))
    body = _ready_with(app, dataclasses.replace(gateway, plugins=without_sandbox))
    assert body["failed"] == ["plugins"]
    assert body["checks"]["plugins"] == {"processors": [], "missing": ["sandbox"]}
