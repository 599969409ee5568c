"""What the web tests share: the merchant's Authorization header, portal links, and a recorder
of what the sandbox "sends" (its webhooks and its pages' background deliveries).

Fixtures built on these live in ``tests/conftest.py`` (``demo``, ``sandbox_outbox``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from b2bgateway.sandbox import delivery, hooks

API_KEY = "sk_test_merchant_a"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def new_link(client: Any, customer_id: str = "C-1", **body: Any) -> str:
    """A portal session's URL path (``/portal/<token>``, or ``/portal/<token>/pedido`` with an
    ``order``), made through the API."""
    response = client.post(
        "/v1/portal-sessions", json={"customer_id": customer_id, **body}, headers=AUTH
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return urlsplit(response.json["url"]).path


def order_link(
    client: Any, amount: str, reference: str = "PED-77", customer_id: str = "C-1", **body: Any
) -> str:
    """The path of a portal session for an order signed into it (``/portal/<token>/pedido``)."""
    order = {"reference": reference, "amount": amount, "currency": "MXN"}
    path = new_link(client, customer_id, order=order, **body)
    assert path.endswith("/pedido"), path
    return path


@dataclass
class Sent:
    url: str
    body: bytes
    headers: Mapping[str, str]


@dataclass
class SandboxOutbox:
    """What the sandbox "sent" (webhooks) and which background deliveries were started."""

    sent: list[Sent] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)


def record_sandbox(monkeypatch: pytest.MonkeyPatch) -> SandboxOutbox:
    """Record the sandbox's webhooks instead of POSTing them, and run every background delivery
    (the sandbox's pages and hooks start one) to the end before the caller goes on."""
    from b2bgateway_web.plugins.sandbox import pages

    box = SandboxOutbox()

    def record(url: str, body: bytes, headers: Mapping[str, str]) -> None:
        box.sent.append(Sent(url, body, dict(headers)))

    real = delivery.deliver_in_background

    def deliver_and_join(settings: Any, merchant_id: str, **kwargs: Any) -> Any:
        box.deliveries.append({"merchant_id": merchant_id, **kwargs})
        thread = real(settings, merchant_id, **kwargs)
        thread.join(timeout=10)
        assert not thread.is_alive()
        return thread

    monkeypatch.setattr(delivery, "http_post", record)
    # simulate.py (the pages' "Simular ..." forms, the sandbox commands) calls it through
    # the module; the pages and the hooks imported the name.
    monkeypatch.setattr(delivery, "deliver_in_background", deliver_and_join)
    monkeypatch.setattr(pages, "deliver_in_background", deliver_and_join)
    monkeypatch.setattr(hooks, "deliver_in_background", deliver_and_join)
    return box


def get_payment(client: Any, payment_id: str, auth: dict[str, str] | None = None) -> dict[str, Any]:
    """``GET /v1/payments/{id}`` with the merchant's key (``auth``, default acme's); the JSON."""
    response = client.get(f"/v1/payments/{payment_id}", headers=auth or AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.json)


def deliver_sandbox(client: Any, outbox: SandboxOutbox, webhook_url: str) -> list[str]:
    """POST to the gateway what the sandbox sent (each to ``webhook_url``), in order; the event
    types."""
    import re
    from urllib.parse import urlsplit

    types = []
    while outbox.sent:
        sent = outbox.sent.pop(0)
        assert sent.url == webhook_url
        response = client.post(urlsplit(sent.url).path, data=sent.body, headers=dict(sent.headers))
        assert response.status_code == 200, response.get_data(as_text=True)
        found = re.search(rb'"type":\s*"([a-z_.]+)"', sent.body)
        assert found is not None, sent.body
        types.append(found.group(1).decode())
    return types


def with_merchant(settings: Any, merchant_id: str, **changes: Any) -> Any:
    """``settings`` with some of one merchant's settings changed (nested tables replaced
    whole, except ``processors``, whose tables are merged key by key)."""
    from b2bgateway.settings import Settings

    merchants = settings.model_dump(mode="json")["merchants"]
    for name, merchant in settings.merchants.items():
        merchants[name]["api_keys"] = [key.get_secret_value() for key in merchant.api_keys]
    for key, value in changes.items():
        if key == "processors":
            for processor, table in value.items():
                merchants[merchant_id]["processors"].setdefault(processor, {}).update(table)
        else:
            merchants[merchant_id][key] = value
    dumped = settings.model_dump(mode="json", exclude={"merchants"})
    return Settings(**{**dumped, "merchants": merchants})
