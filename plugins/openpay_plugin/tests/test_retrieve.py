"""Retrieving a charge: by Openpay's id (return from a redirect) or by our order id
(reconciliation after a lost answer); cancelling is not something Openpay can do."""

from __future__ import annotations

import pytest
from openpay_factories import CHARGE_ID, retrieve_request

from b2bgateway import (
    Money,
    Outcome,
    ProcessorMisconfigured,
    ProcessorPaymentNotFound,
    ProcessorUnavailable,
)


def test_retrieve_by_reference(processor, settings, cassette):
    result = processor.retrieve(retrieve_request(), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.amount == Money("1500.50", "MXN")
    assert result.refunded == Money("400.00", "MXN")  # read from the nested refund


def test_retrieve_unknown_reference_error_response(processor, settings, cassette):
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(retrieve_request(), settings)


def test_retrieve_by_order_id(processor, settings, cassette):
    result = processor.retrieve(retrieve_request(reference=None), settings)
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == CHARGE_ID


def test_retrieve_by_order_id_never_charged_error_response(processor, settings, cassette):
    """No charge has our order id: reconciliation learns the charge never reached Openpay."""
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(retrieve_request(reference=None), settings)


def test_retrieve_fully_refunded_charge(processor, settings, cassette):
    result = processor.retrieve(retrieve_request(), settings)
    assert result.outcome is Outcome.SUCCEEDED  # it was paid; the refund is reported apart
    assert result.refunded == Money("1500.50", "MXN")
    assert result.processor_status == "refunded"


def test_retrieve_bad_key_error_response(processor, settings, cassette):
    with pytest.raises(ProcessorMisconfigured):
        processor.retrieve(retrieve_request(), settings)


def test_retrieve_openpay_unavailable_error_response(processor, settings, cassette):
    with pytest.raises(ProcessorUnavailable):
        processor.retrieve(retrieve_request(), settings)


def test_cancel_is_not_possible(processor, settings):
    """Openpay's API has no cancel for a pending card charge: the payment stays open."""
    assert processor.cancel(retrieve_request(), settings) is None
