"""The merchant's payments module (/panel) through Flask's test client: sign-in and its limits,
security (CSRF, roles, other merchants, session expiry, cookies), the list, exports and actions."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import io
import time
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from b2bgateway import audit, manual, refunds, service, signin, staff
from b2bgateway.errors import IdempotencyConflict
from b2bgateway.money import Money
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.settings import Settings
from b2bgateway.store.models import Customer, OutboxMessage
from b2bgateway.store.staff_models import StaffUser
from tests.support.panel import (
    PASSWORD,
    USERS,
    add_users,
    card_payment,
    csrf_token,
    fast_hashing,
    form_value,
    sign_in,
)
from tests.support.seeding import seed_customer
from tests.support.web import AUTH


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)


@pytest.fixture
def users(store, data):
    add_users(store)
    add_users(
        store, "globex", admin="jefe@globex.mx", cobranza="c@globex.mx", consulta="v@globex.mx"
    )


def _manual(gateway, merchant, invoices=("F-1", "F-2"), key="m-1"):
    return manual.record_manual_payment(
        gateway,
        merchant,
        manual.ManualPaymentRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key=key,
            method="cash",
            received_on=date.today(),
            invoice_ids=invoices,
        ),
    )


def _card(gateway, acme, key="c-1", invoices=("F-2",), token="tok_approved"):
    return card_payment(gateway, acme, key, invoices, token)


def _post_confirmed(client, url, **fields):
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    html = page.get_data(as_text=True)
    data = {"csrf_token": csrf_token(html), "key": form_value(html, "key"), **fields}
    return client.post(url, data=data)


# -- sign-in -------------------------------------------------------------------------------------


def test_pages_need_a_session_and_sign_in_leads_back(client, users):
    response = client.get("/panel/pagos?estado=failed")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/panel/entrar?next=")
    page = client.get("/panel/entrar")
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "email": USERS["admin"],
        "password": PASSWORD,
    }
    signed = client.post("/panel/entrar?next=/panel/pagos?estado%3Dfailed", data=data)
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/panel/pagos?estado=failed"
    assert client.get("/panel/pagos").status_code == 200


def test_a_sign_in_never_sends_anyone_to_another_site(client, users):
    page = client.get("/panel/entrar")
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "email": USERS["admin"],
        "password": PASSWORD,
    }
    signed = client.post("/panel/entrar?next=https://evil.example/panel/", data=data)
    assert signed.headers["Location"] == "/panel/"


def test_a_wrong_password_and_then_the_lockout_say_so_in_spanish(client, users, store):
    for _ in range(signin.MAX_ACCOUNT_FAILURES - 1):
        refused = sign_in(client, password="equivocada-123")
        assert refused.status_code == 401
        assert "Correo o contraseña incorrectos." in refused.get_data(as_text=True)
    locked = sign_in(client, password="equivocada-123")
    assert locked.status_code == 429
    assert "bloqueamos esta cuenta" in locked.get_data(as_text=True)
    assert sign_in(client).status_code == 429  # the right password waits too
    with store.read() as session:
        actions = [e.action for e in audit.entries(session, "acme", limit=7)]
    assert actions[:6] == ["sign_in_failed"] * 6


def test_the_session_cookie_is_httponly_samesite_and_scoped(client, users):
    response = sign_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "b2bgateway_panel=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/panel" in cookie


def test_the_session_cookie_is_secure_behind_https(database_url, plugins, store, data):
    from b2bgateway.gateway import Gateway
    from b2bgateway_web import create_app

    settings = Settings(
        database_url=database_url,
        public_url="https://pagos.example.mx",
        merchants={"acme": {"api_keys": ["sk_test_merchant_a"], "processor": ""}},
    )
    add_users(store)
    app = create_app(gateway=Gateway.build(settings, plugins, store))
    cookie = sign_in(app.test_client()).headers["Set-Cookie"]
    assert "Secure" in cookie


def test_an_idle_session_ends(client, users):
    sign_in(client)
    assert client.get("/panel/pagos").status_code == 200
    with client.session_transaction("/panel/pagos") as session:
        session["seen"] = time.time() - 31 * 60
    response = client.get("/panel/pagos")
    assert response.status_code == 302
    assert response.headers["Location"] == "/panel/entrar"
    assert "sin actividad" in client.get("/panel/entrar").get_data(as_text=True)
    assert client.get("/panel/pagos").status_code == 302


def test_signing_out_ends_the_session_even_for_a_copied_cookie(client, users, app):
    sign_in(client)
    copy = app.test_client()
    cookie = client.get_cookie("b2bgateway_panel", path="/panel")
    copy.set_cookie("b2bgateway_panel", cookie.value, path="/panel")
    assert copy.get("/panel/pagos").status_code == 200
    page = client.get("/panel/").get_data(as_text=True)
    assert client.post("/panel/salir", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert copy.get("/panel/pagos").status_code == 302


# -- security --------------------------------------------------------------------------------------


def test_a_post_without_its_csrf_token_is_refused(client, users, gateway, acme):
    bare = client.post("/panel/entrar", data={"email": USERS["admin"], "password": PASSWORD})
    assert bare.status_code == 400
    sign_in(client)
    paid = _manual(gateway, acme)
    url = f"/panel/pagos/{paid.id}/anular"
    html = client.get(url).get_data(as_text=True)
    forged = client.post(url, data={"key": form_value(html, "key"), "reason": "x"})
    assert forged.status_code == 400
    with gateway.store.read() as session:
        assert service.get_payment(session, "acme", paid.id).status == "succeeded"


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        ("consulta", "/reembolsar", False),
        ("consulta", "/enlace", False),
        ("cobranza", "/reembolsar", False),
        ("cobranza", "/anular", False),
        ("cobranza", "/enlace", True),
        ("admin", "/anular", True),
    ],
)
def test_roles_limit_the_actions(client, users, gateway, acme, role, path, allowed):
    paid = _manual(gateway, acme)
    sign_in(client, USERS[role])
    response = client.get(f"/panel/pagos/{paid.id}{path}")
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert client.post(f"/panel/pagos/{paid.id}{path}", data={}).status_code in (400, 403)


def test_a_consulta_user_sees_no_manual_payments_or_audit_log(client, users):
    sign_in(client, USERS["consulta"])
    refused = client.get("/panel/pagos-manuales")
    assert refused.status_code == 403
    assert "Tu rol no permite esta acción." in refused.get_data(as_text=True)
    assert client.get("/panel/bitacora").status_code == 403
    assert "Pagos manuales" not in client.get("/panel/").get_data(as_text=True)


def test_another_merchants_payment_does_not_exist(client, users, gateway, acme):
    paid = _manual(gateway, acme)
    sign_in(client, "jefe@globex.mx")
    missing = client.get(f"/panel/pagos/{paid.id}")
    assert missing.status_code == 404
    assert "Ese pago no existe en tu comercio." in missing.get_data(as_text=True)
    assert client.get(f"/panel/pagos/{paid.id}/anular").status_code == 404
    assert paid.id not in client.get("/panel/pagos").get_data(as_text=True)
    assert paid.id not in client.get("/panel/pagos/exportar.csv").get_data(as_text=True)


# -- the list and the exports ----------------------------------------------------------------------


def test_filters_total_and_keyset_pages(client, users, gateway, acme, store, monkeypatch):
    seed_customer(store, "acme", (("G-1", "10.00"),), customer_id="C-2", name="Óptica Núñez")
    first = _card(gateway, acme, "c-1", ("F-2",))
    declined = _card(gateway, acme, "c-2", ("F-1",), token="tok_declined")
    other = manual.record_manual_payment(
        gateway,
        acme,
        manual.ManualPaymentRequest(
            customer_id="C-2",
            purpose="invoices",
            idempotency_key="m-2",
            method="check",
            received_on=date.today(),
            invoice_ids=("G-1",),
        ),
    )
    sign_in(client)
    page = client.get("/panel/pagos").get_data(as_text=True)
    assert page.index(other.id) < page.index(declined.id) < page.index(first.id)  # newest first
    assert "3 pagos" in page
    by_name = client.get("/panel/pagos?cliente=núñez").get_data(as_text=True)
    assert other.id in by_name and first.id not in by_name
    by_folio = client.get("/panel/pagos?folio=F-2").get_data(as_text=True)
    assert first.id in by_folio and other.id not in by_folio and "1 pago" in by_folio
    failed = client.get("/panel/pagos-fallidos").get_data(as_text=True)
    assert declined.id in failed and first.id not in failed
    assert "El banco del cliente rechazó la tarjeta." in failed
    assert f'href="/panel/pagos/{declined.id}/enlace"' in failed  # an admin may send a link
    assert f'href="/panel/pagos/{declined.id}"' in failed and "mailto:" not in failed
    with store.write() as session:
        session.execute(
            update(Customer).where(Customer.customer_id == "C-1").values(email="pagos@c1.mx")
        )
    assert 'href="mailto:pagos@c1.mx"' in client.get("/panel/pagos-fallidos").get_data(as_text=True)
    assert client.get("/panel/pagos?monto_min=abc").status_code == 200  # shown, not a 500

    from b2bgateway_web.panel import payments

    monkeypatch.setattr(payments, "PAGE_SIZE", 2)
    one = client.get("/panel/pagos").get_data(as_text=True)
    assert other.id in one and declined.id in one and first.id not in one
    assert "3 pagos" in one  # every match counted, not the page's two
    import re

    summary = re.compile(r'<p class="summary">([^<]*)<')
    assert summary.search(one).group(1) == summary.search(page).group(1)  # counted = the page's

    following = re.search(r'href="([^"]+)" rel="next"', one)
    assert following is not None
    two = client.get(following.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert first.id in two and other.id not in two
    assert "3 pagos" in two  # a later page holding the rest still says the filtered total
    assert client.get("/panel/pagos?despues=basura").status_code == 200


def test_csv_has_a_bom_for_excel_and_xlsx_opens(client, users, gateway, acme, store):
    seed_customer(store, "acme", (("G-1", "10.00"),), customer_id="C-2", name="Óptica Núñez")
    manual.record_manual_payment(
        gateway,
        acme,
        manual.ManualPaymentRequest(
            customer_id="C-2",
            purpose="invoices",
            idempotency_key="m-2",
            method="check",
            received_on=date.today(),
            invoice_ids=("G-1",),
        ),
    )
    sign_in(client)
    response = client.get("/panel/pagos/exportar.csv?cliente=C-2")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    assert "Óptica Núñez" in text and "Método" in text
    assert len(text.strip().splitlines()) == 2
    xlsx = client.get("/panel/pagos/exportar.xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.get_data()), read_only=True).active.values)
    assert rows[1][3] == "Óptica Núñez"


# -- actions ---------------------------------------------------------------------------------------


def test_a_manual_payment_from_the_page_then_void(client, users, gateway):
    sign_in(client)
    page = client.get("/panel/pagos-manuales?cliente=C-1").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "key": form_value(page, "key"),
        "cliente": "C-1",
        "factura": ["F-1", "F-2"],
        "method": "transfer",
        "reference": "SPEI 42",
        "received_on": date.today().isoformat(),
    }
    created = client.post("/panel/pagos-manuales", data=data)
    assert created.status_code == 302, created.get_data(as_text=True)
    again = client.post("/panel/pagos-manuales", data=data)  # a double submit: the same payment
    assert again.headers["Location"] == created.headers["Location"]
    payability = client.post(
        "/v1/payability/invoices", json={"customer_id": "C-1", "invoice_ids": ["F-1"]}, headers=AUTH
    )
    assert payability.json["reasons"] == ["payment_registered"]
    listed = client.get("/panel/pagos-manuales?cliente=C-1").get_data(as_text=True)
    assert "Ya tiene un pago registrado" in listed
    payment_id = created.headers["Location"].rsplit("/", 1)[1]
    voided = _post_confirmed(client, f"/panel/pagos/{payment_id}/anular", reason="Error de captura")
    assert voided.status_code == 302
    payability = client.post(
        "/v1/payability/invoices", json={"customer_id": "C-1", "invoice_ids": ["F-1"]}, headers=AUTH
    )
    assert payability.json["payable"] is True
    detail = client.get(f"/panel/pagos/{payment_id}").get_data(as_text=True)
    assert "Anulación" in detail and "Error de captura" in detail
    with gateway.store.read() as session:
        actions = [e.action for e in audit.entries(session, "acme", limit=3)]
    assert actions[:2] == ["void", "manual_payment"]


def test_a_partial_refund_with_its_reason_is_audited_once_done(client, users, gateway, acme):
    paid = _card(gateway, acme)
    sign_in(client)
    refunded = _post_confirmed(
        client, f"/panel/pagos/{paid.id}/reembolsar", amount="100.00", reason="Mercancía dañada"
    )
    assert refunded.status_code == 302, refunded.get_data(as_text=True)
    with gateway.store.read() as session:
        payment = service.get_payment(session, "acme", paid.id)
        assert payment.refunded == Money("100.00", "MXN")
        assert [r.reason for r in payment.refunds] == ["Mercancía dañada"]
        assert audit.entries(session, "acme", limit=1)[0].action == "refund"
    too_much = _post_confirmed(
        client, f"/panel/pagos/{paid.id}/reembolsar", amount="99999.00", reason="x"
    )
    assert too_much.status_code == 409


def test_a_fresh_payment_link_to_copy(client, users, gateway, acme):
    declined = _card(gateway, acme, token="tok_declined")
    sign_in(client, USERS["cobranza"])
    page = _post_confirmed(client, f"/panel/pagos/{declined.id}/enlace")
    assert page.status_code == 200
    assert "/portal/" in page.get_data(as_text=True)


def test_home_and_audit_log(client, users, gateway, acme):
    _manual(gateway, acme)
    sign_in(client)
    home = client.get("/panel/").get_data(as_text=True)
    assert "Cobrado hoy" in home and "$2,500.00" in home
    log = client.get("/panel/bitacora").get_data(as_text=True)
    assert "Entró" in log
    export = client.get("/panel/bitacora/exportar.csv").get_data().decode("utf-8-sig")
    assert "ana@acme.mx" in export
    client.get("/panel/pagos/exportar.xlsx?cliente=C-1")
    with gateway.store.read() as session:
        logged = [(e.action, e.subject, e.detail) for e in audit.entries(session, "acme", limit=2)]
    assert logged == [
        ("export", "pagos.xlsx", {"cliente": "C-1"}),
        ("export", "bitacora.csv", None),
    ]


def _dead_event(gateway, payment_id: str) -> int:
    """An outbound event of ``payment_id`` the worker gave up on (a dead letter); its id."""
    with gateway.store.write() as session:
        dead = OutboxMessage(
            merchant_id="acme",
            event_type="payment.succeeded",
            ordering_key=payment_id,
            payload={"id": "evt_1"},
            state="dead",
            attempts=8,
        )
        session.add(dead)
        session.flush()
        return dead.id


def test_an_event_is_replayed_only_from_its_own_payments_page(client, users, gateway, acme):
    first, second = (
        _card(gateway, acme, key="c-1", invoices=("F-1",)),
        _card(gateway, acme, key="c-2", invoices=("F-2",)),
    )
    message_id = _dead_event(gateway, first.id)  # an event of the first payment
    sign_in(client)
    wrong = _post_confirmed(client, f"/panel/pagos/{second.id}/eventos/{message_id}/reenviar")
    assert wrong.status_code == 302
    with gateway.store.read() as session:
        assert session.get(OutboxMessage, message_id).state == "dead"
    right = _post_confirmed(client, f"/panel/pagos/{first.id}/eventos/{message_id}/reenviar")
    assert right.status_code == 302
    with gateway.store.read() as session:
        assert session.get(OutboxMessage, message_id).state == "pending"


def test_a_replay_that_cannot_be_audited_is_not_made(client, users, gateway, acme, monkeypatch):
    payment = _card(gateway, acme, key="c-1", invoices=("F-1",))
    message_id = _dead_event(gateway, payment.id)
    sign_in(client)

    def broken(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(audit, "record", broken)
    failed = _post_confirmed(client, f"/panel/pagos/{payment.id}/eventos/{message_id}/reenviar")
    assert failed.status_code == 500
    with gateway.store.read() as session:
        assert session.get(OutboxMessage, message_id).state == "dead"


def test_cancel_a_waiting_payment_from_its_page(client, users, gateway, acme):
    waiting = _card(gateway, acme, token="tok_3ds")
    sign_in(client)
    assert "Cancelar pago" in client.get(f"/panel/pagos/{waiting.id}").get_data(as_text=True)
    done = _post_confirmed(client, f"/panel/pagos/{waiting.id}/cancelar")
    assert done.status_code == 302
    with gateway.store.read() as session:
        assert service.get_payment(session, "acme", waiting.id).status == "canceled"
    again = _post_confirmed(client, f"/panel/pagos/{waiting.id}/cancelar")
    assert again.status_code == 409


def test_an_admin_adds_and_disables_users_in_the_page(client, users, store):
    sign_in(client)
    page = client.get("/panel/usuarios").get_data(as_text=True)
    assert "caja@acme.mx" in page and "jefe@globex.mx" not in page
    data = {
        "csrf_token": csrf_token(page),
        "email": "nuevo@acme.mx",
        "name": "Nuevo",
        "role": "consulta",
        "password": "corta",
    }
    assert client.post("/panel/usuarios", data=data).status_code == 422
    created = client.post("/panel/usuarios", data={**data, "password": PASSWORD})
    assert created.status_code == 302
    with store.read() as session:
        new = next(u for u in staff.list_users(session, "acme") if u.email == "nuevo@acme.mx")
    page = client.get("/panel/usuarios").get_data(as_text=True)
    disabled = client.post(
        f"/panel/usuarios/{new.id}/desactivar", data={"csrf_token": csrf_token(page)}
    )
    assert disabled.status_code == 302
    assert sign_in(client, "nuevo@acme.mx").status_code == 401
    sign_in(client, USERS["cobranza"])
    assert client.get("/panel/usuarios").status_code == 403


def test_exports_never_hand_a_spreadsheet_a_formula(client, users, gateway, acme, store):
    name = '=HYPERLINK("http://evil.example","Pagar")'
    seed_customer(store, "acme", (("G-1", "10.00"),), customer_id="C-2", name=name)
    manual.record_manual_payment(
        gateway,
        acme,
        manual.ManualPaymentRequest(
            customer_id="C-2",
            purpose="invoices",
            idempotency_key="m-2",
            method="check",
            received_on=date.today(),
            invoice_ids=("G-1",),
        ),
    )
    with store.write() as session:
        actor = audit.Actor("acme", "ana@acme.mx", "10.0.0.1")
        for subject in ("+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx"):
            audit.record(session, actor, "replay", subject)
    sign_in(client)
    csv_text = client.get("/panel/pagos/exportar.csv?cliente=C-2").get_data().decode("utf-8-sig")
    row = next(csv.reader(io.StringIO(csv_text.splitlines()[1])))
    assert row[3] == "'" + name
    assert row[9] == "10.00"
    xlsx = client.get("/panel/pagos/exportar.xlsx?cliente=C-2")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet.cell(2, 4).value == "'" + name and sheet.cell(2, 4).data_type == "s"
    assert sheet.cell(2, 10).value == 10 and sheet.cell(2, 10).data_type == "n"
    logged = client.get("/panel/bitacora/exportar.csv").get_data().decode("utf-8-sig")
    subjects = {r[3] for r in csv.reader(io.StringIO(logged))}
    assert {"'+1+1", "'-1+1", "'@SUM(A1)", "'\tx", "'\rx"} <= subjects
    assert not {"+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx"} & subjects


def test_a_user_whose_merchant_is_gone_is_sent_to_sign_in_not_a_500(client, users, store):
    assert sign_in(client).status_code == 302
    with store.write() as session:  # as if acme were taken out of the configuration
        session.execute(
            update(StaffUser).where(StaffUser.email == USERS["admin"]).values(merchant_id="gone")
        )
    assert client.get("/panel/").status_code == 302
    assert sign_in(client).status_code == 401


def test_a_session_cookie_signed_with_a_key_from_the_api_keys_is_refused(client, users, app, store):
    """Whoever holds an API key could compute the old key (HMAC of every key): not any more."""
    keys = sorted(
        k.get_secret_value()
        for m in app.extensions["b2bgateway"].merchants.values()
        for k in m.settings.api_keys
    )
    forged_key = hmac.new(
        "\n".join(keys).encode(), b"b2bgateway payments module session v1", hashlib.sha256
    ).digest()
    client.get("/panel/entrar")  # the first request reads the key
    assert app.secret_key and app.secret_key != forged_key
    real_key, app.secret_key = app.secret_key, forged_key
    try:
        serializer = app.session_interface.get_signing_serializer(app)
    finally:
        app.secret_key = real_key
    with store.read() as session:
        identity = {"_user_id": f"{staff.find_user(session, USERS['admin']).id}:0", "_fresh": True}
    cookie = serializer.dumps({**identity, "seen": time.time(), "since": time.time()})
    client.set_cookie("b2bgateway_panel", cookie, path="/panel")
    assert client.get("/panel/").status_code == 302
    # the same cookie signed with the real key is a session (the test can fail)
    client.set_cookie(
        "b2bgateway_panel",
        app.session_interface.get_signing_serializer(app).dumps(
            {**identity, "seen": time.time(), "since": time.time()}
        ),
        path="/panel",
    )
    assert client.get("/panel/").status_code == 200


def test_a_refund_the_processor_refuses_says_it_failed_and_is_audited(
    client, users, gateway, acme, store
):
    paid = _card(gateway, acme)
    # refunded in the processor's own dashboard, unknown to the gateway: the processor refuses
    open_ledger(acme.settings_for("sandbox")).refund(
        "acme", paid.processor_reference, refund_id="re_x", idempotency_key="k", amount=paid.amount
    )
    sign_in(client)
    refused = _post_confirmed(client, f"/panel/pagos/{paid.id}/reembolsar", reason="x")
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "El reembolso falló" in page and "Reembolso registrado" not in page
    with store.read() as session:
        entry = audit.entries(session, "acme", limit=1)[0]
    assert (entry.action, entry.subject, entry.user_email) == ("refund", paid.id, USERS["admin"])


def test_an_idempotency_key_never_answers_another_operation(gateway, acme, data, store):
    first, second = (
        _card(gateway, acme, key="c-1", invoices=("F-1",)),
        _card(gateway, acme, key="c-2", invoices=("F-2",)),
    )
    refunds.refund(gateway, acme, first.id, None, "x", "r-1")
    with pytest.raises(IdempotencyConflict):
        refunds.refund(gateway, acme, second.id, None, "x", "r-1")
    seed_customer(store, "acme", (("G-1", "10.00"),), customer_id="C-2", name="Otro")
    manual.record_manual_payment(
        gateway,
        acme,
        manual.ManualPaymentRequest(
            customer_id="C-2",
            purpose="invoices",
            idempotency_key="m-1",
            method="cash",
            received_on=date.today(),
            invoice_ids=("G-1",),
        ),
    )
    with pytest.raises(IdempotencyConflict):
        _manual(gateway, acme, key="m-1")


def test_a_refund_is_in_the_payments_currency_not_the_merchants(
    client, users, gateway, acme, monkeypatch
):
    paid = _card(gateway, acme)  # in MXN; then the merchant's currency becomes USD
    usd = dataclasses.replace(acme, settings=acme.settings.model_copy(update={"currency": "USD"}))
    monkeypatch.setitem(gateway.merchants, "acme", usd)
    sign_in(client)
    refunded = _post_confirmed(
        client, f"/panel/pagos/{paid.id}/reembolsar", amount="10.00", reason="Nota de crédito"
    )
    assert refunded.status_code == 302, refunded.get_data(as_text=True)
    with gateway.store.read() as session:
        assert service.get_payment(session, "acme", paid.id).refunded == Money("10.00", "MXN")


def test_the_page_answers_an_unknown_email_as_a_locked_account(client, users):
    answers = {}
    for email in (USERS["admin"], "nadie@acme.mx"):
        tries = [sign_in(client, email=email, password="equivocada-123") for _ in range(6)]
        answers[email] = [
            (r.status_code, "bloqueamos esta cuenta" in r.get_data(as_text=True)) for r in tries
        ]
    assert answers[USERS["admin"]] == answers["nadie@acme.mx"]
    assert answers["nadie@acme.mx"][-2:] == [(429, True), (429, True)]
