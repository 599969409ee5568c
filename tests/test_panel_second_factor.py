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
from b2bgateway.store.models import utcnow
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
        "/panel/segundo-factor",
        data={"csrf_token": csrf_token(html), "code": "000000", "password": PASSWORD},
    )
    assert wrong.status_code == 422
    assert "El código no es correcto" in wrong.get_data(as_text=True)
    code = pyotp.TOTP(secret).now()
    data = {"csrf_token": csrf_token(html), "code": code, "password": PASSWORD}
    done = client.post("/panel/segundo-factor", data=data)
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


def _factor_on(store, email: str) -> bool:
    with store.read() as session:
        return staff.find_user(session, email).totp_ciphertext is not None


def test_enrolling_when_signed_in_needs_the_current_password(client, users, store):
    """A stolen session cannot enrol its own app: the password is asked again."""
    sign_in(client, USERS["cobranza"])
    html = client.get("/panel/segundo-factor").get_data(as_text=True)
    assert 'autocomplete="current-password"' in html
    code = pyotp.TOTP(_secret(html)).now()
    url, token = "/panel/segundo-factor", csrf_token(html)
    missing = client.post(url, data={"csrf_token": token, "code": code})
    assert missing.status_code == 422 and "contraseña actual" in missing.get_data(as_text=True)
    wrong = client.post(url, data={"csrf_token": token, "code": code, "password": "otra-cosa-123"})
    assert wrong.status_code == 422 and "La contraseña no es correcta" in wrong.get_data(
        as_text=True
    )
    assert not _factor_on(store, USERS["cobranza"])
    assert "sign_in_failed" in _actions(store)  # counted like a sign-in failure


def test_two_sessions_of_one_user_are_shown_different_secrets(client, users, store, app):
    """Each enrolment has its own secret, bound to its session; confirming one ends the others
    and the other session's secret is worthless."""
    other = app.test_client()
    sign_in(client, USERS["cobranza"])
    sign_in(other, USERS["cobranza"])
    page_a = client.get("/panel/segundo-factor").get_data(as_text=True)
    page_b = other.get("/panel/segundo-factor").get_data(as_text=True)
    secret_a, secret_b = _secret(page_a), _secret(page_b)
    assert secret_a != secret_b
    data = {"csrf_token": csrf_token(page_b), "password": PASSWORD}
    done = other.post("/panel/segundo-factor", data={**data, "code": pyotp.TOTP(secret_b).now()})
    assert done.status_code == 302
    assert other.get("/panel/pagos").status_code == 200  # the confirming session goes on
    assert client.get("/panel/pagos").status_code == 302  # the other one ended
    fresh = app.test_client()
    assert sign_in(fresh, USERS["cobranza"], code=pyotp.TOTP(secret_a).now()).status_code == 200
    assert sign_in(fresh, USERS["cobranza"], code=_next_code(secret_b)).status_code == 302


def test_a_waiting_secret_older_than_the_enrolment_time_is_never_shown_again(
    client, users, store, monkeypatch
):
    sign_in(client, USERS["cobranza"])
    html = client.get("/panel/segundo-factor").get_data(as_text=True)
    old = _secret(html)
    later = utcnow() + timedelta(seconds=totp.ENROL_TIME + 1)
    monkeypatch.setattr(totp, "utcnow", lambda: later)
    page = client.get("/panel/segundo-factor").get_data(as_text=True)
    assert old not in page and _secret(page) != old
    code = pyotp.TOTP(old).now()  # right now, but of the secret no longer waiting
    data = {"csrf_token": csrf_token(page), "password": PASSWORD, "code": code}
    # the session now holds the new secret: a code of the old one does not confirm
    assert client.post("/panel/segundo-factor", data=data).status_code == 422
    assert not _factor_on(store, USERS["cobranza"])


@pytest.fixture
def required(settings, plugins, store):
    """acme requires a second factor of its admins."""
    from b2bgateway_web import create_app

    changed = with_merchant(settings, "acme", admin_totp_required=True)
    app = create_app(gateway=Gateway.build(changed, plugins, store))
    app.testing = True
    return app.test_client()


def _ticket(store, email: str = USERS["admin"]) -> str:
    with store.write() as session:
        return totp.issue_ticket(session, CLI, staff.find_user(session, email))


def test_a_required_admin_without_a_ticket_cannot_sign_in(required, users, store):
    answer = sign_in(required)
    assert answer.status_code == 403
    assert "necesitan un segundo factor" in answer.get_data(as_text=True)
    assert required.get("/panel/entrar/segundo-factor").status_code == 302
    assert required.get("/panel/pagos").status_code == 302


def test_an_admin_who_must_have_a_second_factor_enrols_at_sign_in(required, users, store):
    ticket = _ticket(store)
    answer = sign_in(required)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/panel/entrar/segundo-factor"
    assert required.get("/panel/pagos").status_code == 302  # not signed in yet
    page = required.get("/panel/entrar/segundo-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data:image/svg+xml" in html
    assert "Clave de activación" in html
    secret = _secret(html)
    url = "/panel/entrar/segundo-factor"
    code = pyotp.TOTP(secret).now()
    wrong = required.post(
        url, data={"csrf_token": csrf_token(html), "code": "000000", "ticket": ticket}
    )
    assert wrong.status_code == 422
    no_ticket = required.post(url, data={"csrf_token": csrf_token(html), "code": code})
    assert no_ticket.status_code == 422
    bad_ticket = {"csrf_token": csrf_token(html), "code": code, "ticket": "AAAA-BBBB-CCCC-DDDD"}
    assert required.post(url, data=bad_ticket).status_code == 422
    assert required.get("/panel/pagos").status_code == 302
    right = {"csrf_token": csrf_token(html), "code": code, "ticket": ticket.lower()}
    done = required.post(url, data=right)
    assert done.status_code == 302 and done.headers["Location"] == "/panel/"
    assert required.get("/panel/pagos").status_code == 200
    assert _actions(store)[:2] == ["sign_in", "totp_enrolled"]
    # the next sign-in asks for a code
    fresh = required.application.test_client()
    assert "Código de verificación" in sign_in(fresh).get_data(as_text=True)


def test_two_sign_ins_of_a_required_admin_see_different_secrets(required, users, store):
    """The phishing case: whoever else signs in with the password is shown another secret, which
    the real admin's confirmation makes worthless."""
    ticket = _ticket(store)
    attacker = required.application.test_client()
    sign_in(attacker)
    sign_in(required)
    url = "/panel/entrar/segundo-factor"
    page_a = attacker.get(url).get_data(as_text=True)
    page_b = required.get(url).get_data(as_text=True)
    secret_a, secret_b = _secret(page_a), _secret(page_b)
    assert secret_a != secret_b
    right = {"csrf_token": csrf_token(page_b), "ticket": ticket}
    assert required.post(url, data={**right, "code": pyotp.TOTP(secret_b).now()}).status_code == 302
    late = {"csrf_token": csrf_token(page_a), "ticket": ticket}
    answer = attacker.post(url, data={**late, "code": pyotp.TOTP(secret_a).now()})
    assert answer.status_code == 302 and answer.headers["Location"] == "/panel/entrar"
    assert attacker.get("/panel/pagos").status_code == 302
    fresh = required.application.test_client()
    assert sign_in(fresh, code=pyotp.TOTP(secret_a).now()).status_code == 200  # refused


def test_an_enrolment_at_sign_in_expires(required, users, store):
    _ticket(store)
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
    listing = admin.get("/panel/usuarios").get_data(as_text=True)
    assert "Segundo factor restablecido" in listing
    shown = re.search(r"activarlo otra vez al entrar: ([A-Z2-7-]+)", listing)
    assert shown is not None
    with store.read() as session:
        assert totp.ticket_matches(session.get(StaffUser, caja_id), shown.group(1))
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
