"""The sandbox's pages for SPEI transfers and cash vouchers, its voucher routes, and the card
pages' retry, end to end: a checkout through the API, the sandbox page (the customer's bank or
the store, simulated), the webhook the sandbox sends, and the gateway's payment after it.

The sandbox's webhooks are recorded (``sandbox_outbox``) and then POSTed to the gateway's webhook
endpoint by :func:`deliver`, as the sandbox does over HTTP.
"""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from b2bgateway.gateway import Gateway
from b2bgateway.sandbox import records
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.sandbox.signing import form_token
from b2bgateway.settings import Settings
from tests.conftest import WEBHOOK_SECRET
from tests.support.seeding import seed_customer
from tests.support.web import API_KEY, AUTH, SandboxOutbox, deliver_sandbox, get_payment

PUBLIC_URL = "http://127.0.0.1:8000"  # the settings' default public_url
TODAY = date.today()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """acme offers every method and MSI, like ``make run``'s demo merchant."""
    return Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "sandbox",
                "invoice_payments": True,
                "payment_methods": ["card", "bank_transfer", "cash"],
                "installments": [3, 6, 9, 12],
                "processors": {
                    "sandbox": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "sandbox-ledger.db"),
                    }
                },
            },
            "globex": {"api_keys": ["sk_test_merchant_b"], "processor": ""},
        },
    )


@pytest.fixture
def invoices(gateway: Gateway) -> None:
    """C-1 owes F-1 (1,000.00) and F-2 (234.50): 1,234.50 together."""
    seed_customer(gateway.store, "acme", (("F-1", "1000.00"), ("F-2", "234.50")), name="Cliente 1")


@pytest.fixture
def outbox(sandbox_outbox: SandboxOutbox) -> SandboxOutbox:
    return sandbox_outbox


def payment(client: Any, payment_id: str) -> dict[str, Any]:
    return get_payment(client, payment_id)


def deliver(client: Any, outbox: SandboxOutbox) -> list[str]:
    return deliver_sandbox(client, outbox, f"{PUBLIC_URL}/v1/webhooks/acme/sandbox")


# -- helpers ---------------------------------------------------------------------------------------


class Page(HTMLParser):
    """What the tests read of a sandbox page: forms with their fields, buttons, images, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.buttons: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.chunks: list[str] = []
        self._in_button = False
        self.feed(html)
        self.close()
        self.text = " ".join(" ".join(self.chunks).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action"), "fields": {}})
        elif tag == "input" and self.forms:
            self.forms[-1]["fields"][attributes.get("name")] = attributes.get("value") or ""
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")
        elif tag == "img":
            self.images.append(attributes)
        elif tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        if self._in_button:
            self.buttons[-1] = (self.buttons[-1] + data).strip()


def local(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def checkout(client: Any, method: dict[str, Any], key: str = "k1") -> dict[str, Any]:
    body = {
        "customer_id": "C-1",
        "purpose": "invoices",
        "invoice_ids": ["F-1", "F-2"],
        "payment_method": method,
        "return_url": "https://portal.example/return",
    }
    response = client.post("/v1/checkouts", json=body, headers={**AUTH, "Idempotency-Key": key})
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.json)


def page_path(body: dict[str, Any]) -> str:
    """The sandbox page of a checkout's charge."""
    charge_id = body["processor_reference"]
    assert charge_id.startswith("sbx_ch_")
    return f"/sandbox/acme/charges/{charge_id}"


def simulate(client: Any, path: str, **fields: str) -> Any:
    """Submit the page's "Simular ..." form (its hidden token included)."""
    page = Page(client.get(path).get_data(as_text=True))
    [form] = [f for f in page.forms if f["action"] and f["action"].endswith("/pay")]
    return client.post(form["action"], data={**form["fields"], **fields})


def reasons(client: Any) -> list[list[str]]:
    body = {"customer_id": "C-1", "invoice_ids": ["F-1", "F-2"]}
    response = client.post("/v1/payability/invoices", json=body, headers=AUTH)
    assert response.status_code == 200
    return [line["reasons"] for line in response.json["invoices"]]


# -- SPEI ----------------------------------------------------------------------------------------


def test_transfer_page_shows_the_instructions_and_the_form(
    client: Any, invoices: None, gateway: Gateway
) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    instructions = body["next_action"]
    assert instructions["type"] == "display_bank_transfer_instructions"
    response = client.get(page_path(body))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = Page(response.get_data(as_text=True))
    for label, value in [
        ("CLABE", instructions["clabe"]),
        ("Banco", "STP"),
        ("Beneficiario", "Sandbox B2B SA de CV"),
        ("Referencia", instructions["reference"]),
        ("Importe", "$1,234.50 MXN"),
        ("Recibido", "$0.00 MXN"),
        ("Por recibir", "$1,234.50 MXN"),
    ]:
        assert f"{label} {value}" in page.text
    assert "Vigencia" in page.text
    assert page.buttons == ["Simular transferencia"]
    [form] = page.forms
    assert form["fields"]["importe"] == "1234.50"  # what is still owed
    assert set(form["fields"]) == {"token", "importe"}


def test_a_short_transfer_then_the_rest(client: Any, invoices: None, outbox: SandboxOutbox) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    path = page_path(body)

    response = simulate(client, path, importe="1,000.00")
    assert response.status_code == 303
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {
        "aviso": ["transferencia_parcial"]
    }
    assert deliver(client, outbox) == ["charge.partially_funded"]
    waiting = payment(client, body["id"])
    assert waiting["status"] == "requires_action"
    assert waiting["received_amount"] == "1000.00"
    page = Page(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "todavía falta una parte" in page.text
    assert "Recibido $1,000.00 MXN" in page.text and "Por recibir $234.50 MXN" in page.text

    done = simulate(client, path)  # the default: what is still owed
    assert done.status_code == 303
    assert deliver(client, outbox) == ["charge.succeeded"]
    paid = payment(client, body["id"])
    assert paid["status"] == "succeeded"
    assert paid["received_amount"] == "1234.50" and paid["flags"] == []
    assert paid["method_details"]["forma_pago"] == "03"
    assert paid["method_details"]["tracking_key"].startswith("SANDBOX")
    page = Page(client.get(path).get_data(as_text=True))
    assert "Pago aprobado" in page.text and page.forms == []
    assert "Recibido $1,234.50 MXN" in page.text


def test_an_excess_transfer_is_flagged_overpaid(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    assert simulate(client, page_path(body), importe="1500.00").status_code == 303
    assert deliver(client, outbox) == ["charge.succeeded"]
    paid = payment(client, body["id"])
    assert paid["status"] == "succeeded"
    assert paid["received_amount"] == "1500.00"
    assert "overpaid" in paid["flags"]


@pytest.mark.parametrize(
    ("typed", "message", "shown"),
    [
        ("mil pesos", "El importe no es válido", "mil pesos"),
        ("10.001", "El importe no es válido", "10.001"),
        ("0", "El importe debe ser mayor que cero.", "1234.50"),
    ],
)
def test_a_bad_amount_shows_the_page_again(
    client: Any, invoices: None, outbox: SandboxOutbox, typed: str, message: str, shown: str
) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    response = simulate(client, page_path(body), importe=typed)
    assert response.status_code == 400
    page = Page(response.get_data(as_text=True))
    assert message in page.text
    assert page.forms[0]["fields"]["importe"] == shown
    assert outbox.sent == []
    assert payment(client, body["id"])["received_amount"] == "0.00"


def test_the_transfer_form_needs_the_page_s_token(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    response = client.post(page_path(body) + "/pay", data={"token": "x", "importe": "10.00"})
    assert response.status_code == 400
    assert outbox.sent == []


def test_an_expired_transfer_says_so_and_takes_no_money(
    client: Any, invoices: None, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    path = page_path(body)
    token = form_token(SecretStr(WEBHOOK_SECRET), "acme", body["processor_reference"])
    later = records.now() + timedelta(hours=73)
    monkeypatch.setattr(records, "now", lambda: later)
    page = Page(client.get(path).get_data(as_text=True))
    assert "Vencido" in page.text and page.forms == []
    response = client.post(path + "/pay", data={"token": token})
    assert response.status_code == 409
    assert "La referencia venció" in response.get_data(as_text=True)


# -- cash ----------------------------------------------------------------------------------------


def test_cash_voucher_page_then_paid_at_the_store(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "cash"})
    voucher = body["next_action"]
    path = page_path(body)
    page = Page(client.get(path).get_data(as_text=True))
    assert f"Referencia {voucher['reference']}" in page.text
    assert "Importe $1,234.50 MXN" in page.text and "Vigencia" in page.text
    assert page.buttons == ["Simular pago en tienda"]
    [image] = page.images
    assert image["src"] == local(voucher["barcode_url"])
    assert local(voucher["voucher_url"]) in page.links

    response = simulate(client, path)
    assert response.status_code == 303
    assert "aviso=pagado" in response.headers["Location"]
    assert deliver(client, outbox) == ["charge.succeeded"]
    paid = payment(client, body["id"])
    assert paid["status"] == "succeeded" and paid["received_amount"] == "1234.50"
    assert paid["method_details"]["forma_pago"] == "01"
    page = Page(client.get(path).get_data(as_text=True))
    assert "Pago aprobado" in page.text and page.buttons == []


def test_voucher_routes(client: Any, invoices: None, gateway: Gateway) -> None:
    body = checkout(client, {"type": "cash"})
    voucher = body["next_action"]
    charge_id = body["processor_reference"]
    # The URLs the sandbox gives are these routes, on the gateway's public_url.
    assert voucher["voucher_url"] == f"{PUBLIC_URL}/sandbox/vouchers/{charge_id}"
    assert voucher["barcode_url"] == f"{PUBLIC_URL}/sandbox/vouchers/{charge_id}/barcode"

    printable = client.get(local(voucher["voucher_url"]))
    assert printable.status_code == 200 and printable.mimetype == "text/html"
    page = Page(printable.get_data(as_text=True))
    assert "Ficha de pago en efectivo" in page.text
    assert f"Referencia {voucher['reference']}" in page.text
    assert "Importe $1,234.50 MXN" in page.text
    assert page.forms == []  # the customer's voucher: nothing to press
    assert [i["src"] for i in page.images] == [local(voucher["barcode_url"])]

    barcode = client.get(local(voucher["barcode_url"]))
    assert barcode.status_code == 200
    assert barcode.mimetype == "image/svg+xml"
    svg = barcode.get_data(as_text=True)
    assert svg.startswith("<svg") and voucher["reference"] in svg


def test_voucher_routes_404(client: Any, invoices: None, outbox: SandboxOutbox) -> None:
    transfer = checkout(client, {"type": "bank_transfer"})["processor_reference"]
    for charge_id in ("sbx_ch_000000000000000000000000", "nonsense", transfer):
        assert client.get(f"/sandbox/vouchers/{charge_id}").status_code == 404
        assert client.get(f"/sandbox/vouchers/{charge_id}/barcode").status_code == 404


def test_a_voucher_of_a_merchant_no_longer_configured_is_404(
    client: Any, invoices: None, gateway: Gateway
) -> None:
    body = checkout(client, {"type": "cash"})
    ledger = open_ledger(gateway.merchants["acme"].settings_for("sandbox"))  # type: ignore[arg-type]
    with records.transaction(ledger.path) as conn:
        conn.execute("UPDATE charges SET merchant_id = 'gone'")
    assert client.get(f"/sandbox/vouchers/{body['processor_reference']}").status_code == 404


def test_a_paid_voucher_shows_its_state(
    client: Any, invoices: None, gateway: Gateway, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "cash"})
    simulate(client, page_path(body))
    page = Page(client.get(f"/sandbox/vouchers/{body['processor_reference']}").get_data(True))
    assert "Pago aprobado" in page.text and page.images == []


# -- cards ---------------------------------------------------------------------------------------


def test_declined_then_approved_on_the_hosted_page_is_one_payment(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "card"})
    assert body["next_action"]["type"] == "redirect"
    path = local(body["next_action"]["url"])
    page = Page(client.get(path).get_data(as_text=True))
    assert page.buttons == ["Pagar", "Rechazar tarjeta", "Cancelar"]
    token = page.forms[0]["fields"]["token"]

    declined = client.post(path, data={"token": token, "action": "decline"})
    assert declined.status_code == 303
    assert deliver(client, outbox) == ["charge.attempt_failed"]
    assert payment(client, body["id"])["status"] == "requires_action"  # not final
    again = Page(client.get(declined.headers["Location"]).get_data(as_text=True))
    assert "La tarjeta fue rechazada. Puedes intentar con otra." in again.text
    assert again.buttons == ["Pagar", "Rechazar tarjeta", "Cancelar"]

    approved = client.post(path, data={"token": token, "action": "approve"})
    assert approved.status_code == 303
    assert approved.headers["Location"].startswith("https://portal.example/return?")
    assert deliver(client, outbox) == ["charge.succeeded"]
    paid = payment(client, body["id"])
    assert paid["status"] == "succeeded" and paid["method_details"]["forma_pago"] == "04"
    listed = client.get("/v1/payments", headers=AUTH).json["data"]
    assert [p["id"] for p in listed] == [body["id"]]
    attempts = client.get(f"/v1/payments/{body['id']}/attempts", headers=AUTH).json["data"]
    # The charge itself (pending on the hosted page), then the two cards tried on it.
    assert [a["outcome"] for a in attempts] == ["pending", "failed", "succeeded"]
    assert attempts[1]["failure"]["code"] == "card_declined"


def test_the_hosted_page_shows_msi(client: Any, invoices: None) -> None:
    body = checkout(client, {"type": "card", "installments": 3})
    page = Page(client.get(local(body["next_action"]["url"])).get_data(as_text=True))
    assert "En 3 meses sin intereses" in page.text
    assert reasons(client) == [["payment_registered"], ["payment_registered"]]
