"""SPEI transfers: a ``clabe`` payment and Mercado Pago's instructions page
(``cassettes/test_spei/``).

Mercado Pago México's guide "Transferencias SPEI" (Checkout API) documents the request
(``payment_method_id: "clabe"``, the payer's e-mail and name) and an answer that is ``pending``
with ``payment_method.data`` (``reference_id``, ``external_resource_url``) and, in its older
version, ``transaction_details.external_resource_url``: a page with the instructions, **no CLABE**.
So the next action is ``display_bank_transfer_instructions`` with that page as
``hosted_instructions_url`` and no CLABE, bank or beneficiary (the contract's hosted-only
instructions); ``pending_waiting_transfer`` is the ``status_detail`` Mercado Pago's table of
payment results gives a bank transfer waiting for the buyer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from helpers import Sent, charge_request
from vcr.cassette import Cassette

from b2bgateway import CustomerRef, Money, Outcome
from b2bgateway.plugins import Processor
from b2bgateway.testing import assert_method_conforms
from b2bgateway_mercadopago import hooks

DUE = datetime(2024, 5, 23, 16, 15, tzinfo=UTC)
PAGE = (
    "https://www.mercadopago.com.mx/payments/1319876731/ticket"
    "?caller_id=1987654321&hash=7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
)


def transfer_request(**overrides: Any) -> Any:
    return charge_request(
        token=None, payment_method="bank_transfer", expires_at=DUE, browser_details={}, **overrides
    )


def test_a_spei_transfer_is_mercado_pagos_instructions_page(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    result = processor.charge(transfer_request(), settings)

    assert result.outcome is Outcome.PENDING
    assert result.processor_reference == "1319876731"
    action = result.next_action
    assert action is not None
    assert action.type == "display_bank_transfer_instructions"
    instructions = action.bank_transfer
    assert instructions is not None
    assert (instructions.clabe, instructions.bank, instructions.beneficiary) == (None, None, None)
    assert instructions.hosted_instructions_url == PAGE
    assert instructions.reference == "6410293433784980810"
    assert instructions.amount == Money("1234.56", "MXN")
    assert instructions.expires_at == DUE
    assert result.expires_at == DUE
    assert result.method_details is not None
    assert result.method_details.type == "bank_transfer"
    body = json.loads(sent[0].body)
    assert body["payment_method_id"] == "clabe"
    assert body["payer"] == {
        "email": "compras@ferreteria.example",
        "first_name": "Ferretería del Norte",
    }
    assert body["date_of_expiration"] == "2024-05-23T16:15:00.000+00:00"
    assert "token" not in body


def test_a_customer_without_an_email_is_not_sent(
    processor: Processor, settings: Any, sent: list[Sent]
) -> None:
    result = processor.charge(transfer_request(customer=CustomerRef("C-001", "X")), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "customer_email_required"
    assert sent == []


def test_spei_conforms(settings: Any, cassette: Cassette) -> None:
    result = assert_method_conforms("mercadopago", hooks, settings, "bank_transfer")

    assert result.expires_at == datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=3)
    assert result.next_action is not None
    assert result.next_action.bank_transfer is not None
    assert result.next_action.bank_transfer.clabe is None
