"""Requests and notifications as the core builds them, for the tests."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from conftest import WEBHOOK_PASSWORD, WEBHOOK_USER

from b2bgateway import (
    ChargeRequest,
    CustomerRef,
    Money,
    RefundRequest,
    RetrieveRequest,
    WebhookRequest,
)
from b2bgateway_openpay.client import dumps

PAYMENT_ID = "pay_6f2c1a9e0b7d4c3a8e5f1b2d"
TOKEN = "kqgykn96i7bcs1wwhvgw"  # the token of Openpay's documentation examples
DEVICE_SESSION_ID = "kR1MiQhz2otdIuUlQkbEyitIqVMiI16f"
CHARGE_ID = "trzjaozcik8msyqshka4"
RETURN_URL = "https://portal.example/pagos/retorno"


def charge_request(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "payment_id": PAYMENT_ID,
        "merchant_id": "acme",
        "amount": Money(Decimal("1500.50"), "MXN"),
        "customer": CustomerRef("C-1", "Ferreteria del Norte", "compras@ferreteria.example"),
        "description": "Pedido PED-77",
        "idempotency_key": f"{PAYMENT_ID}:charge",
        "token": TOKEN,
        "return_url": RETURN_URL,
        "metadata": {"payment_id": PAYMENT_ID},
        "device_session_id": DEVICE_SESSION_ID,
    }
    values.update(overrides)
    return ChargeRequest(**values)


def retrieve_request(reference: str | None = CHARGE_ID) -> RetrieveRequest:
    return RetrieveRequest(PAYMENT_ID, "acme", processor_reference=reference)


def refund_request(
    amount: str = "400.00", *, full: bool = False, **overrides: Any
) -> RefundRequest:
    values: dict[str, Any] = {
        "refund_id": "re_1c2d3e4f5a6b7c8d9e0f1a2b",
        "payment_id": PAYMENT_ID,
        "merchant_id": "acme",
        "processor_reference": CHARGE_ID,
        "amount": Money(amount, "MXN"),
        "idempotency_key": "re_1c2d3e4f5a6b7c8d9e0f1a2b:refund",
        "full": full,
        "reason": "Devolucion de mercancia",
    }
    values.update(overrides)
    return RefundRequest(**values)


def basic(user: str = WEBHOOK_USER, password: str = WEBHOOK_PASSWORD) -> str:
    """The ``Authorization`` header Openpay sends for a webhook registered with credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def notification(payload: dict[str, Any], authorization: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    headers["authorization"] = basic() if authorization is None else authorization
    return WebhookRequest("acme", dumps(payload).encode(), headers)


def charge_notification(event_type: str, status: str, **transaction: Any) -> dict[str, Any]:
    """A body as in Openpay's webhook documentation (trimmed)."""
    return {
        "type": event_type,
        "event_date": "2024-01-10T12:00:05-06:00",
        "transaction": {
            "id": CHARGE_ID,
            "amount": Decimal("1500.50"),
            "authorization": "801585",
            "method": "card",
            "operation_type": "in",
            "transaction_type": "charge",
            "status": status,
            "currency": "MXN",
            "order_id": PAYMENT_ID,
            "description": "Pedido PED-77",
            "error_message": None,
            "customer_id": None,
            **transaction,
        },
    }
