""" "Mis pagos", "Comprobante de pago" (page and PDF) and the supplier's identity on the customer
page (issue 21 items 5 and 8)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from b2bgateway import service
from b2bgateway.gateway import Gateway
from b2bgateway.portal_settings import PortalSettings
from b2bgateway.settings import Settings
from tests.support.web import SandboxOutbox, new_link, with_merchant
from tests.test_portal import approve_on_sandbox, deliver, page_of, pay_two_invoices

SUPPLIER = {
    "display_name": "Distribuidora del Centro",
    "legal_name": "Distribuidora del Centro SA de CV",
    "rfc": "DCE010203AB1",
    "phone": "+52 55 1234 5678",
    "email": "cobranza@distribuidora.example",
    "logo_url": "https://cdn.distribuidora.example/logo.png",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    result: Settings = with_merchant(settings, "acme", portal=SUPPLIER)
    return result


@pytest.fixture(autouse=True)
def webhooks(sandbox_outbox: SandboxOutbox) -> Any:
    return sandbox_outbox.sent


@pytest.fixture
def link(client: Any, demo: None) -> str:
    return new_link(client)


def _paid(client: Any, link: str, webhooks: Any) -> str:
    """A approved payment of A-1001 and A-1002 by card; its id."""
    location, payment = pay_two_invoices(client, link)
    approve_on_sandbox(client, location)
    deliver(client, webhooks)
    return payment.id


def test_the_supplier_is_named_in_the_header(client: Any, link: str) -> None:
    response = client.get(link)
    page = page_of(response)
    supplier = page.root.one("p", class_="supplier")
    assert supplier.text == "Distribuidora del Centro"
    assert supplier.one("img").attrs["src"] == SUPPLIER["logo_url"]
    assert "https://cdn.distribuidora.example" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rfc", "XYZ"),
        ("email", "no-es-correo"),
        ("phone", "llámame"),
        ("logo_url", "http://insecure.example/logo.png"),
        ("logo_url", "javascript:alert(1)"),
        ("display_name", ""),
    ],
)
def test_bad_supplier_settings_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        PortalSettings(**{field: value})


def test_my_payments_lists_every_payment(
    client: Any, link: str, gateway: Gateway, webhooks: Any
) -> None:
    paid = _paid(client, link, webhooks)
    # A second one, pending (a cash voucher is not offered: a card on the hosted page).
    home = page_of(client.get(link))
    action, fields = home.form_of("Pagar las facturas marcadas")
    data: dict[str, Any] = {k: v for k, v in fields if k != "factura"}
    data.update(factura=["F-1003"], vivo="1", accion="pagar")
    assert client.post(action, data=data).status_code == 303
    page = page_of(client.get(f"{link}/mis-pagos"))
    assert page.root.one("h1").text == "Mis pagos"
    rows = [tr for tr in page.root.all("tr") if tr.all("td")]
    assert len(rows) == 2
    newest, oldest = ([td.text for td in row.all("td")] for row in rows)
    assert newest[1:5] == ["A-1003", "Tarjeta", "$980.00", "Pago pendiente"]
    assert oldest[1:5] == ["A-1001, A-1002", "Tarjeta", "$4,230.50", "Pago aprobado"]
    links = {a.text: a.attrs["href"] for a in rows[1].all("a")}
    assert any(text.startswith("Comprobante") for text in links)
    assert not [a for a in rows[0].all("a") if a.text.startswith("Comprobante")]
    assert any(href.endswith(f"/pagos/{paid}/comprobante") for href in links.values())
    # The header links to it from every page.
    assert "Mis pagos" in [a.text for a in page_of(client.get(link)).root.all("a")]


def test_another_customers_payments_are_not_listed(client: Any, link: str, webhooks: Any) -> None:
    _paid(client, link, webhooks)
    other = page_of(client.get(f"{new_link(client, 'C-2')}/mis-pagos"))
    assert "Todavía no tienes pagos en línea." in other.text


def test_the_receipt_page(client: Any, link: str, webhooks: Any) -> None:
    paid = _paid(client, link, webhooks)
    page = page_of(client.get(f"{link}/pagos/{paid}/comprobante"))
    assert page.root.one("h1").text == "Comprobante de pago"
    text = page.text
    for expected in (
        "Distribuidora del Centro SA de CV",
        "RFC: DCE010203AB1",
        "Teléfono: +52 55 1234 5678",
        "Correo: cobranza@distribuidora.example",
        "Ferretería La Esperanza",
        "Cliente C-1",
        "$4,230.50",
        "A-1001 $3,480.00",
        "A-1002 $750.50",
        "VISA terminación 4242 (crédito)",
        paid,
    ):
        assert expected in text, expected
    assert "Autorización" in text
    assert "Descargar PDF" in [a.text for a in page.root.all("a")]


def test_the_receipt_as_pdf(client: Any, link: str, webhooks: Any) -> None:
    paid = _paid(client, link, webhooks)
    response = client.get(f"{link}/pagos/{paid}/comprobante.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="comprobante-{paid}.pdf"'
    )
    reader = PdfReader(io.BytesIO(response.data))
    text = " ".join((p.extract_text() or "") for p in reader.pages)
    text = " ".join(text.split())
    for expected in (
        "Comprobante de pago",
        "Distribuidora del Centro",
        "RFC: DCE010203AB1",
        "Ferretería La Esperanza",
        "$4,230.50",
        "A-1001",
        "$3,480.00",
        "A-1002",
        "$750.50",
        "terminación 4242",
        "Autorización",
        paid,
    ):
        assert expected in text, (expected, text)


def test_no_receipt_before_the_payment_is_approved(client: Any, link: str) -> None:
    _, payment = pay_two_invoices(client, link)
    for suffix in ("comprobante", "comprobante.pdf"):
        response = client.get(f"{link}/pagos/{payment.id}/{suffix}")
        assert response.status_code == 404
        assert page_of(response).root.one("h1").text == "Sin comprobante"


def test_a_receipt_names_a_debit_card(client: Any, link: str, gateway: Gateway) -> None:
    payment = service.checkout(
        gateway,
        gateway.merchants["acme"],
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key="debit-1",
            invoice_ids=["F-1001"],
            token="tok_debit",
        ),
    )
    assert payment.status == "succeeded"
    page = page_of(client.get(f"{link}/pagos/{payment.id}/comprobante"))
    assert "VISA terminación 5556 (débito)" in page.text
    assert "A-1001 $3,480.00" in page.text
