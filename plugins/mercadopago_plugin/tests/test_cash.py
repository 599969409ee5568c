"""Cash at OXXO and other stores: a ``ticket`` payment and its voucher (``cassettes/test_cash/``).

The voucher's reference is ``payment_method.data.reference_id``, the printable voucher
``transaction_details.external_resource_url``, due at ``date_of_expiration``, which the plugin
sends from the gateway's expiry of the payment.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from helpers import Sent, charge_request
from test_webhooks import notification
from vcr.cassette import Cassette

from b2bgateway import Money, Outcome
from b2bgateway.plugins import Processor
from b2bgateway.testing import assert_method_conforms
from b2bgateway_mercadopago import hooks

DUE = datetime(2024, 5, 23, 16, 15, tzinfo=UTC)
VOUCHER_URL = (
    "https://www.mercadopago.com.mx/payments/1319876721/ticket"
    "?caller_id=1987654321&hash=2f1e4c2a-7c55-4f4e-9b7a-3d2c1b0a9f8e"
)


def cash_request(**overrides: Any) -> Any:
    return charge_request(token=None, payment_method="cash", expires_at=DUE, **overrides)


def test_an_oxxo_voucher(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    result = processor.charge(cash_request(browser_details={}), settings)

    assert result.outcome is Outcome.PENDING
    assert result.processor_reference == "1319876721"
    action = result.next_action
    assert action is not None
    assert action.type == "display_cash_voucher"
    voucher = action.cash_voucher
    assert voucher is not None
    assert voucher.reference == "98000012345678"
    assert voucher.amount == Money("1234.56", "MXN")
    assert voucher.voucher_url == VOUCHER_URL
    assert voucher.expires_at == DUE
    assert result.expires_at == DUE
    assert result.method_details is not None
    assert result.method_details.type == "cash"
    body = json.loads(sent[0].body)
    assert body["payment_method_id"] == "oxxo"
    assert body["date_of_expiration"] == "2024-05-23T16:15:00.000+00:00"
    assert "token" not in body


def test_paycash_when_the_portal_chose_it(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.charge(
        cash_request(browser_details={"payment_method_id": "paycash"}), settings
    )

    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "display_cash_voucher"


def test_a_cash_method_mercado_pago_mexico_has_not_is_not_sent(
    processor: Processor, settings: Any, sent: list[Sent]
) -> None:
    request = cash_request(browser_details={"payment_method_id": "rapipago"})
    result = processor.charge(request, settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "invalid_payment_method"
    assert sent == []


def test_cash_conforms(settings: Any, cassette: Cassette) -> None:
    result = assert_method_conforms("mercadopago", hooks, settings, "cash")

    assert result.expires_at == datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=3)


def test_the_paid_voucher_reports_cash_for_the_cfdi(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(notification("1319876721"), settings)

    assert event.outcome is Outcome.SUCCEEDED
    assert event.method_details is not None
    assert event.method_details.type == "cash"
    assert event.method_details.paid_at == datetime(2024, 5, 22, 18, 40, tzinfo=UTC)
