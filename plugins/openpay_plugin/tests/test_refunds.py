"""Refunds: partial and full, read from the nested refund object; never twice on a retry."""

from __future__ import annotations

import pytest
import requests
from openpay_factories import refund_request

from b2bgateway import Outcome, ProcessorMisconfigured


def test_partial_refund_succeeds(processor, settings, cassette):
    result = processor.refund(refund_request("400.00"), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "trcfxgrp5mfgpcvdrynq"


def test_partial_refund_refused_error_response(processor, settings, cassette):
    result = processor.refund(refund_request("400.00"), settings)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "insufficient_balance"
    assert result.failure.processor_code == "4001"


def test_full_refund_omits_the_amount(processor, settings, cassette):
    result = processor.refund(refund_request("1500.50", full=True), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "trk2mlh0aqeovcvqtbhe"


def test_rest_after_a_partial_refund_names_the_amount(processor, settings, cassette):
    """The rest after a partial refund is not the whole charge: the amount is sent."""
    result = processor.refund(refund_request("1100.50", full=True), settings)
    assert result.outcome is Outcome.SUCCEEDED


def test_refund_retried_after_a_lost_answer_is_not_repeated(processor, settings, cassette):
    """The charge already shows our refund: it is reported, and no second refund is asked."""
    result = processor.refund(refund_request("400.00"), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "trcfxgrp5mfgpcvdrynq"


def test_refund_read_timeout_is_unknown(processor, settings, cassette, monkeypatch):
    send = requests.adapters.HTTPAdapter.send

    def lose_posts(self, request, **kwargs):
        if request.method == "POST":
            raise requests.ReadTimeout("read timed out")
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", lose_posts)
    assert processor.refund(refund_request("400.00"), settings).outcome is Outcome.UNKNOWN


def test_refund_of_unknown_charge_error_response(processor, settings, cassette):
    result = processor.refund(refund_request("400.00"), settings)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "charge_not_found"


def test_refund_bad_key_error_response(processor, settings, cassette):
    with pytest.raises(ProcessorMisconfigured):
        processor.refund(refund_request("400.00"), settings)


def test_retrieve_refund_finds_ours(processor, settings, cassette):
    result = processor.retrieve_refund(refund_request("400.00"), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "trcfxgrp5mfgpcvdrynq"


def test_retrieve_refund_never_made_error_response(processor, settings, cassette):
    """The charge shows no refund at all: ours was never made, it may be asked again."""
    result = processor.retrieve_refund(refund_request("400.00"), settings)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "refund_not_found"


def test_retrieve_refund_hidden_by_another_waits_for_the_webhook(processor, settings, cassette):
    """Openpay nests one refund: another one shown does not prove ours was never made."""
    assert processor.retrieve_refund(refund_request("400.00"), settings) is None
