"""The customer payment page (``/portal/<token>``) and ``POST /v1/portal-sessions``, through the
Flask test client, on the demo data (``b2bgateway.demo``) loaded for merchant acme.

Paying goes through the sandbox's hosted page as a browser would: the portal form answers 303 to
the sandbox page, its "Pagar" form (with the hidden token it renders) answers 303 back to the
portal. The sandbox then owes a signed webhook: here its sender records it (nothing leaves the
process) and the test POSTs exactly what was recorded to ``/v1/webhooks/acme/sandbox``, as the
sandbox does over HTTP in production; one test instead loses the webhook and lets reconciliation
(``reconcile(now=+10 min)``) settle the payment, the way the worker would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from b2bgateway import reservation, service
from b2bgateway.demo import DEMO_CUSTOMERS
from b2bgateway.gateway import Gateway
from b2bgateway.money import Money
from b2bgateway.reconcile import reconcile
from b2bgateway.rules import Reason
from b2bgateway.settings import Settings
from b2bgateway.store.models import Customer, Invoice, Payment, utcnow
from b2bgateway_web import tokens as portal_sessions
from b2bgateway_web.portal import texts as portal
from b2bgateway_web.portal import views as portal_views
from tests.conftest import API_KEY, OTHER_API_KEY, WEBHOOK_SECRET
from tests.support.web import AUTH, SandboxOutbox, Sent, new_link, order_link

PUBLIC_URL = "http://127.0.0.1:8000"  # the settings' default public_url
TOKEN = re.compile(r"^[A-Za-z0-9_\-.]+$")

# C-1's demo balances: facturas A-1001 3480.00 (-20 d), A-1002 750.50 (-3 d), A-1003 980.00
# (today), A-1004 5600.00 (+15 d), CXC-1006 620.00 (-10 d, cuentas_por_cobrar: not payable).
TOTAL, OVERDUE, UPCOMING = "$11,430.50", "$4,850.50", "$6,580.00"
PAYABLE_TOTAL, PAYABLE_OVERDUE = "$10,810.50", "$4,230.50"


# -- a small DOM, enough to look at the page the way a person (or a screen reader) does -----------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = None

    @property
    def text(self) -> str:
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.text)
        return " ".join(" ".join(parts).split())

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found: list[Node] = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(
                    child.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items()
                ):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]

    def ancestor(self, tag: str) -> Node:
        node = self.parent
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"no <{tag}> around <{self.tag}>"
        return node


VOID = {"meta", "link", "input", "br", "img", "hr"}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


class Page:
    def __init__(self, html: str) -> None:
        builder = _Builder()
        builder.feed(html)
        builder.close()
        self.html = html
        self.root = builder.root

    @property
    def lang(self) -> str:
        return self.root.one("html").attrs.get("lang", "")

    @property
    def text(self) -> str:
        return self.root.one("body").text

    def buttons(self) -> dict[str, Node]:
        """Buttons by their accessible name (their text)."""
        return {b.text: b for b in self.root.all("button")}

    def checkbox(self, name: str) -> Node:
        """The checkbox whose <label> reads ``name``."""
        labels = [label for label in self.root.all("label") if label.text == name]
        assert len(labels) == 1, f"no label {name!r}: {[x.text for x in self.root.all('label')]}"
        box = self.root.one("input", id=labels[0].attrs["for"])
        assert box.attrs["type"] == "checkbox"
        return box

    def balance(self, label: str) -> str:
        """The <dd> after the first <dt> that reads ``label``."""
        for term in self.root.all("dt"):
            if term.text == label:
                parent = term.parent
                assert parent is not None
                siblings = [c for c in parent.children if isinstance(c, Node)]
                following = siblings[siblings.index(term) + 1]
                assert following.tag == "dd"
                return following.text
        raise AssertionError(f"no balance {label!r}")

    def row(self, folio: str) -> Node:
        rows = [tr for tr in self.root.all("tr") if tr.all("td") and folio in tr.all("td")[0].text]
        assert len(rows) == 1, folio
        return rows[0]

    def form_of(self, button_text: str) -> tuple[str, list[tuple[str, str]]]:
        """What pressing this button submits: the form's action and its fields (checked boxes
        only), the button's own name/value included."""
        button = self.buttons()[button_text]
        form = button.ancestor("form")
        fields = []
        for node in form.all("input"):
            kind = node.attrs.get("type", "text")
            if "disabled" in node.attrs or "name" not in node.attrs:
                continue
            if kind == "checkbox" and "checked" not in node.attrs:
                continue
            fields.append((node.attrs["name"], node.attrs.get("value", "")))
        if "name" in button.attrs:
            fields.append((button.attrs["name"], button.attrs.get("value", "")))
        return form.attrs.get("action", ""), fields


def page_of(response: Any) -> Page:
    assert response.mimetype == "text/html", response.get_data(as_text=True)[:300]
    return Page(response.get_data(as_text=True))


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def webhooks(sandbox_outbox: SandboxOutbox) -> list[Sent]:
    """The sandbox's webhooks, recorded (not POSTed); its background delivery runs to the end
    before the sandbox page answers, so each test sees what was owed."""
    return sandbox_outbox.sent


@pytest.fixture
def link(client: Any, demo: None) -> str:
    return new_link(client)


def local(url: str) -> str:
    """A URL of this gateway (public_url) as a path for the test client."""
    parts = urlsplit(url)
    if parts.scheme:
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def submit(client: Any, page: Page, button: str, **override: Any) -> Any:
    action, fields = page.form_of(button)
    data: dict[str, Any] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    data.update(override)
    return client.post(action, data=data)


def approve_on_sandbox(client: Any, location: str, action: str = "approve") -> str:
    """Press "Pagar" (or "Cancelar") on the sandbox's hosted page; the URL it sends us back to."""
    path = local(location)
    assert path.startswith("/sandbox/acme/charges/"), location
    sandbox = page_of(client.get(path))
    assert sandbox.lang == "es-MX"
    label = {"approve": "Pagar", "cancel": "Cancelar"}[action]
    action_url, fields = sandbox.form_of(label)
    response = client.post(action_url or path, data=dict(fields))
    assert response.status_code == 303, response.get_data(as_text=True)
    return str(response.headers["Location"])


def deliver(client: Any, webhooks: list[Sent]) -> None:
    """POST the recorded webhooks to the gateway, as the sandbox does over HTTP."""
    assert webhooks, "the sandbox owes no webhook"
    while webhooks:
        sent = webhooks.pop(0)
        assert sent.url == f"{PUBLIC_URL}/v1/webhooks/acme/sandbox"
        response = client.post(local(sent.url), data=sent.body, headers=dict(sent.headers))
        assert response.status_code == 200, response.get_data(as_text=True)


def nonce_of(client: Any, path: str) -> str:
    """The signed nonce of the first form on the page at ``path``."""
    return page_of(client.get(path)).root.all("input", name="nonce")[0].attrs["value"]


def payments(store: Any) -> list[Payment]:
    with store.read() as session:
        return list(session.scalars(select(Payment).order_by(Payment.created_at)))


def pay_two_invoices(client: Any, link: str) -> tuple[str, Payment]:
    """Select A-1001 and A-1002 and press the pay button: the sandbox page's URL and the payment."""
    home = page_of(client.get(link))
    action, fields = home.form_of("Pagar las facturas marcadas")
    data: dict[str, Any] = {"factura": ["F-1001", "F-1002"], "vivo": "1"}  # as its script adds
    for name, value in fields:
        if name != "factura":
            data.setdefault(name, value)
    data["accion"] = "pagar"
    response = client.post(action, data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = str(response.headers["Location"])
    assert location.startswith(f"{PUBLIC_URL}/sandbox/acme/charges/sbx_ch_")
    (payment,) = payments(client.application.extensions["b2bgateway"].store)
    return location, payment


def test_a_disputed_payment_is_shown_in_spanish_and_not_waited_for(
    client: Any, link: str, webhooks: list[Sent]
) -> None:
    from b2bgateway.sandbox import simulate

    location, payment = pay_two_invoices(client, link)
    approve_on_sandbox(client, location)
    deliver(client, webhooks)
    settings = client.application.extensions["b2bgateway"].merchants["acme"].processor_settings
    _, thread = simulate.dispute_and_notify(settings, "acme", payment.id, "open")
    thread.join(timeout=10)
    deliver(client, webhooks)  # charge.dispute.created: the payment is disputed

    page = page_of(client.get(f"{link}/pagos/{payment.id}"))
    assert "Pago en aclaración" in page.text
    assert "Tu banco abrió una aclaración sobre este pago." in page.text
    assert "disputed" not in page.text
    assert "refresh" not in page.html  # a bank decides in weeks: the page does not poll
    poll = client.get(f"{link}/pagos/{payment.id}/estado")
    assert poll.json == {"status": "disputed", "final": True}


# -- POST /v1/portal-sessions ----------------------------------------------------------------------


def test_a_session_is_a_signed_link_to_the_page(client: Any, demo: None) -> None:
    before = datetime.now(UTC)
    response = client.post(
        "/v1/portal-sessions",
        json={
            "customer_id": "C-1",
            "return_url": "https://portal.example/cuenta",
            "locale": "es-MX",
        },
        headers=AUTH,
    )
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"url", "expires_at"}
    url = urlsplit(body["url"])
    assert f"{url.scheme}://{url.netloc}" == PUBLIC_URL
    prefix, token = url.path.rsplit("/", 1)
    assert prefix == "/portal" and TOKEN.match(token) and not url.query
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert body["expires_at"].endswith("Z")
    assert timedelta(minutes=29) < expires - before <= timedelta(minutes=30, seconds=2)
    page = page_of(client.get(url.path))  # no API key: the token is the identity
    assert page.lang == "es-MX"
    assert "Ferretería La Esperanza" in page.text
    back = [a for a in page.root.all("a") if a.text == "Volver al portal"]
    assert [a.attrs["href"] for a in back] == ["https://portal.example/cuenta"]


def test_the_token_binds_merchant_and_customer(client: Any, gateway: Gateway, demo: None) -> None:
    token = new_link(client, "C-2", return_url="https://portal.example/x").rsplit("/", 1)[1]
    session = portal_sessions.read_token(gateway, token)
    assert (session.merchant_id, session.customer_id) == ("acme", "C-2")
    assert session.return_url == "https://portal.example/x"
    assert session.locale == "es-MX"
    assert "Abarrotes Don Chuy" in page_of(client.get(f"/portal/{token}")).text


@pytest.mark.parametrize("customer_id", ["C-404", "G-1"])
def test_an_unknown_or_other_merchants_customer_is_a_404(
    client: Any, demo: None, customer_id: str
) -> None:
    other = {"Authorization": f"Bearer {OTHER_API_KEY}"}
    customer = {"name": "Globex", "active": True, "credit_limit": None, "currency": "MXN"}
    assert client.put("/v1/customers/G-1", json=customer, headers=other).status_code == 201
    response = client.post("/v1/portal-sessions", json={"customer_id": customer_id}, headers=AUTH)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "not_found"


def test_a_session_needs_the_api_key(client: Any, demo: None) -> None:
    for headers in ({}, {"Authorization": "Bearer sk_wrong_key_123"}):
        response = client.post("/v1/portal-sessions", json={"customer_id": "C-1"}, headers=headers)
        assert response.status_code == 401
        assert response.json["code"] == "unauthorized"


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": "C-1", "merchant_id": "globex"},
        {"customer_id": "C-1", "locale": "en-US"},
        {"customer_id": "C-1", "return_url": "javascript:alert(1)"},
        {"customer_id": "C 1"},
        {"customer_id": 1},
        {},
    ],
    ids=["unknown-field", "locale", "return-url", "id-with-space", "number", "empty"],
)
def test_a_bad_session_request_is_a_422(client: Any, demo: None, body: dict[str, Any]) -> None:
    response = client.post("/v1/portal-sessions", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"


def test_portal_sessions_are_in_the_openapi_document(client: Any) -> None:
    operation = client.get("/openapi.json").json["paths"]["/v1/portal-sessions"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PortalSessionIn"
    }
    assert set(operation["responses"]) >= {"201", "401", "404", "422"}


# -- the token is the only identity ----------------------------------------------------------------


def _assert_refused(response: Any, status: int, title: str) -> None:
    assert response.status_code == status
    page = page_of(response)  # a page in Spanish, never JSON
    assert page.lang == "es-MX"
    assert page.root.one("h1").text == title
    assert "Ferretería" not in page.text  # nothing of the customer's account


def test_a_tampered_token_is_a_403_page(client: Any, link: str) -> None:
    token = link.rsplit("/", 1)[1]
    payload, stamp, signature = token.rsplit(".", 2)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    other_customer = (
        portal_sessions.URLSafeTimedSerializer(b"-")
        .dump_payload({"m": "acme", "c": "C-2", "r": None, "l": "es-MX"})
        .decode()
    )
    for forged in (
        f"{payload}.{stamp}.{flipped}",
        f"{other_customer}.{stamp}.{signature}",
        f"{payload}.{stamp}",
        "not-a-token",
        "x" * 5000,
    ):
        _assert_refused(client.get(f"/portal/{forged}"), 403, "Enlace no válido")
        _assert_refused(client.get(f"/portal/{forged}/pagos/pay_1"), 403, "Enlace no válido")
    _assert_refused(client.get("/portal/"), 403, "Enlace no válido")


def test_a_token_signed_with_another_merchants_key_is_refused(
    client: Any, gateway: Gateway, demo: None
) -> None:
    globex = gateway.merchants["globex"]
    forged = portal_sessions._serializer(globex).dumps(
        {"m": "acme", "c": "C-1", "r": None, "l": "es-MX"}
    )
    _assert_refused(client.get(f"/portal/{forged}"), 403, "Enlace no válido")


def test_a_link_works_for_30_minutes_then_is_a_410_page(
    client: Any, link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = portal_sessions.clock()
    monkeypatch.setattr(portal_sessions, "clock", lambda: made + 30 * 60 - 2)
    assert client.get(link).status_code == 200
    monkeypatch.setattr(portal_sessions, "clock", lambda: made + 30 * 60 + 2)
    response = client.get(link)
    _assert_refused(response, 410, "El enlace venció")
    assert "30 minutos" in page_of(response).text
    # A POST with an expired link pays nothing either.
    response = client.post(link, data={"accion": "pagar", "factura": "F-1001"})
    assert response.status_code == 410


def test_links_survive_a_new_api_key_and_die_with_the_key_that_signed_them(
    client: Any, link: str, settings: Settings, plugins: Any, store: Any
) -> None:
    from b2bgateway_web import create_app

    def app_with(keys: list[str]) -> Any:
        merchants = settings.model_dump()["merchants"]
        merchants["acme"]["api_keys"] = keys
        changed = Settings(database_url=settings.database_url, merchants=merchants)
        return create_app(gateway=Gateway.build(changed, plugins, store)).test_client()

    assert app_with(["sk_test_new_key_1", API_KEY]).get(link).status_code == 200
    _assert_refused(app_with(["sk_test_new_key_1"]).get(link), 403, "Enlace no válido")


# -- the page --------------------------------------------------------------------------------------


def test_balances_in_pesos_with_pay_buttons(client: Any, link: str) -> None:
    response = client.get(link)
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "same-origin"  # the token is in the URL
    assert response.headers["Cache-Control"] == "no-store"
    page = page_of(response)
    assert page.lang == "es-MX"
    assert page.root.one("meta", name="viewport")
    assert page.balance("Saldo total") == TOTAL
    assert page.balance("Saldo vencido") == OVERDUE
    assert page.balance("Saldo por vencer") == UPCOMING
    buttons = page.buttons()
    # Each pays the payable invoices behind its balance (not CXC-1006, of another module).
    assert f"Pagar total: {PAYABLE_TOTAL}" in buttons
    assert f"Pagar vencido: {PAYABLE_OVERDUE}" in buttons
    assert f"Pagar por vencer: {UPCOMING}" in buttons
    assert page.text.count("Solo las facturas que se pueden pagar en línea.") == 2
    pay = buttons["Pagar las facturas marcadas"]  # its script shows the live sum instead
    assert "disabled" not in pay.attrs  # without JavaScript: the next page says how much
    assert "Marca las facturas que quieres pagar." in page.text
    assert all(b.attrs.get("type") == "submit" for b in buttons.values())


def test_the_invoice_list(client: Any, link: str) -> None:
    page = page_of(client.get(link))
    for folio, invoice_id, state in (
        ("A-1001", "F-1001", "Vencida"),
        ("A-1002", "F-1002", "Vencida"),
        ("A-1003", "F-1003", "Por vencer"),  # due today: not overdue yet
        ("A-1004", "F-1004", "Por vencer"),
    ):
        box = page.checkbox(f"Seleccionar factura {folio}")
        assert box.attrs["name"] == "factura" and box.attrs["value"] == invoice_id
        assert "disabled" not in box.attrs
        cells = [td.text for td in page.row(folio).all("td")]
        assert cells[4].startswith(state) and cells[5] == "Disponible"
    cells = [td.text for td in page.row("A-1001").all("td")]
    assert cells[3] == "$3,480.00"
    assert re.fullmatch(r"\d{1,2} [a-z]{3} \d{4}", cells[1])  # issued: "6 nov 2026"
    assert re.fullmatch(r"\d{1,2} [a-z]{3} \d{4}", cells[2])  # due
    assert cells[4] == "Vencida hace 20 días"  # the demo's A-1001 is 20 days overdue
    assert [td.text for td in page.row("A-1002").all("td")][4] == "Vencida hace 3 días"
    # A factura of another module: a disabled row with the reason, described by it.
    box = page.checkbox("Factura CXC-1006")
    assert "disabled" in box.attrs and "name" not in box.attrs
    reason = page.root.one(id=box.attrs["aria-describedby"])
    assert reason.text == "Cargo de cuentas por cobrar; págalo directamente con tu proveedor"
    assert page.row("CXC-1006").attrs["class"] == "disabled"
    # Paid (no balance) is not listed; cargo and nota de crédito are other documents.
    assert "A-1005" not in page.text
    cargo = [td.text for td in page.row("CG-3001").all("td")]
    assert (cargo[1], cargo[3], cargo[4]) == (
        "Cargo",
        "$150.00",
        "No es una factura; Cargo de cuentas por cobrar; págalo directamente con tu proveedor",
    )
    # A nota de crédito is a credit in the customer's favour, not a debt with a due date.
    nota = [td.text for td in page.row("NC-2001").all("td")]
    assert nota[2:] == [
        "No aplica",
        "$300.00 a tu favor",
        "Saldo a tu favor: tu proveedor lo descuenta de tus facturas",
    ]
    assert not page.row("NC-2001").all("input")


def test_every_reason_code_reads_in_spanish() -> None:
    assert set(portal.REASONS) == {reason.value for reason in Reason}
    texts = list(portal.REASONS.values())
    assert len(set(texts)) == len(texts)
    assert portal.REASONS["payment_registered"] == "Ya tiene un pago registrado"
    assert portal.REASONS["not_an_invoice"] == "No es una factura"
    assert portal.REASONS["unsupported_source"] == (
        "Documento de otro sistema de tu proveedor; págalo con él"
    )
    assert portal.REASONS["no_balance"] == "Sin saldo"
    assert portal.REASONS["within_credit_limit"] == "El pedido está dentro de tu límite de crédito"
    assert portal.reason_texts(["a_plugins_reason"]) == ["No se puede pagar en línea"]


def test_an_inactive_customer_sees_why_nothing_is_payable(client: Any, demo: None) -> None:
    page = page_of(client.get(new_link(client, "C-4")))
    assert "Tu cuenta está inactiva: no puedes pagar en línea." in page.text
    assert page.balance("Saldo vencido") == "$4,100.00"
    box = page.checkbox("Factura D-1301")
    assert "disabled" in box.attrs
    assert page.root.one(id=box.attrs["aria-describedby"]).text == "Tu cuenta está inactiva"
    assert set(page.buttons()) == {"Calcular total", "Pagar las facturas marcadas"}


def test_without_javascript_calcular_total_shows_the_sum(client: Any, link: str) -> None:
    page = page_of(client.get(link))
    action, fields = page.form_of("Calcular total")
    data: dict[str, Any] = dict(fields)
    data["factura"] = ["F-1001", "F-1002", "F-1006"]  # CXC-1006 is not payable: left out
    response = client.post(action, data=data)
    assert response.status_code == 200
    again = page_of(response)
    assert "Total seleccionado: $4,230.50 (2 facturas)" in again.text
    assert "checked" in again.checkbox("Seleccionar factura A-1001").attrs
    assert "checked" in again.checkbox("Seleccionar factura A-1002").attrs
    assert "checked" not in again.checkbox("Seleccionar factura A-1003").attrs
    # The customer then ticks A-1003 too and pays: the button never showed a stale amount, and
    # the next page shows what will be charged, computed now.
    assert "Pagar $4,230.50" not in again.buttons()
    _, fields = again.form_of("Pagar las facturas marcadas")
    data = {name: value for name, value in fields if name != "factura"}
    data["factura"] = ["F-1001", "F-1002", "F-1003"]
    confirm = page_of(client.post(action, data=data))
    assert confirm.root.one("h1").text == "¿Cómo quieres pagar?"
    assert "Vas a pagar $5,210.50" in confirm.text
    assert "Facturas A-1001, A-1002, A-1003" in confirm.text
    pay = submit(client, confirm, "Pagar $5,210.50")
    assert pay.status_code == 303
    (payment,) = payments(client.application.extensions["b2bgateway"].store)
    assert payment.amount == Money("5210.50", "MXN")
    # Nothing selected: the page does not pretend to know (a browser may restore ticks).
    none = page_of(client.post(action, data=dict(fields)))
    assert "Ninguna factura seleccionada" not in none.text
    assert "Marca las facturas que quieres pagar." in none.text


# -- paying invoices -------------------------------------------------------------------------------


def test_pay_selected_invoices_through_the_hosted_page(
    client: Any, link: str, store: Any, webhooks: list[Sent]
) -> None:
    location, payment = pay_two_invoices(client, link)
    assert payment.purpose == "invoices"
    assert payment.amount == Money("4230.50", "MXN")  # computed by the gateway
    assert sorted(a.invoice_id for a in payment.allocations) == ["F-1001", "F-1002"]
    assert payment.status == "requires_action"
    assert payment.customer_id == "C-1"
    assert payment.return_url is not None
    assert payment.return_url.startswith(f"{PUBLIC_URL}/portal/")
    assert payment.return_url.endswith("/pagos")

    back = approve_on_sandbox(client, location)
    assert parse_qs(urlsplit(back).query) == {"payment_id": [payment.id]}
    response = client.get(local(back))
    assert response.status_code == 303
    status_url = local(response.headers["Location"])
    status_path = urlsplit(status_url).path
    assert status_path.endswith(f"/pagos/{payment.id}")

    # Back on the portal before the webhook: the gateway asked the processor first, so the
    # page says what the customer just did.
    page = page_of(client.get(status_url))
    assert "Pago aprobado" in page.text
    assert "Continuar con el pago" not in page.text
    assert "$4,230.50" in page.text and "Facturas A-1001, A-1002" in page.text
    assert "refresh" not in page.html
    assert not [n for n in page.root.all("section") if "data-poll" in n.attrs]
    poll = client.get(f"{status_path}/estado")
    assert poll.json == {"status": "succeeded", "final": True}

    deliver(client, webhooks)  # the sandbox's signed webhook changes nothing more

    done = page_of(client.get(status_path))
    assert "Pago aprobado" in done.text
    home = [a for a in done.root.all("a") if a.text == "Volver al estado de cuenta"]
    assert len(home) == 1

    # The invoices are not payable any more; the balances wait for the ERP.
    after = page_of(client.get(local(home[0].attrs["href"])))
    assert after.balance("Saldo total") == TOTAL
    assert after.balance("Saldo vencido") == OVERDUE
    for folio in ("A-1001", "A-1002"):
        box = after.checkbox(f"Factura {folio}")
        assert "disabled" in box.attrs
        described = after.root.one(id=box.attrs["aria-describedby"])
        assert described.text.startswith("Pagado, por aplicar: $")
        (see,) = described.all("a")
        assert see.attrs["href"].endswith(f"/pagos/{payment.id}")
    assert "Pagado, por aplicar: $3,480.00" in after.row("A-1001").text
    assert after.balance("Pagado, por aplicar") == "$4,230.50"  # in the total's card
    assert "Pagar vencido: $4,230.50" not in after.buttons()
    assert "conservan su saldo hasta que tu proveedor aplique el pago" in after.text
    assert [p.status for p in payments(store)] == ["succeeded"]


def test_a_lost_webhook_is_settled_by_reconciliation(
    client: Any, link: str, gateway: Gateway, webhooks: list[Sent]
) -> None:
    location, payment = pay_two_invoices(client, link)
    approve_on_sandbox(client, location)
    webhooks.clear()  # the sandbox's webhook never arrives
    status_path = f"{link}/pagos/{payment.id}"
    assert "Pago pendiente" in page_of(client.get(status_path)).text
    counts = reconcile(gateway, now=utcnow() + timedelta(minutes=10))
    assert counts.settled == 1
    assert "Pago aprobado" in page_of(client.get(status_path)).text


def test_canceling_on_the_hosted_page_frees_the_invoices(
    client: Any, link: str, store: Any, webhooks: list[Sent]
) -> None:
    location, payment = pay_two_invoices(client, link)
    back = approve_on_sandbox(client, location, action="cancel")
    deliver(client, webhooks)
    assert [(p.id, p.status) for p in payments(store)] == [(payment.id, "canceled")]
    status = page_of(client.get(local(client.get(local(back)).headers["Location"])))
    assert "Pago cancelado" in status.text
    assert "Cancelaste el pago en la página del procesador." in status.text
    home = page_of(client.get(link))
    assert "disabled" not in home.checkbox("Seleccionar factura A-1001").attrs


def test_the_same_form_sent_twice_is_one_payment(client: Any, link: str, store: Any) -> None:
    home = page_of(client.get(link))
    first = submit(client, home, f"Pagar vencido: {PAYABLE_OVERDUE}")
    second = submit(client, home, f"Pagar vencido: {PAYABLE_OVERDUE}")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    (payment,) = payments(store)
    assert payment.amount == Money("4230.50", "MXN")


def test_an_answer_that_could_not_be_recorded_is_shown_as_in_process(
    client: Any, link: str, store: Any, monkeypatch: Any
) -> None:
    """The processor was asked but the database failed before its answer was recorded: the
    customer must not read "the payment did not start" and pay again some other way."""
    from b2bgateway import service
    from b2bgateway.errors import DatabaseUnavailable

    def unrecorded(*args: Any) -> Any:
        raise DatabaseUnavailable("the answer could not be recorded yet")

    monkeypatch.setattr(service, "_record", unrecorded)
    home = page_of(client.get(link))
    response = submit(client, home, f"Pagar vencido: {PAYABLE_OVERDUE}")
    assert response.status_code == 503
    assert "Tu pago está en proceso" in response.get_data(as_text=True)
    (payment,) = payments(store)
    assert payment.status == "processing"  # held until reconciliation records the answer


@pytest.mark.parametrize(
    ("missing", "text"),
    [
        (["customer.email"], "debe tener registrado tu correo electrónico"),
        (["device_session_id"], "no permite pagar desde esta página"),
    ],
)
def test_what_the_processor_requires_is_explained_in_spanish(
    client: Any, link: str, store: Any, monkeypatch: Any, missing: list[str], text: str
) -> None:
    """A processor that requires the customer's email (Openpay) refuses before any payment:
    the customer reads what their supplier must fix, not "try again later"."""
    from b2bgateway.errors import RequiredByProcessor

    def required(*args: Any) -> None:
        raise RequiredByProcessor("the processor requires more", extra={"missing": missing})

    monkeypatch.setattr(reservation, "check_required", required)
    home = page_of(client.get(link))
    response = submit(client, home, f"Pagar vencido: {PAYABLE_OVERDUE}")
    assert response.status_code == 422
    assert text in response.get_data(as_text=True)
    assert payments(store) == []


def test_the_balance_buttons_pay_the_payable_invoices_behind_them(
    client: Any, link: str, store: Any
) -> None:
    home = page_of(client.get(link))
    assert submit(client, home, f"Pagar total: {PAYABLE_TOTAL}").status_code == 303
    (payment,) = payments(store)
    assert payment.amount == Money("10810.50", "MXN")
    assert sorted(a.invoice_id for a in payment.allocations) == [
        "F-1001",
        "F-1002",
        "F-1003",
        "F-1004",
    ]


def test_a_balance_that_changed_since_the_page_was_shown_is_not_charged(
    client: Any, link: str, store: Any
) -> None:
    home = page_of(client.get(link))
    invoice = {
        "customer_id": "C-1",
        "folio": "A-1001",
        "document_type": "factura",
        "source": "ventas",
        "issued_on": "2026-01-01",
        "due_on": "2026-01-31",
        "total": "3480.00",
        "balance": "3000.00",
        "currency": "MXN",
    }
    assert client.put("/v1/invoices/F-1001", json=invoice, headers=AUTH).status_code == 200
    response = submit(client, home, f"Pagar vencido: {PAYABLE_OVERDUE}")
    assert response.status_code == 409
    page = page_of(response)
    alert = page.root.one(role="alert")
    assert alert.text == (
        "El saldo de las facturas seleccionadas cambió. Ahora suman $3,750.50. "
        "Revisa y vuelve a pagar."
    )
    assert payments(store) == []


def test_an_invoice_paid_meanwhile_is_refused_in_spanish(
    client: Any, link: str, gateway: Gateway, store: Any
) -> None:
    home = page_of(client.get(link))
    service.checkout(
        gateway,
        gateway.merchants["acme"],
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key="elsewhere",
            invoice_ids=["F-1001"],
            token="tok_approved",
        ),
    )
    response = submit(client, home, f"Pagar vencido: {PAYABLE_OVERDUE}")
    assert response.status_code == 422
    page = page_of(response)
    assert page.root.one(role="alert").text == (
        "No se puede pagar en línea: A-1001: Ya tiene un pago registrado."
    )
    assert len(payments(store)) == 1


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"accion": "pagar"}, 422, "Selecciona al menos una factura para pagar."),
        (
            {"accion": "pagar", "factura": "F-1001"},
            409,
            "La página cambió mientras pagabas. Revisa tu selección y vuelve a pagar.",
        ),
        ({"accion": "borrar"}, 400, "No entendimos esa acción. Vuelve a intentarlo."),
    ],
    ids=["nothing-selected", "balance-not-shown", "unknown-action"],
)
def test_bad_forms_show_the_page_again_with_a_message(
    client: Any, link: str, store: Any, data: dict[str, str], status: int, message: str
) -> None:
    data = {"nonce": nonce_of(client, link), **data}
    response = client.post(link, data=data)
    assert response.status_code == status
    assert page_of(response).root.one(role="alert").text == message
    assert payments(store) == []


def test_a_customer_with_many_invoices_pays_a_few_with_a_small_form(
    client: Any, gateway: Gateway, store: Any
) -> None:
    """The form carries the shown balances in one field: a long list stays a few form fields
    (Werkzeug refuses forms of more than 1,000 parts), and a balance with more invoices than
    one payment takes (500) has no button."""
    customer = {"name": "Cadena", "active": True, "credit_limit": "0.00", "currency": "MXN"}
    assert client.put("/v1/customers/C-9", json=customer, headers=AUTH).status_code == 201
    invoices = [
        {
            "invoice_id": f"F-{n:04d}",
            "customer_id": "C-9",
            "folio": f"Z-{n:04d}",
            "document_type": "factura",
            "source": "ventas",
            "issued_on": "2026-01-01",
            "due_on": "2026-01-31",
            "total": "10.00",
            "balance": "10.00",
            "currency": "MXN",
        }
        for n in range(1, 1201)
    ]
    response = client.post("/v1/invoices/batch", json={"invoices": invoices}, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = page_of(client.get(new_link(client, "C-9")))
    assert page.balance("Saldo total") == "$12,000.00"
    assert not any(name.startswith("Pagar total") for name in page.buttons())
    assert "elige hasta 500 en la lista" in page.text
    action, fields = page.form_of("Pagar las facturas marcadas")
    assert len(fields) < 5
    data: dict[str, Any] = dict(fields)
    data.update(accion="pagar", factura=["F-0007", "F-1200"], vivo="1")
    response = client.post(action, data=data)
    assert response.status_code == 303, page_of(response).text
    (payment,) = payments(store)
    assert payment.amount == Money("20.00", "MXN")


# -- an order --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "payable"),
    [("9999.99", False), ("10000.00", False), ("10000.01", True)],
    ids=["below", "at", "above"],
)
def test_an_order_is_payable_only_above_the_credit_limit(
    client: Any, link: str, store: Any, amount: str, payable: bool
) -> None:
    response = client.get(order_link(client, amount))
    assert response.status_code == 200
    page = page_of(response)
    shown = f"${Money(amount, 'MXN').amount:,}"
    assert page.root.one("h1").text == "Pedido PED-77"
    assert shown in page.text and "$10,000.00" in page.text  # the amount, the credit limit
    buttons = page.buttons()
    if not payable:
        assert buttons == {}
        assert "El pedido está dentro de tu límite de crédito" in page.text
        return
    assert set(buttons) == {f"Pagar pedido: {shown}"}
    pay = submit(client, page, f"Pagar pedido: {shown}")
    assert pay.status_code == 303
    assert pay.headers["Location"].startswith(f"{PUBLIC_URL}/sandbox/acme/charges/")
    (payment,) = payments(store)
    assert (payment.purpose, payment.order_reference) == ("order", "PED-77")
    assert payment.amount == Money(amount, "MXN")


def test_a_paid_order_shows_its_payment(client: Any, link: str, webhooks: list[Sent]) -> None:
    page = page_of(client.get(order_link(client, "15000.00")))
    location = submit(client, page, "Pagar pedido: $15,000.00").headers["Location"]
    approve_on_sandbox(client, location)
    deliver(client, webhooks)
    again = page_of(client.get(order_link(client, "15000.00")))
    assert "Este pedido ya tiene un pago registrado." in again.text
    assert again.buttons() == {}
    (see,) = [a for a in again.root.all("a") if a.text == "Ver el pago"]
    assert "Pago aprobado" in page_of(client.get(see.attrs["href"])).text
    assert "Pedido PED-77" in page_of(client.get(see.attrs["href"])).text


@pytest.mark.parametrize(
    ("customer_id", "payable", "reason"),
    [
        ("C-2", True, None),  # credit limit 0: every order is payable
        ("C-3", False, "No tienes un límite de crédito asignado"),
        ("C-4", False, "Tu cuenta está inactiva"),
    ],
)
def test_orders_of_other_customers(
    client: Any, demo: None, customer_id: str, payable: bool, reason: str | None
) -> None:
    page = page_of(client.get(order_link(client, "50.00", "P-1", customer_id)))
    assert bool(page.buttons()) is payable
    if reason:
        assert reason in [li.text for li in page.root.all("li")]


def test_a_link_without_a_signed_order_is_a_400_page(client: Any, link: str) -> None:
    # The old unsigned form names an order in the query string: it is never read.
    for path in (f"{link}/pedido", f"{link}/pedido?importe=10000.01&referencia=PED-77"):
        response = client.get(path)
        assert response.status_code == 400
        page = page_of(response)
        assert page.root.one("h1").text == "Pedido no válido"
        assert page.buttons() == {}
    assert client.post(f"{link}/pedido", data={"importe": "10.00", "referencia": "P"}).status_code
    assert payments(client.application.extensions["b2bgateway"].store) == []


def test_the_order_amount_and_reference_come_only_from_the_signed_link(
    client: Any, demo: None, store: Any
) -> None:
    path = order_link(client, "15000.00", "PED-77")
    # A customer who edits the query string or the form changes nothing.
    page = page_of(client.get(f"{path}?importe=10000.01&referencia=PED-1"))
    assert page.root.one("h1").text == "Pedido PED-77"
    assert "$15,000.00" in page.text and "$10,000.01" not in page.text
    response = submit(
        client, page, "Pagar pedido: $15,000.00", importe="10000.01", referencia="PED-1"
    )
    assert response.status_code == 303
    (payment,) = payments(store)
    assert (payment.order_reference, payment.amount) == ("PED-77", Money("15000.00", "MXN"))
    # Nor can the token's payload be edited: the signature no longer matches.
    token = path.split("/")[2]
    payload, stamp, signature = token.rsplit(".", 2)
    claims = portal_sessions.URLSafeTimedSerializer(b"-").load_payload(payload.encode())
    claims["o"] = ["PED-77", "10000.01", "MXN"]
    forged = portal_sessions.URLSafeTimedSerializer(b"-").dump_payload(claims).decode()
    _assert_refused(
        client.get(f"/portal/{forged}.{stamp}.{signature}/pedido"), 403, "Enlace no válido"
    )


@pytest.mark.parametrize(
    "order",
    [
        {"reference": "P-1", "amount": "abc", "currency": "MXN"},
        {"reference": "P-1", "amount": "-5.00", "currency": "MXN"},
        {"reference": "P-1", "amount": "10.001", "currency": "MXN"},
        {"reference": "P-1", "amount": "0", "currency": "MXN"},
        {"reference": "P-1", "amount": 10, "currency": "MXN"},
        {"reference": "P 1", "amount": "10.00", "currency": "MXN"},
        {"amount": "10.00", "currency": "MXN"},
        {"reference": "P-1", "amount": "10.00", "currency": "XYZ"},
        {"reference": "P-1", "amount": "10.00"},
    ],
)
def test_a_bad_order_is_a_422_of_the_session(
    client: Any, demo: None, order: dict[str, Any]
) -> None:
    response = client.post(
        "/v1/portal-sessions", json={"customer_id": "C-1", "order": order}, headers=AUTH
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["code"] == "validation_error"


# -- the status page -------------------------------------------------------------------------------


def test_another_customers_payment_is_a_404(
    client: Any, link: str, gateway: Gateway, store: Any
) -> None:
    other = service.checkout(
        gateway,
        gateway.merchants["acme"],
        service.CheckoutRequest(
            customer_id="C-2",
            purpose="invoices",
            idempotency_key="c2",
            invoice_ids=["F-1101"],
            token="tok_approved",
        ),
    )
    for path in (f"{link}/pagos/{other.id}", f"{link}/pagos/pay_nothing", f"{link}/pagos/a%20b"):
        response = client.get(path)
        assert response.status_code == 404
        assert page_of(response).root.one("h1").text == "Pago no encontrado"
    assert client.get(f"{link}/pagos/{other.id}/estado").status_code == 404
    c2 = new_link(client, "C-2")
    assert "Pago aprobado" in page_of(client.get(f"{c2}/pagos/{other.id}")).text


def test_the_return_trip_and_unknown_pages(client: Any, link: str) -> None:
    response = client.get(f"{link}/pagos?payment_id=pay_123")  # not one of the customer's
    assert response.status_code == 404
    assert page_of(response).root.one("h1").text == "Pago no encontrado"
    response = client.get(f"{link}/pagos")
    assert response.status_code == 303 and response.headers["Location"] == link
    for path in (f"{link}/nada", f"{link}/pagos/pay_1/otra/cosa"):
        response = client.get(path)
        assert response.status_code == 404
        assert page_of(response).root.one("h1").text == "Página no encontrada"


def test_an_unexpected_error_is_a_spanish_page_not_a_traceback(
    app: Any, client: Any, link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal detail sk_live_123")

    monkeypatch.setattr(portal_views, "load_account", boom)
    app.testing = False
    response = client.get(link)
    assert response.status_code == 500
    page = page_of(response)
    assert page.root.one("h1").text == "Algo salió mal"
    assert "sk_live_123" not in page.html and "Traceback" not in page.html


# -- the demo --------------------------------------------------------------------------------------


def test_the_demo_shows_every_case(gateway: Gateway, demo: None) -> None:
    with gateway.store.read() as session:
        customers = {c.customer_id: c for c in session.scalars(select(Customer))}
        invoices = list(session.scalars(select(Invoice)))
    assert set(customers) == set(DEMO_CUSTOMERS)
    limits = {c.customer_id: c.credit_limit for c in customers.values()}
    assert Money("0.00", "MXN") in limits.values()  # no credit
    assert None in limits.values()  # no limit assigned
    assert any(not c.active for c in customers.values())
    kinds = {(i.document_type, i.source) for i in invoices}
    assert {("cargo", "cuentas_por_cobrar"), ("factura", "cuentas_por_cobrar")} <= kinds
    assert ("nota_credito", "ventas") in kinds
    today = datetime.now(gateway.merchants["acme"].zone).date()
    c1 = [i for i in invoices if i.customer_id == "C-1" and i.document_type == "factura"]
    assert any(i.due_on < today and i.balance.is_positive() for i in c1)
    assert any(i.due_on >= today and i.balance.is_positive() for i in c1)


@pytest.fixture
def demo_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, store: Any
) -> Settings:
    path = tmp_path / "gateway.toml"
    path.write_text(
        f"""
database_url = "{database_url}"

[merchants.demo]
api_keys = ["sk_demo_123"]
processor = "sandbox"
order_payments = true
invoice_payments = true

[merchants.demo.processors.sandbox]
webhook_secret = "{WEBHOOK_SECRET}"
ledger_path = "{tmp_path / "ledger.db"}"
"""
    )
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(path))
    from b2bgateway.settings import load_settings

    return load_settings()


def test_b2bgateway_demo_prints_a_working_portal_link(
    demo_config: Settings, plugins: Any, store: Any
) -> None:
    from b2bgateway_web import create_app
    from b2bgateway_web.cli import main

    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Portal de ejemplo: ")]
    url = line.removeprefix("Portal de ejemplo: ")
    assert url.startswith(f"{PUBLIC_URL}/portal/")
    (order,) = [x for x in result.output.splitlines() if x.startswith("Pedido de ejemplo: ")]
    order = order.removeprefix("Pedido de ejemplo: ")
    assert order.startswith(f"{PUBLIC_URL}/portal/") and order.endswith("/pedido")
    client = create_app(gateway=Gateway.build(demo_config, plugins, store)).test_client()
    page = page_of(client.get(urlsplit(url).path))
    assert "Ferretería La Esperanza" in page.text
    assert page.balance("Saldo total") == TOTAL
    order_page = page_of(client.get(local(order)))
    assert "Pagar pedido: $15,000.00" in order_page.buttons()
