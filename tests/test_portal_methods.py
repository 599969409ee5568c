"""Other ways to pay on the customer page (issue 21 item 7): the methods and MSI the merchant
offers as choices, SPEI instructions with copy buttons, the printable cash voucher; the sandbox
simulates the transfer and the store payment (``b2bgateway.sandbox``)."""

from __future__ import annotations

from typing import Any

import pytest

from b2bgateway.money import Money
from b2bgateway.settings import Settings
from tests.support.web import SandboxOutbox, new_link, order_link, with_merchant
from tests.test_portal import Page, deliver, local, page_of, payments, submit

METHODS = ["card", "bank_transfer", "cash"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """acme offers every method and MSI at 3, 6 and 12 months."""
    result: Settings = with_merchant(
        settings, "acme", payment_methods=METHODS, installments=[3, 6, 12]
    )
    return result


@pytest.fixture(autouse=True)
def webhooks(sandbox_outbox: SandboxOutbox) -> Any:
    return sandbox_outbox.sent


@pytest.fixture
def link(client: Any, demo: None) -> str:
    return new_link(client)


def _choose(client: Any, link: str) -> Page:
    """Press "Pagar vencido": the page that asks how to pay."""
    response = submit(client, page_of(client.get(link)), "Pagar vencido: $4,230.50")
    assert response.status_code == 200, response.status_code
    return page_of(response)


def _radio(page: Page, label: str) -> str:
    (found,) = [x for x in page.root.all("label") if x.text == label]
    box = page.root.one("input", id=found.attrs["for"])
    assert box.attrs["type"] == "radio" and box.attrs["name"] == "metodo"
    return box.attrs["value"]


def test_the_methods_the_merchant_offers_are_choices(client: Any, link: str) -> None:
    page = _choose(client, link)
    assert page.root.one("h1").text == "¿Cómo quieres pagar?"
    assert "Vas a pagar $4,230.50" in page.text and "Facturas A-1001, A-1002" in page.text
    assert _radio(page, "Tarjeta de crédito o débito") == "card"
    assert _radio(page, "Transferencia SPEI") == "bank_transfer"
    assert _radio(page, "Efectivo en OXXO y otras tiendas") == "cash"
    options = [o.text for o in page.root.one("select", id="msi").all("option")]
    assert options == [
        "Una sola exhibición",
        "3 meses sin intereses",
        "6 meses sin intereses",
        "12 meses sin intereses",
    ]
    assert "Pagar $4,230.50" in page.buttons()


def test_card_with_msi(client: Any, link: str, store: Any) -> None:
    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="card", msi="6")
    assert response.status_code == 303
    assert local(response.headers["Location"]).startswith("/sandbox/acme/charges/")
    (payment,) = payments(store)
    assert (payment.payment_method, payment.installments) == ("card", 6)


@pytest.mark.parametrize(
    ("metodo", "msi"), [("cheque", ""), ("card", "7"), ("bank_transfer", "abc")]
)
def test_a_choice_not_offered_asks_again(
    client: Any, link: str, store: Any, metodo: str, msi: str
) -> None:
    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo=metodo, msi=msi)
    if metodo == "bank_transfer":  # MSI are for cards: ignored for a transfer
        assert response.status_code == 303
        return
    assert response.status_code == 200
    assert page_of(response).root.one("h1").text == "¿Cómo quieres pagar?"
    assert payments(store) == []


def test_spei_instructions_to_copy(client: Any, link: str, store: Any, webhooks: Any) -> None:
    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="bank_transfer")
    status = page_of(client.get(local(response.headers["Location"])))
    (payment,) = payments(store)
    assert payment.payment_method == "bank_transfer"
    action = payment.next_action or {}
    assert status.root.one("p", class_="status-title").text == "Esperando tu transferencia"
    assert "Haz una transferencia SPEI desde tu banco" in status.text
    facts = {
        dt.text: dt.parent.one("span", class_="value").text  # type: ignore[union-attr]
        for dt in status.root.one("dl", class_="copyable").all("dt")
    }
    assert facts["CLABE"] == action["clabe"] and len(action["clabe"]) == 18
    assert facts["Banco"] == action["bank"]
    assert facts["Beneficiario"] == action["beneficiary"]
    assert facts["Referencia"] == action["reference"]
    assert facts["Importe exacto"] == "$4,230.50"
    assert "Fecha límite" in facts
    copies = {b.text: b.attrs["data-copy"] for b in status.root.all("button", class_="copy")}
    assert copies == {
        "Copiar CLABE": action["clabe"],
        "Copiar referencia": action["reference"],
        "Copiar importe": "4230.50",
    }
    assert all("hidden" in b.attrs for b in status.root.all("button", class_="copy"))  # JS
    assert "Cancelar el pago" in status.buttons()
    # The invoices wait for the transfer; the home page lists the payment as pending.
    home = page_of(client.get(link))
    assert "Pago pendiente de $4,230.50" in home.text


def test_cash_voucher_printable_with_its_barcode(client: Any, link: str, store: Any) -> None:
    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="cash")
    status_response = client.get(local(response.headers["Location"]))
    status = page_of(status_response)
    (payment,) = payments(store)
    action = payment.next_action or {}
    assert status.root.one("p", class_="status-title").text == "Esperando tu pago en tienda"
    assert "OXXO" in status.text and action["reference"] in status.text
    (barcode,) = status.root.all("img", class_="barcode")
    assert barcode.attrs["src"] == action["barcode_url"]
    assert client.get(local(barcode.attrs["src"])).status_code == 200
    assert "Imprimir ficha" in status.buttons()
    policy = status_response.headers["Content-Security-Policy"]
    assert "img-src 'self' data: http://127.0.0.1:8000" in policy


def test_a_barcode_whose_origin_is_unsafe_is_not_shown(client: Any, link: str, store: Any) -> None:
    """Its origin would put a directive into the page's policy: no image, nothing in img-src;
    the reference is still there to dictate."""
    from b2bgateway.interface import CashVoucher, NextAction

    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="cash")
    (payment,) = payments(store)
    bad = "https://img.x;script-src 'unsafe-inline' *;/b.png"
    voucher = CashVoucher("98765", Money("4230.50", "MXN"), barcode_url=bad)
    _with_next_action(store, payment.id, NextAction("display_cash_voucher", cash_voucher=voucher))
    status_response = client.get(local(response.headers["Location"]))
    status = page_of(status_response)
    assert "98765" in status.text
    assert not status.root.all("img", class_="barcode")
    policy = status_response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    assert "img-src 'self' data:;" in policy


def test_a_transfer_that_arrives_pays(
    client: Any, link: str, store: Any, webhooks: Any, gateway: Any
) -> None:
    from b2bgateway.sandbox.simulate import pay_and_notify

    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="bank_transfer")
    status_path = local(response.headers["Location"])
    (payment,) = payments(store)
    sandbox = gateway.merchants["acme"].settings_for("sandbox")
    _, thread = pay_and_notify(sandbox, "acme", payment.id)  # the customer's bank sends it
    thread.join(timeout=10)
    deliver(client, webhooks)
    done = page_of(client.get(status_path))
    assert "Pago aprobado" in done.text
    assert payments(store)[0].amount == Money("4230.50", "MXN")


def test_an_order_offers_the_methods_too(client: Any, demo: None, store: Any) -> None:
    page = page_of(client.get(order_link(client, "15000.00")))
    response = submit(client, page, "Pagar pedido: $15,000.00")
    choose = page_of(response)
    assert choose.root.one("h1").text == "¿Cómo quieres pagar?"
    assert "Pedido PED-77" in choose.text and "Vas a pagar $15,000.00" in choose.text
    pay = submit(client, choose, "Pagar $15,000.00", metodo="cash")
    assert pay.status_code == 303
    (payment,) = payments(store)
    assert (payment.purpose, payment.payment_method) == ("order", "cash")


def _with_next_action(store: Any, payment_id: str, action: Any) -> None:
    """The payment as a processor that answered ``action`` left it (the stored JSON is what
    the core writes, ``next_action_json``)."""
    from b2bgateway.representation import next_action_json
    from b2bgateway.store.models import Payment as Row

    with store.write() as session:
        row = session.get(Row, payment_id)
        assert row is not None
        row.status = "requires_action"
        row.next_action = next_action_json(action)


def test_spei_instructions_only_on_the_processors_page(client: Any, link: str, store: Any) -> None:
    """A processor that documents no CLABE (Mercado Pago) gives its instructions page: the
    status page links to it, and shows no empty CLABE, bank or beneficiary."""
    from b2bgateway.interface import BankTransferInstructions, NextAction

    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="bank_transfer")
    (payment,) = payments(store)
    hosted = "https://www.mercadopago.com.mx/payments/1319876821/ticket?hash=7c1d"
    instructions = BankTransferInstructions(
        None, None, None, Money("4230.50", "MXN"), "6410293433784980810", None, hosted
    )
    _with_next_action(
        store,
        payment.id,
        NextAction("display_bank_transfer_instructions", url=hosted, bank_transfer=instructions),
    )
    status = page_of(client.get(local(response.headers["Location"])))
    assert status.root.one("p", class_="status-title").text == "Esperando tu transferencia"
    assert "Abre las instrucciones del procesador para ver la CLABE" in status.text
    facts = [dt.text for dt in status.root.one("dl", class_="copyable").all("dt")]
    assert facts == ["Referencia", "Importe exacto"]
    (link_to,) = [a for a in status.root.all("a") if a.text == "Ver la CLABE e instrucciones"]
    assert link_to.attrs["href"] == hosted
    assert "primary" in link_to.attrs["class"]


CREQ = "eyJ0aHJlZURTU2VydmVyVHJhbnNJRCI6ImJmYTVhZjI0In0"
ACS = "https://acs-public.tp.mastercard.com/api/v1/browser_challenges"


def test_a_3ds_challenge_is_posted_into_a_frame(client: Any, link: str, store: Any) -> None:
    """``post_form``: a form to the issuer's challenge URL with ``creq``, aimed at a frame on
    the status page; the script posts it at once, its button does without JavaScript, and the
    page's policy lets that frame (only that origin) in."""
    from b2bgateway.interface import NextAction

    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="bank_transfer")
    (payment,) = payments(store)
    _with_next_action(store, payment.id, NextAction("post_form", url=ACS, data={"creq": CREQ}))
    status_response = client.get(local(response.headers["Location"]))
    status = page_of(status_response)
    assert status.root.one("p", class_="status-title").text == "Confirma el pago con tu banco"
    form = status.root.one("form", action=ACS)
    assert form.attrs["method"] == "post"
    assert form.attrs["data-autosubmit"] == payment.id  # posted once per payment (portal.js)
    (field,) = form.all("input")
    assert (field.attrs["type"], field.attrs["name"], field.attrs["value"]) == (
        "hidden",
        "creq",
        CREQ,
    )
    assert "Abrir la verificación de tu banco" in status.buttons()  # visible: works without JS
    frame = status.root.one("iframe", class_="challenge-frame")
    assert form.attrs["target"] == frame.attrs["name"]
    assert frame.attrs["title"] == "Verificación de tu banco"
    # The issuer's pages post forms and run scripts, never navigate the portal's page.
    assert frame.attrs["sandbox"] == "allow-forms allow-scripts allow-same-origin"
    # The ACS ends by posting the CRes to the processor's URL (another origin) in the frame,
    # and may redirect to other hosts: any https frame, on this page only.
    policy = status_response.headers["Content-Security-Policy"]
    assert policy.endswith("; frame-src 'self' https:"), policy
    assert "Cancelar el pago" in status.buttons()
    # Done at the bank: the gateway asks the processor (here the sandbox, whose payment this
    # really is, answers its own state) and the page confirms, never posting the form again.
    (done,) = [a for a in status.root.all("a") if a.text == "Ya terminé la verificación"]
    assert done.attrs["target"] == "_top"
    back = client.get(local(done.attrs["href"]))
    assert back.status_code == 303
    assert "vuelta=" in back.headers["Location"]
    confirming = page_of(client.get(local(back.headers["Location"])))
    assert not confirming.root.all("form", action=ACS)
    # Still waiting for the issuer's answer: "confirming" for a while, the form not posted again.
    _with_next_action(store, payment.id, NextAction("post_form", url=ACS, data={"creq": CREQ}))
    confirming = page_of(client.get(local(back.headers["Location"])))
    assert confirming.root.one("p", class_="status-title").text == "Confirmando tu pago…"
    assert not confirming.root.all("form", action=ACS)
    assert not confirming.root.all("iframe")


def test_a_challenge_stored_with_an_unsafe_url_is_not_shown(
    client: Any, link: str, store: Any
) -> None:
    """A row written before the strict check (or by hand): its URL would put a directive into
    the page's policy. No form, no frame, no frame-src."""
    from b2bgateway.store.models import Payment as Row

    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="bank_transfer")
    (payment,) = payments(store)
    with store.write() as session:
        row = session.get(Row, payment.id)
        row.status = "requires_action"
        row.next_action = {
            "type": "post_form",
            "url": "https://acs.x;script-src 'unsafe-inline' *;/p",
            "data": {"creq": CREQ},
        }
    status_response = client.get(local(response.headers["Location"]))
    status = page_of(status_response)
    assert not status.root.all("iframe")
    assert "unsafe-inline" not in status_response.headers["Content-Security-Policy"]
    assert "frame-src" not in status_response.headers["Content-Security-Policy"]


def test_no_frame_is_allowed_without_a_challenge(client: Any, link: str, store: Any) -> None:
    page = _choose(client, link)
    response = submit(client, page, "Pagar $4,230.50", metodo="bank_transfer")
    policy = client.get(local(response.headers["Location"])).headers["Content-Security-Policy"]
    assert "frame-src" not in policy
