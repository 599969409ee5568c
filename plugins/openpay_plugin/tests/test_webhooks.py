"""Webhooks: Openpay signs nothing, so the Basic credentials are checked and the charge is
re-fetched (from a cassette) before any event is reported. Notifications are built here, in the
test, as Openpay sends them; only the re-fetch has cassettes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
from openpay_factories import (
    CHARGE_ID,
    PAYMENT_ID,
    basic,
    charge_notification,
    notification,
)

from b2bgateway import (
    DisputeStatus,
    EventKind,
    Money,
    Outcome,
    ProcessorUnavailable,
    WebhookMalformed,
    WebhookSignatureInvalid,
)
from b2bgateway_openpay import mapping


def test_charge_succeeded_is_refetched(processor, settings, cassette):
    event = processor.parse_webhook(
        notification(charge_notification("charge.succeeded", "completed")), settings
    )
    assert event.kind is EventKind.PAYMENT
    assert event.event_id == f"charge.succeeded:{CHARGE_ID}:completed"
    assert event.payment_id == PAYMENT_ID
    assert event.processor_reference == CHARGE_ID
    assert event.outcome is Outcome.SUCCEEDED
    assert event.amount == Money("1500.50", "MXN")
    assert event.occurred_at == datetime(
        2024, 1, 10, 12, 0, 5, tzinfo=timezone(timedelta(hours=-6))
    )


def test_openpay_state_wins_over_the_notification_error_response(processor, settings, cassette):
    """The notification says completed; the charge, asked directly, failed."""
    event = processor.parse_webhook(
        notification(charge_notification("charge.succeeded", "completed")), settings
    )
    assert event.outcome is Outcome.FAILED
    assert event.failure.processor_message == "The card was declined by the bank"


def test_charge_refunded_is_a_refund_event(processor, settings, cassette):
    event = processor.parse_webhook(
        notification(charge_notification("charge.refunded", "completed")), settings
    )
    assert event.kind is EventKind.REFUND
    assert event.event_id == f"charge.refunded:{CHARGE_ID}:completed:trcfxgrp5mfgpcvdrynq"
    assert event.refund_id == "re_1c2d3e4f5a6b7c8d9e0f1a2b"  # read back from the description
    assert event.refund_reference == "trcfxgrp5mfgpcvdrynq"
    assert event.amount == Money("400.00", "MXN")
    assert event.outcome is Outcome.SUCCEEDED


def test_notification_for_an_unknown_charge_is_ignored(processor, settings, cassette):
    event = processor.parse_webhook(
        notification(charge_notification("charge.succeeded", "completed")), settings
    )
    assert event.kind is EventKind.IGNORED


def test_refetch_unavailable_is_retried_by_openpay(processor, settings, monkeypatch):
    def refused(self, request, **kwargs):
        raise requests.ConnectTimeout("connect timed out")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refused)
    with pytest.raises(ProcessorUnavailable):  # answered 503: Openpay delivers it again
        processor.parse_webhook(
            notification(charge_notification("charge.succeeded", "completed")), settings
        )


def test_verification_code_is_shown_to_the_merchant(processor, settings, caplog):
    """As Openpay sends it to a webhook just registered (a sandbox capture's shape: the code
    and the webhook's id), with the webhook's Basic credentials."""
    body = {
        "type": "verification",
        "event_date": "2016-11-25T14:45:09-06:00",
        "verification_code": "3vWQ1x6I",
        "id": "w7evenqvf4a3crkdmkj6",
    }
    with caplog.at_level(logging.INFO, logger="b2bgateway_openpay"):
        event = processor.parse_webhook(notification(body), settings)
    assert event.kind is EventKind.IGNORED
    assert event.event_type == "verification"
    assert event.event_id == "verification:3vWQ1x6I"  # recorded with the webhook event
    [line] = [r for r in caplog.records if "verification code" in r.getMessage()]
    assert line.levelno == logging.INFO
    assert "3vWQ1x6I" in line.getMessage()
    assert "w7evenqvf4a3crkdmkj6" in line.getMessage()


def test_verification_without_the_credentials_is_refused(processor, settings):
    body = {"type": "verification", "verification_code": "3vWQ1x6I"}
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(notification(body, basic(password="wrong-password")), settings)


def test_chargeback_rejected_is_won(processor, settings, cassette):
    """The re-fetched charge is completed again: the merchant won."""
    event = processor.parse_webhook(
        notification(charge_notification("chargeback.rejected", "completed")), settings
    )
    assert event.kind is EventKind.DISPUTE
    assert event.dispute.status is DisputeStatus.WON
    assert event.dispute.reference == f"chargeback:{CHARGE_ID}"
    assert event.payment_id == PAYMENT_ID


def test_chargeback_of_a_charge_never_paid_is_only_recorded(processor, settings, cassette):
    """The notification says accepted; Openpay's charge was never paid (it failed)."""
    event = processor.parse_webhook(
        notification(charge_notification("chargeback.accepted", "chargeback_accepted")), settings
    )
    assert event.kind is EventKind.DISPUTE
    assert event.dispute is None


def test_a_transaction_of_its_own_is_found_by_our_order_id(processor, settings, cassette):
    """A chargeback notification naming a transaction that is not the charge (assumed: the
    reference shows no chargeback notification): the charge is looked up by our order id."""
    body = charge_notification("chargeback.created", "chargeback_pending", id="trcbk4a9m2x7p0q1")
    event = processor.parse_webhook(notification(body), settings)
    assert event.dispute.status is DisputeStatus.OPEN
    assert event.processor_reference == CHARGE_ID
    # The chargeback's own transaction is in the reference: a later chargeback of the same
    # charge names another one, and is a new dispute rather than the closed one repeated.
    assert event.dispute.reference == f"chargeback:{CHARGE_ID}:trcbk4a9m2x7p0q1"


@pytest.mark.parametrize("event_type", ["chargeback.accepted", "chargeback.rejected"])
def test_chargeback_end_while_the_charge_lags_is_delivered_again(
    processor, settings, cassette, event_type, caplog
):
    """The notification ends the chargeback, the re-fetched charge still shows it pending: not
    an open dispute (acknowledged, never sent again), but a 503, so Openpay delivers it again."""
    with pytest.raises(ProcessorUnavailable), caplog.at_level(logging.WARNING):
        processor.parse_webhook(
            notification(charge_notification(event_type, "chargeback_pending")), settings
        )
    assert any("chargeback_pending" in r.getMessage() for r in caplog.records)


def test_rescored_decline_of_an_unpaid_charge_is_its_failure(processor, settings, cassette):
    event = processor.parse_webhook(
        notification(charge_notification("charge.rescored.to.decline", "failed")), settings
    )
    assert event.kind is EventKind.PAYMENT
    assert event.outcome is Outcome.FAILED
    assert event.failure.code == "fraud_suspected"


@pytest.mark.parametrize("status", ["expired", "reversed", ""])
def test_a_status_openpay_does_not_document_is_unknown(status):
    result = mapping.charge_result({"id": CHARGE_ID, "status": status, "amount": Decimal("1")})
    assert result.outcome is Outcome.UNKNOWN


def test_other_types_are_acknowledged_without_a_call(processor, settings):
    event = processor.parse_webhook(
        notification(charge_notification("charge.created", "in_progress")), settings
    )
    assert event.kind is EventKind.IGNORED
    assert event.event_id == f"charge.created:{CHARGE_ID}:in_progress"


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        basic(password="not-the-password"),
        basic(user="someone-else"),
        "Basic !!!not-base64!!!",
        "Bearer " + basic()[6:],
        basic() + "AA",
    ],
    ids=["missing", "wrong-password", "wrong-user", "not-base64", "not-basic", "altered"],
)
def test_wrong_credentials_are_refused_error_response(processor, settings, authorization):
    request = notification(charge_notification("charge.succeeded", "completed"), authorization)
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(request, settings)


def test_credentials_are_checked_before_the_body_is_read(processor, settings):
    request = notification({"type": "charge.succeeded"}, basic(password="nope"))
    request = type(request)(request.merchant_id, b"not json", request.headers)
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(request, settings)


def test_malformed_body_error_response(processor, settings):
    request = notification({"no": "type"})
    with pytest.raises(WebhookMalformed):
        processor.parse_webhook(request, settings)
