"""Chargebacks and mediations as disputes (``cassettes/test_disputes/``).

A ``chargebacks`` notification is re-fetched (``GET /v1/chargebacks/{id}``); a payment's own
status (``charged_back``, ``in_mediation``) says the same for the ``payment`` topic.
"""

from __future__ import annotations

import json
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
