"""Chargebacks and mediations as disputes (``cassettes/test_disputes/``).

A ``chargebacks`` notification is re-fetched (``GET /v1/chargebacks/{id}``); a payment's own
status (``charged_back``, ``in_mediation``) says the same for the ``payment`` topic.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from test_webhooks import notification
from vcr.cassette import Cassette

from b2bgateway import (
    DisputeStatus,
    EventKind,
    Money,
    ProcessorPaymentNotFound,
    WebhookMalformed,
)
from b2bgateway.plugins import Processor

CHARGEBACK = "5012345678"


def chargeback_notification(data_id: str = CHARGEBACK) -> Any:
    """As documented: ``type`` ``topic_chargebacks_wh``, ``actions``, the chargeback's id and
    its payment's in ``data``."""
    body = {
        "actions": ["changed_case_status"],
        "api_version": "v1",
        "application_id": 6295877106812064,
        "data": {
            "checkout": "PRO",
            "date_updated": "2024-06-10T09:00:00Z",
            "id": data_id,
            "payment_id": 1319876541,
            "product_id": "C00A2J8RF4DI8BCIMFU0",
            "site_id": "MLM",
            "transaction_intent_id": "",
        },
        "date_created": "2024-06-10T09:00:00-04:00",
        "id": 114411153595,
        "live_mode": False,
        "type": "topic_chargebacks_wh",
        "user_id": 1234567890,
        "version": 1718024400,
    }
    return notification(data_id, topic="topic_chargebacks_wh", body=json.dumps(body).encode())


def test_a_new_chargeback_opens_a_dispute(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(chargeback_notification(), settings)

    assert event.kind is EventKind.DISPUTE
    assert event.processor_reference == "1319876541"  # the payment, found by its reference
    assert event.dispute is not None
    assert event.dispute.status is DisputeStatus.OPEN
    assert event.dispute.reference == CHARGEBACK
    assert event.dispute.reason == "4837"
    assert event.dispute.amount == Money("1234.56", "MXN")
    assert event.event_id == f"chargeback:{CHARGEBACK}:new"
    assert event.event_type == "changed_case_status"


def test_a_lost_chargeback_closes_it_lost(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(chargeback_notification(), settings)

    assert event.dispute is not None
    assert event.dispute.status is DisputeStatus.LOST
    assert event.event_id == f"chargeback:{CHARGEBACK}:lost"


def test_an_unknown_chargeback_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorPaymentNotFound):
        processor.parse_webhook(chargeback_notification("5012345679"), settings)


def test_a_chargeback_notification_without_an_id_is_malformed(
    processor: Processor, settings: Any
) -> None:
    with pytest.raises(WebhookMalformed):
        processor.parse_webhook(chargeback_notification("../1"), settings)


def test_a_payment_in_mediation_is_an_open_dispute(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(notification(), settings)

    assert event.kind is EventKind.DISPUTE
    assert event.dispute is not None
    assert event.dispute.status is DisputeStatus.OPEN
    assert event.dispute.reason == "mediation"
    assert event.dispute.reference == "mediation:1319876541"  # the same when it ends


def claim_notification(data_id: str) -> Any:
    """A claims notification (``topic_claims_integration_wh``) naming the claim in ``data.id``."""
    return notification(data_id, topic="topic_claims_integration_wh", action="claims.updated")


def test_a_claim_about_a_payment_reports_the_payment(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """The claim names its payment (``resource: "payment"``, ``resource_id``): the payment,
    re-fetched, is what the event reports; in mediation, an open dispute."""
    event = processor.parse_webhook(claim_notification("5033102541"), settings)

    assert event.kind is EventKind.DISPUTE
    assert event.processor_reference == "1319876541"
    assert event.dispute is not None
    assert event.dispute.status is DisputeStatus.OPEN
    assert event.dispute.reference == "mediation:1319876541"
    # the same event id as the payment's own notification about that state: one event
    assert event.event_id.startswith("payment:1319876541:in_mediation:")


def test_a_claim_about_a_shipment_is_acknowledged(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """The reference's sample claim, about a shipment: nothing of a payment to report."""
    event = processor.parse_webhook(claim_notification("5033102536"), settings)

    assert event.kind is EventKind.IGNORED
    assert event.event_id == "claim:5033102536:closed:dispute"


def test_a_claim_notification_without_a_claim_id_is_malformed(
    processor: Processor, settings: Any
) -> None:
    with pytest.raises(WebhookMalformed):
        processor.parse_webhook(claim_notification("abc"), settings)


def test_the_api_references_chargeback_resource_is_read_too() -> None:
    """The API reference's chargeback (its guide's sample answer: ``payments``, ``currency``,
    ``coverage_applied``..., no ``status``), unlike the SDK's type: its payment and amount are
    read, and without a status its payment's (re-fetched) says where the dispute stands."""
    from b2bgateway_mercadopago import mapping

    chargeback = {
        "id": "234000062890459000",
        "payments": [86439942806],
        "currency": "MXN",
        "amount": Decimal("1000.50"),
        "reason": "general",
        "coverage_applied": None,
        "coverage_elegible": True,
        "documentation_required": False,
        "documentation_status": "not_supplied",
        "documentation": [],
        "date_documentation_deadline": None,
        "date_created": None,
        "date_last_updated": "2024-10-17T12:48:24.000-04:00",
        "live_mode": True,
    }

    payment = {"id": 86439942806, "status": "charged_back", "status_detail": "in_process"}
    event = mapping.chargeback_event(chargeback, "changed_case_status", payment)

    assert event.processor_reference == "86439942806"
    assert event.event_id == "chargeback:234000062890459000:payment-charged_back-in_process"
    assert event.dispute is not None
    assert event.dispute.status is DisputeStatus.OPEN
    assert event.dispute.amount == Money("1000.50", "MXN")
    assert event.dispute.reference == "234000062890459000"
    assert event.occurred_at is not None
    # Decided (the payment says so): the same dispute the payment's notification closes, no
    # reference of its own to open again.
    won = mapping.chargeback_event(
        chargeback, "changed_case_status", {**payment, "status_detail": "reimbursed"}
    )
    assert won.dispute is not None
    assert (won.dispute.status, won.dispute.reference) == (DisputeStatus.WON, None)
    assert won.event_id != event.event_id
    # A payment that tells of no chargeback: the event is recorded, the payment untouched.
    quiet = mapping.chargeback_event(chargeback, "changed_case_status", {"status": "approved"})
    assert quiet.kind is EventKind.DISPUTE
    assert quiet.dispute is None
