"""Payments in progress on the customer page (issue 21 items 2 to 4): an abandoned payment is
"Pago pendiente" with "Continuar con el pago" and "Cancelar"; back from the processor's page the
gateway asks the processor before it renders ("Confirmando tu pago…" while it cannot tell); a
paid invoice reads "Pagado, por aplicar" until the supplier applies it.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from b2bgateway import payment_actions
from b2bgateway.gateway import Gateway
from b2bgateway.payment_actions import Canceled, ask_processor, cancel_payment
from b2bgateway.settings import Settings
from b2bgateway_web.portal import payments as portal_payments
from tests.support.web import SandboxOutbox, new_link, with_merchant
from tests.test_portal import (
    Page,
    approve_on_sandbox,
    deliver,
    local,
    page_of,
    pay_two_invoices,
    payments,
    submit,
)


@pytest.fixture(autouse=True)
def webhooks(sandbox_outbox: SandboxOutbox) -> Any:
    return sandbox_outbox.sent


@pytest.fixture
def link(client: Any, demo: None) -> str:
    return new_link(client)


def _links(page: Page) -> dict[str, str]:
    return {a.text: a.attrs["href"] for a in page.root.all("a")}


def test_an_abandoned_payment_can_be_continued_or_canceled(
    client: Any, link: str, store: Any, gateway: Gateway
) -> None:
    location, _payment = pay_two_invoices(client, link)  # then the customer walks away
    home = page_of(client.get(link))
    assert "Pagos pendientes" in home.text
    assert "Pago pendiente de $4,230.50 · Facturas A-1001, A-1002" in home.text
    for folio in ("A-1001", "A-1002"):
        box = home.checkbox(f"Factura {folio}")
        assert home.root.one(id=box.attrs["aria-describedby"]).text.startswith("Pago pendiente")
    assert "Ya tiene un pago registrado" not in home.text

    # "Continuar con el pago": the payment's page, which goes back to the processor's page.
    status = page_of(client.get(_links(home)["Continuar con el pago"]))
    assert "Pago pendiente" in status.text
    assert _links(status)["Continuar con el pago"] == location
    assert "Cancelar el pago" in status.buttons()
    assert "refresh" not in status.html  # nothing to wait for: the customer decides

    # "Cancelar": at the processor and here; the invoices are free at once.
    response = submit(client, home, "Cancelar el pago de $4,230.50")
    assert response.status_code == 303
    done = page_of(client.get(local(response.headers["Location"])))
    assert "Pago cancelado" in done.text
    assert "Cancelaste el pago. Tus facturas quedaron libres para pagarlas." in done.text
    assert [p.status for p in payments(store)] == ["canceled"]
    again = page_of(client.get(link))
    assert "Pagos pendientes" not in again.text
    assert "disabled" not in again.checkbox("Seleccionar factura A-1001").attrs
    # The processor's page no longer takes it.
    sandbox = page_of(client.get(local(location)))
    assert "Pagar" not in sandbox.buttons()


def test_a_payment_paid_meanwhile_is_not_canceled(
    client: Any, link: str, store: Any, webhooks: Any
) -> None:
    location, payment = pay_two_invoices(client, link)
    status = page_of(client.get(f"{link}/pagos/{payment.id}"))
    approve_on_sandbox(client, location)  # in another tab; its webhook has not arrived yet
    webhooks.clear()
    response = submit(client, status, "Cancelar el pago")
    done = page_of(client.get(local(response.headers["Location"])))
    assert "Este pago ya se había completado: no se canceló." in done.text
    assert "Pago aprobado" in done.text
    assert [p.status for p in payments(store)] == ["succeeded"]


@pytest.fixture
def cannot_cancel(settings: Settings) -> Settings:
    result: Settings = with_merchant(
        settings, "acme", processors={"sandbox": {"can_cancel": False}}
    )
    return result


def test_a_processor_that_cannot_cancel_says_so(
    cannot_cancel: Settings, plugins: Any, store: Any, demo: None
) -> None:
    from b2bgateway_web import create_app

    client = create_app(gateway=Gateway.build(cannot_cancel, plugins, store)).test_client()
    link = new_link(client)
    _, payment = pay_two_invoices(client, link)
    status = page_of(client.get(f"{link}/pagos/{payment.id}"))
    done = page_of(
        client.get(local(submit(client, status, "Cancelar el pago").headers["Location"]))
    )
    assert "El procesador no permite cancelar este pago" in done.text
    assert [p.status for p in payments(store)] == ["requires_action"]


def test_cancel_is_only_for_the_customers_own_open_payment_with_the_pages_form(
    client: Any, link: str, store: Any
) -> None:
    _, payment = pay_two_invoices(client, link)
    other = new_link(client, "C-2")
    home = page_of(client.get(other))
    nonce = home.root.all("input", name="nonce")[0].attrs["value"]
    response = client.post(f"{other}/pagos/{payment.id}/cancelar", data={"nonce": nonce})
    assert response.status_code == 404
    response = client.post(f"{link}/pagos/{payment.id}/cancelar", data={"nonce": "forged"})
    assert response.status_code == 400
    assert [p.status for p in payments(store)] == ["requires_action"]


def test_back_from_the_processor_the_page_confirms_then_offers_continue(
    client: Any, link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    location, payment = pay_two_invoices(client, link)
    # The processor cannot be asked just now, and its webhook has not arrived.
    monkeypatch.setattr(portal_payments, "ask_processor", lambda gw, payment_id: None)
    back = client.get(f"{link}/pagos?payment_id={payment.id}")
    status_url = local(back.headers["Location"])
    assert "vuelta" in parse_qs(urlsplit(status_url).query)
    page = page_of(client.get(status_url))
    assert "Confirmando tu pago…" in page.text
    assert "Continuar con el pago" not in page.text and page.buttons() == {}
    assert 'http-equiv="refresh" content="3"' in page.html  # without JavaScript
    (section,) = [n for n in page.root.all("section") if "data-poll" in n.attrs]
    assert section.attrs.get("data-confirming") == "1"
    # A little later it is a pending payment again, with its choices.
    later = time.time() + portal_payments.CONFIRMING_FOR + 1
    monkeypatch.setattr(portal_payments.time, "time", lambda: later)
    page = page_of(client.get(status_url))
    assert "Confirmando tu pago…" not in page.text
    assert _links(page)["Continuar con el pago"] == location
    assert "Cancelar el pago" in page.buttons()


def test_a_canceled_payment_on_the_hosted_page_reads_canceled_on_return(
    client: Any, link: str, store: Any
) -> None:
    location, _payment = pay_two_invoices(client, link)
    back = approve_on_sandbox(client, location, action="cancel")  # its webhook not delivered
    page = page_of(client.get(local(client.get(local(back)).headers["Location"])))
    assert "Pago cancelado" in page.text
    assert [p.status for p in payments(store)] == ["canceled"]


def test_paid_and_waiting_to_be_applied_per_invoice_and_in_the_cards(
    client: Any, link: str, webhooks: Any
) -> None:
    home = page_of(client.get(link))
    response = submit(client, home, "Pagar vencido: $4,230.50")
    approve_on_sandbox(client, response.headers["Location"])
    deliver(client, webhooks)
    after = page_of(client.get(link))
    assert after.balance("Saldo vencido") == "$4,850.50"  # the ERP has not applied it yet
    assert after.balance("Pagado, por aplicar") == "$4,230.50"
    assert "Pagado, por aplicar: $3,480.00" in after.row("A-1001").text
    assert "Pagado, por aplicar: $750.50" in after.row("A-1002").text
    assert "Ver el pago de la factura A-1001" in after.row("A-1001").text
    cards = after.root.all("div", class_="balance balance-por_vencer")
    assert cards and "Pagado, por aplicar" not in cards[0].text  # nothing of it is upcoming


# -- the core functions, without the page --------------------------------------------------------


def test_ask_processor_applies_the_processors_answer(
    client: Any, link: str, gateway: Gateway, store: Any
) -> None:
    location, payment = pay_two_invoices(client, link)
    ask_processor(gateway, payment.id)
    assert [p.status for p in payments(store)] == ["requires_action"]
    approve_on_sandbox(client, location)
    ask_processor(gateway, payment.id)
    assert [p.status for p in payments(store)] == ["succeeded"]
    ask_processor(gateway, payment.id)  # final: the processor is not asked again
    ask_processor(gateway, "pay_unknown")
    assert cancel_payment(gateway, payment.id) is Canceled.NOT_OPEN
    assert cancel_payment(gateway, "pay_unknown") is Canceled.NOT_OPEN


def test_cancel_reports_a_processor_that_cannot_be_reached(
    client: Any, link: str, gateway: Gateway, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from b2bgateway.errors import ProcessorUnavailable
    from b2bgateway.plugins import Processor

    _, payment = pay_two_invoices(client, link)

    def down(self: Any, request: Any, settings: Any) -> Any:
        raise ProcessorUnavailable("timeout")

    monkeypatch.setattr(Processor, "cancel", down)
    assert payment_actions.cancel_payment(gateway, payment.id) is Canceled.UNAVAILABLE
    assert [p.status for p in payments(store)] == ["requires_action"]
