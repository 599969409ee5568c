"""Customers' e-mails end to end against a real SMTP server on 127.0.0.1 (aiosmtpd): queued in
the payment's own transaction, never sent inside a request, sent by the worker's pass in Spanish
(receipt with its PDF, SPEI and cash instructions, a payment link from the payments module),
retried when the server refuses and dead after the last attempt, once per payment even when a
webhook is replayed; the payment is never touched by any of it."""

from __future__ import annotations

import io
import smtplib
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr, ValidationError
from pypdf import PdfReader
from sqlalchemy import select, update

from b2bgateway import audit, mail, mail_delivery, service
from b2bgateway.email_settings import EmailSettings
from b2bgateway.gateway import Gateway
from b2bgateway.store.email_models import EmailMessage
from b2bgateway.store.models import utcnow
from b2bgateway_web import cli
from b2bgateway_web.cli import main
from b2bgateway_web.portal import emails
from tests.support.panel import (
    USERS,
    add_users,
    card_payment,
    csrf_token,
    fast_hashing,
    form_value,
    sign_in,
)
from tests.support.seeding import seed_customer
from tests.support.settings import acme_settings
from tests.support.smtp import SmtpServer, self_signed
from tests.support.web import AUTH, SandboxOutbox, deliver_sandbox, get_payment

CUSTOMER_EMAIL = "compras@ferreteria.mx"
SUPPLIER = {
    "display_name": "Distribuidora del Centro",
    "legal_name": "Distribuidora del Centro SA de CV",
    "rfc": "DCE010203AB1",
    "phone": "+52 55 1234 5678",
    "email": "cobranza@distribuidora.example",
}
WEBHOOK_URL = "http://127.0.0.1:8000/v1/webhooks/acme/sandbox"


@pytest.fixture
def smtp() -> Any:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SmtpServer) -> Any:
    return acme_settings(
        database_url,
        tmp_path,
        payment_methods=["card", "bank_transfer", "cash"],
        portal=SUPPLIER,
        email={
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "from_address": "pagos@distribuidora.example",
            "reply_to": "cobranza@distribuidora.example",
        },
        others={"globex": {"api_keys": ["sk_test_merchant_b"], "processor": ""}},
    )


@pytest.fixture
def customer(gateway: Gateway) -> None:
    seed_customer(
        gateway.store,
        "acme",
        (("F-1", "1000.00"), ("F-2", "234.50")),
        name="Ferretería La Tuerca",
        email=CUSTOMER_EMAIL,
    )


def use_gateway(monkeypatch: Any, gateway: Gateway) -> None:
    """The command line on the test's gateway (and its database)."""
    monkeypatch.setattr(cli, "_build", lambda: gateway)
    monkeypatch.setattr(gateway.store, "dispose", lambda: None)


def rows(gateway: Gateway) -> list[EmailMessage]:
    with gateway.store.read() as session:
        found = list(session.scalars(select(EmailMessage).order_by(EmailMessage.id)))
        session.expunge_all()
        return found


def send(gateway: Gateway, **kwargs: Any) -> mail_delivery.Sent:
    """One worker pass of e-mail."""
    return mail_delivery.deliver_due(
        gateway.store, gateway.merchants, emails.renderer(gateway), **kwargs
    )


def text_of(message: Any) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return plain, html


def checkout(client: Any, method: str, key: str = "k1") -> dict[str, Any]:
    body = {
        "customer_id": "C-1",
        "purpose": "invoices",
        "invoice_ids": ["F-1", "F-2"],
        "payment_method": {"type": method},
        "return_url": "https://portal.example/return",
    }
    response = client.post("/v1/checkouts", json=body, headers={**AUTH, "Idempotency-Key": key})
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.json)


def simulate_payment(client: Any, body: dict[str, Any]) -> None:
    """The sandbox page's "Simular ..." form: the customer's bank or the store pays it all."""
    from tests.test_sandbox_web import page_path, simulate

    assert simulate(client, page_path(body)).status_code == 303


# -- the receipt ----------------------------------------------------------------------------------


def test_a_card_payment_queues_its_receipt_and_the_worker_sends_it(
    gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer
) -> None:
    paid = card_payment(gateway, acme, "k-card", ("F-1", "F-2"))
    assert paid.status == "succeeded"
    [row] = rows(gateway)
    assert (row.kind, row.recipient, row.state, row.payment_id) == (
        "receipt",
        CUSTOMER_EMAIL,
        "pending",
        paid.id,
    )
    assert smtp.recorder.received == []  # queued, not sent: nothing is mailed inside a request

    assert send(gateway).sent == 1
    [message] = smtp.recorder.received
    assert smtp.recorder.envelopes == [("pagos@distribuidora.example", [CUSTOMER_EMAIL])]
    assert message["Subject"] == "Comprobante de pago por $1,234.50 a Distribuidora del Centro"
    assert message["From"] == "Distribuidora del Centro <pagos@distribuidora.example>"
    assert message["Reply-To"] == "cobranza@distribuidora.example"
    plain, html = text_of(message)
    for text in (plain, html):
        assert "Hola, Ferretería La Tuerca. Recibimos tu pago de $1,234.50" in text
        assert "RFC: DCE010203AB1" in text and "+52 55 1234 5678" in text
        assert "Distribuidora del Centro SA de CV" in text
        assert "Cliente C-1" in text and paid.id in text
        assert "$1,000.00" in text and "$234.50" in text  # each folio's amount
        assert "F-1" in text and "F-2" in text
        assert "Tarjeta" in text and "terminación" in text and "Autorización" in text
        assert "no es un CFDI" in text
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"comprobante-{paid.id}.pdf"
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    pdf_text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Comprobante de pago" in pdf_text and "DCE010203AB1" in pdf_text

    [row] = rows(gateway)
    assert row.state == "sent" and row.attempts == 1 and row.data == {}
    assert send(gateway).sent == 0  # sent once
    assert len(smtp.recorder.received) == 1


def test_the_date_is_in_spanish_and_the_merchants_time_zone(
    gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer
) -> None:
    paid = card_payment(gateway, acme, "k-card", ("F-2",))
    send(gateway)
    plain, _ = text_of(smtp.recorder.received[0])
    local = paid.paid_at.astimezone(acme.zone)
    months = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"]
    assert f"{local.day} {months[local.month - 1]} {local.year}, {local:%H:%M}" in plain


def test_no_email_for_a_customer_without_one_nor_for_a_merchant_without_settings(
    gateway: Gateway, acme: Any, smtp: SmtpServer, database_url: str, tmp_path: Path
) -> None:
    seed_customer(gateway.store, "acme", (("F-2", "234.50"),))  # no e-mail
    card_payment(gateway, acme, "k-1", ("F-2",))
    assert rows(gateway) == []

    quiet = Gateway.build(
        acme_settings(database_url, tmp_path, portal=SUPPLIER), gateway.plugins, gateway.store
    )
    seed_customer(gateway.store, "acme", (("F-3", "10.00"),), customer_id="C-2", email="a@b.mx")
    from b2bgateway import service as core

    core.checkout(
        quiet,
        quiet.merchants["acme"],
        core.CheckoutRequest(
            customer_id="C-2",
            purpose="invoices",
            idempotency_key="k-2",
            invoice_ids=["F-3"],
            token="tok_approved",
        ),
    )
    assert rows(gateway) == []
    assert send(gateway).sent == 0 and smtp.recorder.received == []


# -- SPEI and cash --------------------------------------------------------------------------------


def test_spei_instructions_then_the_receipt_once_even_when_the_webhook_is_replayed(
    client: Any, gateway: Gateway, customer: None, smtp: SmtpServer, sandbox_outbox: SandboxOutbox
) -> None:
    body = checkout(client, "bank_transfer")
    [row] = rows(gateway)
    assert row.kind == "instructions"
    assert send(gateway).sent == 1
    [instructions] = smtp.recorder.received
    assert instructions["Subject"] == "Datos para tu transferencia SPEI a Distribuidora del Centro"
    plain, html = text_of(instructions)
    clabe = body["next_action"]["clabe"]
    for text in (plain, html):
        assert "Haz una transferencia SPEI" in text
        assert "CLABE" in text and clabe in text
        assert "Importe exacto" in text and "$1,234.50" in text
        assert "Fecha límite" in text and "Banco" in text
        assert "F-1, F-2" in text

    simulate_payment(client, body)
    webhook = sandbox_outbox.sent[-1]
    assert deliver_sandbox(client, sandbox_outbox, WEBHOOK_URL) == ["charge.succeeded"]
    replayed = client.post(
        "/v1/webhooks/acme/sandbox", data=webhook.body, headers=dict(webhook.headers)
    )
    assert replayed.status_code == 200
    assert [r.kind for r in rows(gateway)] == ["instructions", "receipt"]
    assert send(gateway).sent == 1
    assert send(gateway).sent == 0
    receipt = smtp.recorder.received[1]
    plain, _ = text_of(receipt)
    tracking = get_payment(client, body["id"])["method_details"]["tracking_key"]
    assert "Clave de rastreo SPEI: " + tracking in plain
    assert "Transferencia SPEI" in plain
    assert len(smtp.recorder.received) == 2


def test_a_cash_voucher_email_has_its_reference_barcode_and_deadline(
    client: Any, gateway: Gateway, customer: None, smtp: SmtpServer
) -> None:
    body = checkout(client, "cash")
    assert send(gateway).sent == 1
    [voucher] = smtp.recorder.received
    assert voucher["Subject"] == "Tu ficha para pagar en efectivo a Distribuidora del Centro"
    plain, html = text_of(voucher)
    action = body["next_action"]
    assert action["reference"] in plain and action["reference"] in html
    assert "Código de barras" in plain and action["barcode_url"] in html
    assert "Fecha límite" in plain and "$1,234.50" in plain


def test_instructions_of_a_payment_paid_before_its_turn_are_skipped(
    client: Any, gateway: Gateway, customer: None, smtp: SmtpServer, sandbox_outbox: SandboxOutbox
) -> None:
    body = checkout(client, "bank_transfer")
    simulate_payment(client, body)
    deliver_sandbox(client, sandbox_outbox, WEBHOOK_URL)
    done = send(gateway)
    assert (done.sent, done.skipped) == (1, 1)
    assert [r.state for r in rows(gateway)] == ["skipped", "sent"]
    assert smtp.recorder.received[0]["Subject"].startswith("Comprobante de pago")


# -- a server that refuses --------------------------------------------------------------------------


def test_a_refusing_server_is_retried_later_and_the_payment_is_untouched(
    gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer
) -> None:
    paid = card_payment(gateway, acme, "k-card", ("F-2",))
    smtp.recorder.refuse = "451 4.3.0 Intenta más tarde"
    done = send(gateway)
    assert (done.sent, done.retried) == (0, 1)
    [row] = rows(gateway)
    assert row.state == "pending" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("SMTP 451")
    assert row.next_attempt_at > utcnow() + timedelta(seconds=5)  # backed off
    assert send(gateway).retried == 0  # not due yet
    with gateway.store.read() as session:
        assert service.get_payment(session, "acme", paid.id).status == "succeeded"

    smtp.recorder.refuse = None
    assert send(gateway, now=utcnow() + timedelta(seconds=11)).sent == 1
    assert len(smtp.recorder.received) == 1
    [row] = rows(gateway)
    assert row.state == "sent" and row.attempts == 2 and row.last_error is None


def test_after_the_last_attempt_a_dead_letter_operators_see_and_send_again(
    client: Any, gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer, monkeypatch: Any
) -> None:
    card_payment(gateway, acme, "k-card", ("F-2",))
    smtp.recorder.refuse = "554 5.7.1 Rechazado"
    later = utcnow()
    for _ in range(mail_delivery.MAX_ATTEMPTS):
        later += timedelta(hours=2)
        send(gateway, now=later)
    [row] = rows(gateway)
    assert row.state == "dead" and row.attempts == mail_delivery.MAX_ATTEMPTS
    assert row.last_error is not None and "554" in row.last_error
    with gateway.store.read() as session:
        assert mail.dead_count(session, "acme") == 1
    fast_hashing(monkeypatch)
    add_users(gateway.store)
    sign_in(client, USERS["consulta"])
    home = client.get("/panel/").get_data(as_text=True)
    assert "Correos no enviados" in home

    use_gateway(monkeypatch, gateway)
    listed = CliRunner().invoke(main, ["mail", "list"])
    assert listed.exit_code == 0, listed.output
    assert CUSTOMER_EMAIL in listed.output and '"kind": "receipt"' in listed.output
    replayed = CliRunner().invoke(main, ["mail", "replay", "--merchant", "acme"])
    assert "1 dead e-mail(s) queued again" in replayed.output
    smtp.recorder.refuse = None
    assert send(gateway).sent == 1


def test_an_unreachable_server_is_retried(
    gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer
) -> None:
    card_payment(gateway, acme, "k-card", ("F-2",))
    smtp.stop()
    assert send(gateway).retried == 1
    [row] = rows(gateway)
    assert row.last_error is not None and "Connection" in row.last_error


# -- STARTTLS and a login -------------------------------------------------------------------------


def test_starttls_with_a_login(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    settings = EmailSettings(
        host="127.0.0.1",
        port=1,
        security="starttls",
        username="pagos@distribuidora.example",
        password="s3creto-smtp",  # type: ignore[arg-type]
        from_address="pagos@distribuidora.example",
        ca_file=cert,
    )
    with SmtpServer(tls_context=context, login=True) as server:
        settings = settings.model_copy(update={"port": server.port})
        message = mail_delivery.Mime()
        message["Subject"], message["From"], message["To"] = "Prueba", "a@b.mx", "c@d.mx"
        message.set_content("Hola")
        mail_delivery.smtp_send(settings, message, "c@d.mx")
        assert server.recorder.logins == ["pagos@distribuidora.example"]
        assert len(server.recorder.received) == 1
        wrong = settings.model_copy(update={"password": SecretStr("otra")})
        with pytest.raises(smtplib.SMTPAuthenticationError):
            mail_delivery.smtp_send(wrong, message, "c@d.mx")
        untrusted = settings.model_copy(update={"ca_file": None})
        with pytest.raises(ssl.SSLError):
            mail_delivery.smtp_send(untrusted, message, "c@d.mx")


def test_settings_are_validated_and_the_password_never_shown() -> None:
    base = {"host": "smtp.example.com", "from_address": "pagos@x.mx"}
    assert EmailSettings(**base).effective_port == 587
    assert EmailSettings(**base, security="tls").effective_port == 465
    with pytest.raises(ValidationError, match="username and password go together"):
        EmailSettings(**base, username="u")
    with pytest.raises(ValidationError, match="never sent in plain text"):
        EmailSettings(**base, security="none", username="u", password="p")
    with pytest.raises(ValidationError):
        EmailSettings(host="smtp.example.com", from_address="not an address")
    shown = repr(EmailSettings(**base, username="u", password="s3creto-smtp"))
    assert "s3creto-smtp" not in shown


def test_config_check_says_whether_email_is_on(
    gateway: Gateway, monkeypatch: Any, smtp: SmtpServer
) -> None:
    use_gateway(monkeypatch, gateway)
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert f"e-mail: SMTP 127.0.0.1:{smtp.port} (none), from pagos@distribuidora.example" in (
        result.output
    )
    assert "e-mail: off (no [merchants.<id>.email]" in result.output  # globex
    assert "plain text" not in result.output  # a relay on this machine


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("smtp.example.com", True),
        ("93.184.216.34", True),
        ("10.0.0.7", False),
        ("localhost", False),
    ],
)
def test_config_check_warns_of_plain_text_towards_another_network(
    gateway: Gateway, monkeypatch: Any, database_url: str, tmp_path: Path, host: str, warned: bool
) -> None:
    email = {"host": host, "security": "none", "from_address": "pagos@distribuidora.example"}
    other = Gateway.build(
        acme_settings(database_url, tmp_path, email=email), gateway.plugins, gateway.store
    )
    use_gateway(monkeypatch, other)
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    warning = f"warning: merchant acme: e-mail security is none towards {host}: customers'"
    assert (warning in result.output) is warned


# -- the payments module: "Enviar por correo" -------------------------------------------------------


def test_staff_send_a_fresh_pay_link_by_email_once(
    client: Any, gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer, monkeypatch: Any
) -> None:
    fast_hashing(monkeypatch)
    add_users(gateway.store)
    declined = card_payment(gateway, acme, "k-card", ("F-2",), token="tok_declined")
    assert declined.status == "failed" and rows(gateway) == []
    sign_in(client, USERS["cobranza"])
    url = f"/panel/pagos/{declined.id}/enlace"
    page = client.get(url).get_data(as_text=True)
    assert "Enviar por correo" in page and CUSTOMER_EMAIL in page
    form = {"csrf_token": csrf_token(page), "key": form_value(page, "key"), "enviar": "correo"}
    assert (
        client.post(url, data={k: v for k, v in form.items() if k != "csrf_token"}).status_code
        == 400
    )
    first = client.post(url, data=form)
    assert first.status_code == 302
    client.post(url, data=form)  # a double submit: one e-mail
    [row] = rows(gateway)
    assert row.kind == "pay_link" and row.recipient == CUSTOMER_EMAIL
    with gateway.store.read() as session:
        entry = audit.entries(session, "acme", limit=1)[0]
        assert entry.action == "pay_link" and entry.detail == {"email": CUSTOMER_EMAIL}
    assert smtp.recorder.received == []

    assert send(gateway).sent == 1
    [message] = smtp.recorder.received
    assert message["Subject"] == "Tu enlace para pagar a Distribuidora del Centro"
    plain, html = text_of(message)
    assert "Tu pago de $234.50 no se completó" in plain
    link = next(line for line in plain.splitlines() if "/portal/" in line).strip()
    assert link in html and "El enlace funciona hasta el" in plain
    assert client.get(link.split("8000", 1)[1]).status_code == 200  # the customer's page


def test_without_email_settings_the_panel_only_copies_the_link(
    client: Any, gateway: Gateway, acme: Any, customer: None, monkeypatch: Any
) -> None:
    fast_hashing(monkeypatch)
    add_users(gateway.store)
    declined = card_payment(gateway, acme, "k-card", ("F-2",), token="tok_declined")
    sign_in(client, USERS["cobranza"])
    seed_customer(gateway.store, "acme", customer_id="C-1", name="Sin correo")  # e-mail cleared
    page = client.get(f"/panel/pagos/{declined.id}/enlace").get_data(as_text=True)
    assert "No se puede enviar por correo" in page
    detail = client.get(f"/panel/pagos/{declined.id}").get_data(as_text=True)
    assert "Sin correo: no se le envían comprobantes ni enlaces." in detail


def test_the_worker_command_sends_what_is_due(
    gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer, monkeypatch: Any
) -> None:
    card_payment(gateway, acme, "k-card", ("F-2",))
    use_gateway(monkeypatch, gateway)
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    [message] = smtp.recorder.received
    assert message["Subject"].startswith("Comprobante de pago por $234.50")
    assert [row.state for row in rows(gateway)] == ["sent"]


# -- several workers, a slow server, QUIT, odd recipients -------------------------------------------


class Clock:
    """The delivery module's clock, moved by hand (an SMTP exchange that takes its time)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> Any:
        return self.now


def queue_rows(gateway: Gateway, count: int, **values: Any) -> list[int]:
    values = {"data": {}, **values}
    with gateway.store.write() as session:
        made = [
            EmailMessage(
                merchant_id="acme",
                payment_id=f"pay_{n}",
                kind="receipt",
                dedupe_key="receipt",
                recipient=CUSTOMER_EMAIL,
                next_attempt_at=utcnow() - timedelta(seconds=1),
                **values,
            )
            for n in range(count)
        ]
        session.add_all(made)
        session.flush()
        return [row.id for row in made]


def numbered(outgoing: mail_delivery.Outgoing) -> mail_delivery.Rendered:
    return mail_delivery.Rendered(subject=f"#{outgoing.id}", text="Hola", html="<p>Hola</p>")


def test_two_workers_and_a_slow_server_send_each_email_once(
    gateway: Gateway, monkeypatch: Any
) -> None:
    """40 s an e-mail: a worker's later e-mails outlived a lease taken at its pass's start, and a
    second worker's pass sent them again."""
    clock = Clock()
    monkeypatch.setattr(mail_delivery, "utcnow", clock)
    ids = queue_rows(gateway, 30)
    sent: list[int] = []

    def worker(nested: bool) -> mail_delivery.Sent:
        def slow(settings: Any, message: Any, *recipient: str) -> None:
            clock.now += timedelta(seconds=40)
            sent.append(int(message["Subject"][1:]))
            if nested:  # a second worker's whole pass while this one is sending
                worker(nested=False)

        return mail_delivery.deliver_due(
            gateway.store, gateway.merchants, numbered, send=slow, limit=50
        )

    per_pass = []
    for _ in range(len(ids)):
        worker(nested=True)
        per_pass.append(len(sent) - sum(per_pass))
    assert sorted(sent) == ids  # each once
    assert {(row.state, row.attempts) for row in rows(gateway)} == {("sent", 1)}
    # 60 s of e-mail a pass (two workers, 40 s each e-mail): their other work is not held up
    assert per_pass[:10] == [3] * 10


def test_an_outcome_after_the_lease_ended_does_not_overwrite_the_other_workers(
    gateway: Gateway, monkeypatch: Any
) -> None:
    """A stuck exchange outlives the lease; another worker sends the e-mail; the stuck one then
    fails: the e-mail stays sent (not queued for a third time)."""
    clock = Clock()
    monkeypatch.setattr(mail_delivery, "utcnow", clock)
    [row_id] = queue_rows(gateway, 1)
    second: list[mail_delivery.Sent] = []

    def accept(settings: Any, message: Any, *recipient: str) -> None:
        pass

    def stuck(settings: Any, message: Any, *recipient: str) -> None:
        clock.now += mail_delivery.LEASE + timedelta(minutes=1)
        second.append(
            mail_delivery.deliver_due(gateway.store, gateway.merchants, numbered, send=accept)
        )
        raise smtplib.SMTPServerDisconnected("timed out")

    first = mail_delivery.deliver_due(gateway.store, gateway.merchants, numbered, send=stuck)
    assert second[0].sent == 1
    [row] = rows(gateway)
    assert (row.id, row.state, row.attempts, row.last_error) == (row_id, "sent", 1, None)
    assert (first.sent, first.retried, first.lost) == (0, 0, 1)


def test_a_quit_the_server_refuses_after_accepting_the_email_is_still_sent_once(
    gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer
) -> None:
    card_payment(gateway, acme, "k-card", ("F-2",))
    smtp.recorder.quit_reply = "421 4.3.2 Cerrando"
    done = send(gateway)
    assert (done.sent, done.retried) == (1, 0)
    [row] = rows(gateway)
    assert row.state == "sent" and row.last_error is None
    later = utcnow() + timedelta(hours=2)
    assert send(gateway, now=later).sent == 0
    assert len(smtp.recorder.received) == 1


def test_a_recipient_that_is_not_one_address_is_dead_at_once_and_its_data_cleared(
    gateway: Gateway, acme: Any, smtp: SmtpServer
) -> None:
    seed_customer(gateway.store, "acme", (("F-2", "234.50"),), email="a,b@ferreteria.mx")
    card_payment(gateway, acme, "k-card", ("F-2",))
    link = {"url": "http://127.0.0.1:8000/portal/abc", "expires_at": utcnow().isoformat()}
    with gateway.store.write() as session:
        session.execute(update(EmailMessage).values(data=link))
    done = send(gateway)
    assert (done.sent, done.dead) == (0, 1)
    [row] = rows(gateway)
    assert row.state == "dead" and row.attempts == 1 and row.data == {}
    assert row.last_error == "the recipient 'a,b@ferreteria.mx' is not one e-mail address"
    assert smtp.recorder.envelopes == []


def test_an_expired_pay_link_is_skipped_and_its_url_cleared(
    gateway: Gateway, acme: Any, customer: None, smtp: SmtpServer
) -> None:
    declined = card_payment(gateway, acme, "k-card", ("F-2",), token="tok_declined")
    expired = {"url": "http://127.0.0.1:8000/portal/abc", "expires_at": utcnow().isoformat()}
    [row_id] = queue_rows(gateway, 1, data=expired)
    with gateway.store.write() as session:
        session.execute(
            update(EmailMessage)
            .where(EmailMessage.id == row_id)
            .values(kind="pay_link", dedupe_key="pay_link:k", payment_id=declined.id)
        )
    assert send(gateway).skipped == 1
    [row] = rows(gateway)
    assert row.state == "skipped" and row.data == {}
    assert smtp.recorder.received == []
