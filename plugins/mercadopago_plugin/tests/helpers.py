"""Requests the core would send, for the tests (values match the hand-written cassettes)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from requests.structures import CaseInsensitiveDict

from b2bgateway import ChargeRequest, CustomerRef, Money, RefundRequest, RetrieveRequest

ACCESS_TOKEN = os.environ.get(
    "MERCADOPAGO_TEST_ACCESS_TOKEN", "TEST-1234567890123456-010112-0123456789abcdef-123456789"
)
WEBHOOK_SECRET = "whsec_mp_test_0123456789"
PAYMENT_ID = "pay_01J8Z6"
TOKEN = "ff8080814c11e237014c1ff593b57b4d"
EMAIL = "compras@ferreteria.example"
WEBHOOK_URL = "https://pagos.example.com/v1/webhooks/acme/mercadopago"
RETURN_URL = "https://portal.example.com/pagos/pay_01J8Z6"


def charge_request(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "payment_id": PAYMENT_ID,
        "merchant_id": "acme",
        "amount": Money("1234.56", "MXN"),
        "customer": CustomerRef("C-001", "Ferretería del Norte", EMAIL),
        "description": "Pedido PED-77",
        "idempotency_key": f"{PAYMENT_ID}:charge",
        "token": TOKEN,
        "return_url": RETURN_URL,
        "gateway_url": "https://pagos.example.com",
        "webhook_url": WEBHOOK_URL,
        "metadata": {"payment_id": PAYMENT_ID, "customer_id": "C-001"},
        "browser_details": {"payment_method_id": "visa"},
    }
    values.update(overrides)
    return ChargeRequest(**values)


def retrieve_request(reference: str | None = None) -> RetrieveRequest:
    return RetrieveRequest(
        payment_id=PAYMENT_ID,
        merchant_id="acme",
        processor_reference=reference,
        amount=Money("1234.56", "MXN"),
    )


def refund_request(
    amount: str = "1234.56",
    *,
    full: bool = True,
    reference: str = "",
    requested_at: datetime | None = None,
) -> RefundRequest:
    return RefundRequest(
        refund_id="re_01J8Z9",
        payment_id=PAYMENT_ID,
        merchant_id="acme",
        processor_reference=reference,
        amount=Money(amount, "MXN"),
        idempotency_key="re_01J8Z9:refund",
        full=full,
        requested_at=requested_at,
    )


def settings_table(**overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "public_key": "TEST-0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "webhook_secret": WEBHOOK_SECRET,
    }
    return {**table, **overrides}


@dataclass
class Sent:
    """One request as the plugin handed it to the SDK's transport."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: str | None
