"""Smaller defects of the customer page's words (issue 21 item 9)."""

from __future__ import annotations

from typing import Any

import pytest

from b2bgateway_web import tokens
from tests.support.web import SandboxOutbox, new_link, order_link
from tests.test_portal import approve_on_sandbox, deliver, local, page_of, submit


@pytest.fixture(autouse=True)
def webhooks(sandbox_outbox: SandboxOutbox) -> Any:
    return sandbox_outbox.sent


def test_a_paid_order_speaks_of_the_order_not_of_invoices(
    client: Any, demo: None, webhooks: Any
) -> None:
    page = page_of(client.get(order_link(client, "15000.00")))
    location = submit(client, page, "Pagar pedido: $15,000.00").headers["Location"]
    back = approve_on_sandbox(client, location)
    deliver(client, webhooks)
    done = page_of(client.get(local(client.get(local(back)).headers["Location"])))
    assert "Pago aprobado" in done.text
    assert "tu proveedor ya puede procesar tu pedido" in done.text
    assert "facturas" not in done.text.lower()


def test_no_credit_reads_as_such(client: Any, demo: None) -> None:
    # C-2's credit limit is 0.00: every order is payable, and the page does not speak of a
    # "limit of $0.00" being exceeded.
    page = page_of(client.get(order_link(client, "50.00", "P-1", "C-2")))
    assert "No tienes crédito" in page.text
    assert "supera tu límite" not in page.text and "$0.00" not in page.text
    assert "Pagar pedido: $50.00" in page.buttons()


def test_an_expired_link_says_where_to_get_a_new_one(
    client: Any, demo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = new_link(client, return_url="https://portal.example/cuenta")
    made = tokens.clock()
    monkeypatch.setattr(tokens, "clock", lambda: made + 31 * 60)
    response = client.get(link)
    assert response.status_code == 410
    page = page_of(response)
    links = {a.text: a.attrs["href"] for a in page.root.all("a")}
    assert links["Obtener un enlace nuevo en el portal"] == "https://portal.example/cuenta"
    # A forged token gets no link: only an authentic one's return URL is trusted.
    forged = page_of(client.get("/portal/not-a-token"))
    assert "Obtener un enlace nuevo en el portal" not in forged.text
