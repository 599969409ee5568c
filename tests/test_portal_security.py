"""The customer page's embedding policy, its forms and its session lifetime (issue 16 item 7).

- Only the origins of the merchant's ``portal.frame_ancestors`` may frame the page (CSP
  ``frame-ancestors``; with none, ``'none'`` and ``X-Frame-Options: DENY``).
- Every POST carries the signed nonce of a form this session rendered and, when the browser sends
  one, this site's ``Origin``.
- A session renewed again and again (each processor return trip re-signs its token) still ends
  ``MAX_LIFETIME`` after its first issue.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from b2bgateway.gateway import Gateway
from b2bgateway.portal_settings import PortalSettings
from b2bgateway.settings import Settings
from b2bgateway.store.models import Payment
from b2bgateway_web import tokens
from tests.support.web import new_link, with_merchant

NONCE = re.compile(r'name="nonce" value="([^"]+)"')


@pytest.fixture
def link(client: Any, demo: None) -> str:
    return new_link(client)


def _nonce(client: Any, path: str) -> str:
    found = NONCE.search(client.get(path).get_data(as_text=True))
    assert found is not None
    return found.group(1)


def _pay(client: Any, link: str, nonce: str, **headers: str) -> Any:
    data = {"nonce": nonce, "accion": "pagar", "factura": "F-1001", "importe": "3480.00"}
    return client.post(link, data=data, headers=headers)


def _payments(gateway: Gateway) -> int:
    with gateway.store.read() as session:
        return session.query(Payment).count()


# -- framing -----------------------------------------------------------------------------------


def test_by_default_no_site_may_frame_the_page(client: Any, link: str) -> None:
    for path in (link, f"{link}/pagos/pay_x", "/portal/not-a-token"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert response.headers["X-Frame-Options"] == "DENY"


@pytest.fixture
def framed_settings(settings: Settings) -> Settings:
    origins = ["https://Portal.Example.com/", "https://b2b.example.mx:8443"]
    result: Settings = with_merchant(settings, "acme", portal={"frame_ancestors": origins})
    return result


def test_the_merchants_portals_may_frame_it(
    framed_settings: Settings, plugins: Any, store: Any, demo: None
) -> None:
    from b2bgateway_web import create_app

    client = create_app(gateway=Gateway.build(framed_settings, plugins, store)).test_client()
    response = client.get(new_link(client))
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://portal.example.com https://b2b.example.mx:8443" in policy
    assert "X-Frame-Options" not in response.headers  # it cannot name several origins


@pytest.mark.parametrize(
    "origin",
    [
        "https://portal.example.com/path",
        "https://*.example.com",
        "*",
        "http://portal.example.com",
        "https://portal.example.com 'unsafe-inline'",
        "https://portal.example.com;script-src *",
        "portal.example.com",
        "javascript:alert(1)",
    ],
)
def test_an_origin_that_is_not_just_scheme_and_host_is_refused(origin: str) -> None:
    with pytest.raises(ValidationError, match="frame_ancestors"):
        PortalSettings(frame_ancestors=[origin])


def test_loopback_may_use_http() -> None:
    settings = PortalSettings(frame_ancestors=["http://127.0.0.1:8080", "http://localhost:3000"])
    assert settings.frame_ancestors == ["http://127.0.0.1:8080", "http://localhost:3000"]


# -- forms -------------------------------------------------------------------------------------


def test_a_post_without_the_pages_signed_nonce_pays_nothing(
    client: Any, link: str, gateway: Gateway, acme: Any
) -> None:
    other_customer = _nonce(client, new_link(client, "C-2"))
    session = tokens.read_token(gateway, link.rsplit("/", 1)[1])
    other_merchant = tokens._serializer(gateway.merchants["globex"], tokens._FORM_SALT).dumps(
        ["C-1", int(session.first_issued_at.timestamp()), "x"]  # type: ignore[union-attr]
    )
    for nonce in ("", "n" * 22, other_customer, other_merchant, "x" * 600):
        response = _pay(client, link, nonce)
        assert response.status_code == 400, nonce
        assert "Formulario no válido" in response.get_data(as_text=True)
    # "Calcular total" checks it too.
    assert client.post(link, data={"accion": "calcular"}).status_code == 400
    assert _payments(gateway) == 0


def test_a_nonce_from_an_earlier_session_of_the_same_customer_is_refused(
    client: Any, link: str, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _nonce(client, link)
    made = tokens.clock()
    monkeypatch.setattr(tokens, "clock", lambda: made + 5)
    newer = new_link(client)
    assert _pay(client, newer, old).status_code == 400
    assert _payments(gateway) == 0


def test_a_post_from_another_site_pays_nothing(client: Any, link: str, gateway: Gateway) -> None:
    nonce = _nonce(client, link)
    for origin in ("https://evil.example", "null", "http://127.0.0.1:8000.evil.example"):
        response = _pay(client, link, nonce, Origin=origin)
        assert response.status_code == 403, origin
        assert "Formulario no válido" in response.get_data(as_text=True)
    assert _payments(gateway) == 0
    # From the page itself (the configured public_url) the same form pays.
    response = _pay(client, link, nonce, Origin="http://127.0.0.1:8000")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path.startswith("/sandbox/acme/charges/")
    assert _payments(gateway) == 1


# -- session lifetime ---------------------------------------------------------------------------


def test_renewals_never_take_a_session_past_its_lifetime(
    client: Any, link: str, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = gateway.merchants["acme"]
    made = tokens.clock()
    token = link.rsplit("/", 1)[1]
    # Renew every 25 minutes (as starting and canceling payments does): each renewal works ...
    step = 25 * 60
    moment = made
    while moment + step < made + tokens.MAX_LIFETIME.total_seconds():
        moment += step
        monkeypatch.setattr(tokens, "clock", lambda at=moment: at)
        assert client.get(f"/portal/{token}").status_code == 200
        token = tokens.refreshed(acme, tokens.read_token(gateway, token))
    # ... until the session's lifetime from its first issue: then even a fresh renewal is over.
    monkeypatch.setattr(tokens, "clock", lambda: made + tokens.MAX_LIFETIME.total_seconds() + 1)
    response = client.get(f"/portal/{token}")
    assert response.status_code == 410
    assert "El enlace venció" in response.get_data(as_text=True)
    session = tokens.read_token  # a renewal made from it is refused as well
    with pytest.raises(tokens.TokenExpired):
        session(gateway, token)


def test_a_renewed_token_keeps_the_first_issue(client: Any, link: str, gateway: Gateway) -> None:
    first = tokens.read_token(gateway, link.rsplit("/", 1)[1])
    renewed = tokens.read_token(gateway, tokens.refreshed(gateway.merchants["acme"], first))
    assert renewed.first_issued_at == first.first_issued_at
    assert renewed.expires_at <= first.first_issued_at + tokens.MAX_LIFETIME  # type: ignore[operator]
