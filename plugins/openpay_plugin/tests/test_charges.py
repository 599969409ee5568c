"""Charges: token, 3-D Secure, Openpay's card page; each success with its failure twin."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from openpay_factories import (
    CHARGE_ID,
    DEVICE_SESSION_ID,
    PAYMENT_ID,
    RETURN_URL,
    charge_request,
    retrieve_request,
)

from b2bgateway import (
    Money,
    Outcome,
    ProcessorMisconfigured,
    ProcessorUnavailable,
    UnsupportedRequest,
)
from b2bgateway_openpay import methods
from b2bgateway_openpay.client import dumps


def test_token_charge_succeeds(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == CHARGE_ID
    assert result.amount == Money("1500.50", "MXN")
    assert result.processor_status == "completed"


def test_token_charge_declined_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "card_declined"
    assert result.failure.processor_code == "3001"
    assert result.failure.processor_message == "The card was declined by the bank"


def test_token_charge_insufficient_funds_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "insufficient_funds"
    assert result.failure.processor_code == "3003"


def test_token_charge_fraud_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)
    assert result.failure.code == "fraud_suspected"
    assert result.failure.processor_code == "3005"


def test_token_charge_with_3ds_redirects(processor, settings_3ds, cassette):
    result = processor.charge(charge_request(), settings_3ds)
    assert result.outcome is Outcome.PENDING
    assert result.next_action.type == "redirect"
    assert result.next_action.url == (
        "https://sandbox-api.openpay.mx/v1/mzdtln0bmtms6o3kck8f/charges/"
        "tr6cxbcefzatd10guvvw/redirect/"
    )
    assert result.processor_status == "charge_pending"


def test_return_from_3ds_retrieves_the_charge(processor, settings_3ds, cassette):
    result = processor.retrieve(retrieve_request("tr6cxbcefzatd10guvvw"), settings_3ds)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.next_action is None


def test_return_from_3ds_authentication_failed_error_response(processor, settings_3ds, cassette):
    result = processor.retrieve(retrieve_request("tr6cxbcefzatd10guvvw"), settings_3ds)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "payment_failed"
    assert result.failure.processor_message == "3D Secure authentication failed"


def test_3ds_authentication_failed_answer_error_response(processor, settings_3ds, cassette):
    result = processor.charge(charge_request(), settings_3ds)
    assert result.failure.code == "authentication_failed"
    assert result.failure.processor_code == "2010"


def test_hosted_charge_redirects_to_openpay_card_page(processor, settings, cassette):
    result = processor.charge(charge_request(token=None), settings)
    assert result.outcome is Outcome.PENDING
    assert result.next_action.url.endswith("/charges/trq7yrzlfjc7ukrsfyxp/card_capture")


def test_hosted_charge_without_return_url_error_response(processor, settings):
    with pytest.raises(UnsupportedRequest):
        processor.charge(charge_request(token=None, return_url=None), settings)


def test_duplicate_order_id_is_looked_up(processor, settings, cassette):
    """A retry after a lost answer: 409 / 1006 means "already charged", never a failure."""
    result = processor.charge(charge_request(), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == CHARGE_ID


def test_duplicate_order_id_of_a_declined_charge_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)
    assert result.outcome is Outcome.FAILED
    assert result.processor_reference == CHARGE_ID


def test_bad_key_error_response(processor, settings, cassette):
    with pytest.raises(ProcessorMisconfigured):
        processor.charge(charge_request(), settings)


def test_openpay_internal_error_is_unknown_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)
    assert result.outcome is Outcome.UNKNOWN


def test_read_timeout_is_unknown(processor, settings, monkeypatch):
    def no_answer(self, request, **kwargs):
        raise requests.ReadTimeout("read timed out")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", no_answer)
    assert processor.charge(charge_request(), settings).outcome is Outcome.UNKNOWN


def test_unreachable_openpay_is_unavailable(processor, settings, monkeypatch):
    def refused(self, request, **kwargs):
        raise requests.ConnectTimeout("connect timed out")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refused)
    with pytest.raises(ProcessorUnavailable):
        processor.charge(charge_request(), settings)


# -- the request body --------------------------------------------------------------------------
def test_body_carries_the_exact_amount_and_our_ids(settings):
    body = methods.charge_body(charge_request(amount=Money("1500.50", "MXN")), settings)
    assert '"amount": 1500.50,' in dumps(body)
    assert body["order_id"] == PAYMENT_ID
    assert body["source_id"] == "kqgykn96i7bcs1wwhvgw"
    assert body["device_session_id"] == DEVICE_SESSION_ID
    assert "use_3d_secure" not in body


def test_body_without_device_session_id_omits_it(settings):
    body = methods.charge_body(charge_request(device_session_id=None), settings)
    assert "device_session_id" not in body


def test_body_with_3ds(settings_3ds):
    body = methods.charge_body(charge_request(), settings_3ds)
    assert body["use_3d_secure"] is True
    assert body["redirect_url"] == RETURN_URL


def test_3ds_without_return_url_error_response(settings_3ds):
    with pytest.raises(UnsupportedRequest):
        methods.charge_body(charge_request(return_url=None), settings_3ds)


def test_body_json_is_exact_decimals():
    text = dumps({"amount": Decimal("0.10"), "big": Decimal("12345678901234.99"), "n": None})
    assert text == '{"amount": 0.10, "big": 12345678901234.99, "n": null}'
    assert json.loads(text, parse_float=Decimal)["amount"] == Decimal("0.10")
    with pytest.raises(TypeError):
        dumps({"amount": 0.1})
