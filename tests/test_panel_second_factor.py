"""The payments module's second factor and session limits through Flask's test client: enrolling
a TOTP app in the page (QR code and text, confirmed by a code, never shown again), an admin of a
merchant that requires it enrolling at sign-in, an admin resetting another user's factor, the
absolute session lifetime, sessions ended by a new password or a disable, and the lockout
ceiling said in Spanish."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest

from b2bgateway import audit, signin, staff, throttle, totp
from b2bgateway.audit import Actor
from b2bgateway.gateway import Gateway
from b2bgateway.store.staff_models import StaffUser
from tests.support.panel import PASSWORD, USERS, add_users, csrf_token, fast_hashing, sign_in
from tests.support.web import with_merchant

CLI = Actor("acme", "cli:test", "local")


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)


@pytest.fixture
def users(store, data):
    add_users(store)


def _secret(html: str) -> str:
    found = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html)
    assert found is not None, html[:3000]
    return found.group(1).replace(" ", "")


def _next_code(secret: str) -> str:
    """A code of the next time step: still accepted (drift), and never the one just used."""
    return pyotp.TOTP(secret).at(time.time() + totp.STEP)


def _actions(store) -> list[str]:
    with store.read() as session:
        return [e.action for e in audit.entries(session, "acme")]


def test_a_signed_in_user_enrols_with_a_qr_code_and_a_code(client, users, store):
    sign_in(client, USERS["cobranza"])
    page = client.get("/panel/segundo-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<img class="qr" src="data:image/svg+xml' in html
    assert "app de autenticación" in html
    secret = _secret(html)
    assert _secret(client.get("/panel/segundo-factor").get_data(as_text=True)) == secret
    # without its CSRF token: refused
    assert client.post("/panel/segundo-factor", data={"code": "123456"}).status_code == 400
    wrong = client.post(
        "/panel/segundo-factor", data={"csrf_token": csrf_token(html), "code": "000000"}
    )
    assert wrong.status_code == 422
    assert "El código no es correcto" in wrong.get_data(as_text=True)
    code = pyotp.TOTP(secret).now()
    done = client.post("/panel/segundo-factor", data={"csrf_token": csrf_token(html), "code": code})
    assert done.status_code == 302
    after = client.get("/panel/segundo-factor").get_data(as_text=True)
    assert "Tu segundo factor está activo" in after
    assert secret not in after and "data:image/svg+xml" not in after  # never shown again
    assert "totp_enrolled" in _actions(store)
    # signing in now needs a code, and not the one that confirmed the enrolment
    fresh = client.application.test_client()
    assert sign_in(fresh, USERS["cobranza"]).status_code == 200  # asks for the code
    assert sign_in(fresh, USERS["cobranza"], code=code).status_code == 200  # used already
    assert sign_in(fresh, USERS["cobranza"], code=_next_code(secret)).status_code == 302


@pytest.fixture
def required(settings, plugins, store):
    """acme requires a second factor of its admins."""
    from b2bgateway_web import create_app

    changed = with_merchant(settings, "acme", admin_totp_required=True)
    app = create_app(gateway=Gateway.build(changed, plugins, store))
    app.testing = True
    return app.test_client()


def test_an_admin_who_must_have_a_second_factor_enrols_at_sign_in(required, users, store):
    answer = sign_in(required)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/panel/entrar/segundo-factor"
    assert required.get("/panel/pagos").status_code == 302  # not signed in yet
    page = required.get("/panel/entrar/segundo-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data:image/svg+xml" in html
    secret = _secret(html)
    url = "/panel/entrar/segundo-factor"
    wrong = required.post(url, data={"csrf_token": csrf_token(html), "code": "000000"})
    assert wrong.status_code == 422
    assert required.get("/panel/pagos").status_code == 302
    right = {"csrf_token": csrf_token(html), "code": pyotp.TOTP(secret).now()}
    done = required.post(url, data=right)
    assert done.status_code == 302 and done.headers["Location"] == "/panel/"
    assert required.get("/panel/pagos").status_code == 200
    assert _actions(store)[:2] == ["sign_in", "totp_enrolled"]
    # the next sign-in asks for a code
    fresh = required.application.test_client()
    assert "Código de verificación" in sign_in(fresh).get_data(as_text=True)


def test_an_enrolment_at_sign_in_expires(required, users):
    sign_in(required)
    with required.session_transaction("/panel/entrar/segundo-factor") as session:
        session["enrol"] = {**session["enrol"], "at": time.time() - 11 * 60}
    answer = required.get("/panel/entrar/segundo-factor")
    assert answer.status_code == 302 and answer.headers["Location"] == "/panel/entrar"
    assert "Vuelve a escribir tu correo" in required.get("/panel/entrar").get_data(as_text=True)


def test_an_admin_resets_another_users_second_factor(client, users, store, app):
    with store.write() as session:
        caja = staff.find_user(session, USERS["cobranza"])
        secret = totp.issue(session, CLI, caja)
        caja_id = caja.id
    other = app.test_client()
    assert sign_in(other, USERS["cobranza"], code=pyotp.TOTP(secret).now()).status_code == 302
    assert other.get("/panel/pagos").status_code == 200
    # a consulta user cannot
    sign_in(client, USERS["consulta"])
    token = csrf_token(client.get("/panel/").get_data(as_text=True))
    url = f"/panel/usuarios/{caja_id}/restablecer-segundo-factor"
    assert client.post(url, data={"csrf_token": token}).status_code == 403
    # an admin can
    admin = app.test_client()
    sign_in(admin)
    page = admin.get("/panel/usuarios").get_data(as_text=True)
    assert "Restablecer segundo factor" in page
    assert admin.post(url, data={"csrf_token": csrf_token(page)}).status_code == 302
    assert "Segundo factor restablecido" in admin.get("/panel/usuarios").get_data(as_text=True)
    assert other.get("/panel/pagos").status_code == 302  # its sessions ended
    assert sign_in(other, USERS["cobranza"]).status_code == 302  # no code asked now
    with store.read() as session:
        assert session.get(StaffUser, caja_id).totp_ciphertext is None
        reset = [e for e in audit.entries(session, "acme") if e.action == "totp_reset"]
    assert [(e.subject, e.user_email) for e in reset] == [(USERS["cobranza"], USERS["admin"])]


def test_a_session_ends_twelve_hours_after_sign_in_even_when_used(client, users):
    sign_in(client)
    assert client.get("/panel/pagos").status_code == 200
    with client.session_transaction("/panel/pagos") as session:
        session["since"] = time.time() - 12 * 3600 - 1
        session["seen"] = time.time()  # used a moment ago
    response = client.get("/panel/pagos")
    assert response.status_code == 302 and response.headers["Location"] == "/panel/entrar"
    assert "12 horas" in client.get("/panel/entrar").get_data(as_text=True)
    assert client.get("/panel/pagos").status_code == 302


@pytest.mark.parametrize("change", ["password", "disable"])
def test_a_new_password_or_a_disable_ends_every_session(client, users, store, change):
    sign_in(client, USERS["cobranza"])
    assert client.get("/panel/pagos").status_code == 200
    with store.write() as session:
        if change == "password":
            staff.reset_password(session, CLI, "acme", USERS["cobranza"], PASSWORD + "-2")
        else:
            staff.disable_user(session, CLI, "acme", USERS["cobranza"])
    assert client.get("/panel/pagos").status_code == 302


def _sign_in_from(client, address: str, password: str) -> object:
    page = client.get("/panel/entrar", environ_base={"REMOTE_ADDR": address})
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "email": USERS["consulta"],
        "password": password,
    }
    return client.post("/panel/entrar", data=data, environ_base={"REMOTE_ADDR": address})


def test_the_lockout_is_per_network_and_its_ceiling_is_said_in_spanish(client, users, monkeypatch):
    ceiling = throttle.FailedAuthSettings(
        limit=8, window=timedelta(hours=1), block=timedelta(hours=1)
    )
    monkeypatch.setattr(signin, "CEILING_POLICY", ceiling)
    for _ in range(5):
        locked = _sign_in_from(client, "2001:db8:9:9::1", "equivocada-123")
    assert locked.status_code == 429
    assert "desde tu conexión" in locked.get_data(as_text=True)
    # another address of the same /64 is the same network: still locked
    assert _sign_in_from(client, "2001:db8:9:9::2", PASSWORD).status_code == 429
    assert _sign_in_from(client, "192.0.2.1", PASSWORD).status_code == 302  # another network
    for n in range(3):
        everywhere = _sign_in_from(client, f"198.51.100.{n}", "equivocada-123")
    assert everywhere.status_code == 429
    assert "varias conexiones" in everywhere.get_data(as_text=True)
    assert _sign_in_from(client, "203.0.113.1", PASSWORD).status_code == 429
    assert _sign_in_from(client, "192.0.2.1", PASSWORD).status_code == 302  # the usual network
