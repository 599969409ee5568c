"""The sandbox's approval pages (3-D Secure and hosted), through the Flask test client.

Charges are created through the plugin facade, as the core creates them. Nothing leaves the
process: the default webhook sender is replaced by a recorder, and the page's background delivery
runs to completion (its thread is joined) before the request returns, so every test can look at
what was "sent".
"""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from b2bgateway.gateway import Gateway
from b2bgateway.interface import (
    ChargeRequest,
    ChargeResult,
    CustomerRef,
    EventKind,
    Outcome,
    RetrieveRequest,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.money import Money
from b2bgateway.sandbox import hooks
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.sandbox.signing import HEADER, form_token
from tests.support.web import SandboxOutbox, Sent

GATEWAY_URL = "http://localhost"
RETURN_URL = "https://portal.example/return"
WEBHOOK_URL = "https://gw.example/v1/webhooks/acme/sandbox"
AMOUNT = Money("1234.50", "MXN")


@pytest.fixture(autouse=True)
def outbox(sandbox_outbox: SandboxOutbox) -> SandboxOutbox:
    """Record webhooks instead of POSTing them; run the page's background delivery to the end."""
    return sandbox_outbox


class _Page(HTMLParser):
    """The bits of a sandbox page the tests look at: html lang, buttons, hidden inputs, links."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.buttons: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.forms: list[dict[str, str | None]] = []
        self._button: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "button":
            self._button = {**attributes, "text": ""}
        elif tag == "input":
            self.inputs.append(attributes)
        elif tag == "form":
            self.forms.append(attributes)
        elif tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] = (self._button["text"] or "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self._button["text"] = (self._button["text"] or "").strip()
            self.buttons.append(self._button)
            self._button = None


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _charge(
    gateway: Gateway, token: str | None, *, return_url: str | None = RETURN_URL
) -> tuple[str, ChargeResult]:
    merchant = gateway.merchants["acme"]
    assert merchant.processor is not None and merchant.processor_settings is not None
    payment_id = f"pay_{uuid.uuid4().hex}"
    result = merchant.processor.charge(
        ChargeRequest(
            payment_id=payment_id,
            merchant_id="acme",
            amount=AMOUNT,
            customer=CustomerRef("cus_1", "Cliente de prueba"),
            description="Pedido de prueba",
            idempotency_key=f"charge:{payment_id}",
            token=token,
            return_url=return_url,
            gateway_url=GATEWAY_URL,
            webhook_url=WEBHOOK_URL,
        ),
        merchant.processor_settings,
    )
    return payment_id, result


def _retrieve(gateway: Gateway, payment_id: str, reference: str | None = None) -> ChargeResult:
    merchant = gateway.merchants["acme"]
    assert merchant.processor is not None and merchant.processor_settings is not None
    return merchant.processor.retrieve(
        RetrieveRequest(payment_id=payment_id, merchant_id="acme", processor_reference=reference),
        merchant.processor_settings,
    )


def _path(result: ChargeResult) -> str:
    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None and result.next_action.url
    url = urlsplit(result.next_action.url)
    assert (url.scheme, url.netloc) == ("http", "localhost")
    assert url.path == f"/sandbox/acme/charges/{result.processor_reference}"
    return url.path


def _token(gateway: Gateway, charge_id: str) -> str:
    settings = gateway.merchants["acme"].processor_settings
    return form_token(settings.webhook_secret, "acme", charge_id)  # type: ignore[union-attr]


def _status(gateway: Gateway, charge_id: str) -> str:
    charge = open_ledger(gateway.merchants["acme"].processor_settings).get_charge(  # type: ignore[arg-type]
        "acme", charge_id
    )
    assert charge is not None
    return charge.status


def _parsed_webhook(gateway: Gateway, sent: Sent) -> WebhookEvent:
    """The recorded webhook as the gateway's webhook endpoint would receive and parse it."""
    request = WebhookRequest(
        merchant_id="acme",
        body=sent.body,
        headers={name.lower(): value for name, value in sent.headers.items()},
    )
    return hooks.b2bgateway_parse_webhook(
        request,
        gateway.merchants["acme"].processor_settings,  # type: ignore[arg-type]
    )


# -- the page --------------------------------------------------------------------------------------
def test_three_d_secure_page_shows_amount_and_buttons(gateway: Gateway, client: Any) -> None:
    _payment_id, result = _charge(gateway, "tok_3ds")
    response = client.get(_path(result))

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "$1,234.50" in html
    assert "$1,234.50 MXN" in html
    page = parse(html)
    assert page.lang in {"es-MX", "es"}
    assert [b["text"] for b in page.buttons] == ["Autorizar", "Rechazar", "Cancelar"]
    assert [(b["name"], b["value"], b["type"]) for b in page.buttons] == [
        ("action", "approve", "submit"),
        ("action", "decline", "submit"),
        ("action", "cancel", "submit"),
    ]
    assert [f.get("method", "").lower() for f in page.forms] == ["post"]  # type: ignore[union-attr]
    hidden = {i["name"]: i["value"] for i in page.inputs if i.get("type") == "hidden"}
    assert hidden == {"token": _token(gateway, result.processor_reference or "")}
    assert "3-D Secure" in html
    assert result.processor_reference in html


def test_page_is_read_only(gateway: Gateway, client: Any, outbox: SandboxOutbox) -> None:
    _payment_id, result = _charge(gateway, "tok_3ds")
    for _ in range(2):
        assert client.get(_path(result)).status_code == 200
    assert _status(gateway, result.processor_reference or "") == "requires_action"
    assert outbox.sent == [] and outbox.deliveries == []


# -- refused forms ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "form",
    [
        {"action": "approve", "token": "not-the-token"},
        {"action": "approve", "token": ""},
        {"action": "approve"},
    ],
    ids=["wrong", "empty", "missing"],
)
def test_post_with_bad_token_is_400(
    gateway: Gateway, client: Any, outbox: SandboxOutbox, form: dict[str, str]
) -> None:
    _payment_id, result = _charge(gateway, "tok_3ds")
    response = client.post(_path(result), data=form)

    assert response.status_code == 400
    assert _status(gateway, result.processor_reference or "") == "requires_action"
    assert outbox.sent == [] and outbox.deliveries == []


def test_token_of_another_charge_is_400(gateway: Gateway, client: Any) -> None:
    _p1, first = _charge(gateway, "tok_3ds")
    _p2, second = _charge(gateway, "tok_3ds")
    response = client.post(
        _path(first),
        data={"action": "approve", "token": _token(gateway, second.processor_reference or "")},
    )
    assert response.status_code == 400
    assert _status(gateway, first.processor_reference or "") == "requires_action"


@pytest.mark.parametrize("action", ["refund", "pay", ""])
def test_action_the_flow_lacks_is_400(
    gateway: Gateway, client: Any, outbox: SandboxOutbox, action: str
) -> None:
    _payment_id, result = _charge(gateway, "tok_3ds")
    charge_id = result.processor_reference or ""
    response = client.post(
        _path(result), data={"action": action, "token": _token(gateway, charge_id)}
    )

    assert response.status_code == 400
    assert _status(gateway, charge_id) == "requires_action"
    assert outbox.sent == [] and outbox.deliveries == []


# -- approve ---------------------------------------------------------------------------------------
def test_approve_redirects_back_and_sends_signed_webhook(
    gateway: Gateway, client: Any, outbox: SandboxOutbox
) -> None:
    payment_id, result = _charge(gateway, "tok_3ds")
    charge_id = result.processor_reference or ""
    path = _path(result)

    response = client.post(path, data={"action": "approve", "token": _token(gateway, charge_id)})

    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == RETURN_URL
    assert parse_qs(location.query) == {"payment_id": [payment_id]}

    # The processor's answer, as the portal gets it when the customer comes back.
    retrieved = _retrieve(gateway, payment_id)
    assert retrieved.outcome is Outcome.SUCCEEDED
    assert retrieved.processor_reference == charge_id
    assert retrieved.amount == AMOUNT
    assert retrieved.failure is None
    assert _retrieve(gateway, payment_id, charge_id).outcome is Outcome.SUCCEEDED

    # The signed webhook went to the charge's webhook_url, once.
    assert outbox.deliveries == [{"merchant_id": "acme", "charge_id": charge_id}]
    assert [s.url for s in outbox.sent] == [WEBHOOK_URL]
    sent = outbox.sent[0]
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers[HEADER].startswith("t=")
    event = _parsed_webhook(gateway, sent)
    assert event.kind is EventKind.PAYMENT
    assert event.event_type == "charge.succeeded"
    assert event.outcome is Outcome.SUCCEEDED
    assert event.payment_id == payment_id
    assert event.processor_reference == charge_id
    assert event.amount == AMOUNT
    assert event.failure is None
    # ... and through the plugin facade, as the core's webhook endpoint calls it.
    merchant = gateway.merchants["acme"]
    assert merchant.processor is not None and merchant.processor_settings is not None
    headers = {name.lower(): value for name, value in sent.headers.items()}
    request = WebhookRequest(merchant_id="acme", body=sent.body, headers=headers)
    assert merchant.processor.parse_webhook(request, merchant.processor_settings) == event

    # The page now shows the final state, without buttons, with the way back.
    again = client.get(path)
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert "Pago aprobado" in html
    assert "$1,234.50" in html
    page = parse(html)
    assert page.buttons == [] and page.forms == []
    assert f"{RETURN_URL}?payment_id={payment_id}" in page.links

    # A second click changes nothing and sends nothing more.
    for action in ("approve", "decline"):
        repeat = client.post(path, data={"action": action, "token": _token(gateway, charge_id)})
        assert repeat.status_code == 200
        assert "Pago aprobado" in repeat.get_data(as_text=True)
        assert parse(repeat.get_data(as_text=True)).buttons == []
    assert _status(gateway, charge_id) == "succeeded"
    assert _retrieve(gateway, payment_id).outcome is Outcome.SUCCEEDED
    assert len(outbox.sent) == 1 and len(outbox.deliveries) == 1


def test_return_url_keeps_its_query(gateway: Gateway, client: Any) -> None:
    payment_id, result = _charge(
        gateway, "tok_3ds", return_url=f"{RETURN_URL}?order=42&payment_id=stale"
    )
    charge_id = result.processor_reference or ""
    response = client.post(
        _path(result), data={"action": "approve", "token": _token(gateway, charge_id)}
    )
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query == {"order": ["42"], "payment_id": [payment_id]}


# -- decline ---------------------------------------------------------------------------------------
def test_decline_is_one_failed_attempt_and_the_charge_stays_open(
    gateway: Gateway, client: Any, outbox: SandboxOutbox
) -> None:
    payment_id, result = _charge(gateway, "tok_3ds")
    charge_id = result.processor_reference or ""
    path = _path(result)

    response = client.post(path, data={"action": "decline", "token": _token(gateway, charge_id)})

    # Not back to the portal: to the same page, with the message and the buttons.
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == path and parse_qs(location.query) == {"aviso": ["tarjeta_rechazada"]}
    shown = client.get(response.headers["Location"])
    assert "La tarjeta fue rechazada. Puedes intentar con otra." in shown.get_data(as_text=True)
    assert [b["value"] for b in parse(shown.get_data(as_text=True)).buttons] == [
        "approve",
        "decline",
        "cancel",
    ]
    retrieved = _retrieve(gateway, payment_id)
    assert retrieved.outcome is Outcome.PENDING
    assert retrieved.next_action == result.next_action
    assert retrieved.processor_status == "requires_action"

    assert [s.url for s in outbox.sent] == [WEBHOOK_URL]
    event = _parsed_webhook(gateway, outbox.sent[0])
    assert event.kind is EventKind.PAYMENT
    assert event.event_type == "charge.attempt_failed"
    assert event.outcome is Outcome.FAILED and event.final is False
    assert event.payment_id == payment_id
    assert event.attempt_reference is not None and event.attempt_reference.startswith("att_")
    assert event.failure is not None and event.failure.code == "card_declined"

    again = client.get(path)  # the buttons are still there, without the message
    assert again.status_code == 200
    assert "La tarjeta fue rechazada" not in again.get_data(as_text=True)
    assert len(parse(again.get_data(as_text=True)).buttons) == 3

    retry = client.post(path, data={"action": "approve", "token": _token(gateway, charge_id)})
    assert retry.status_code == 303
    assert _status(gateway, charge_id) == "succeeded"
    assert len(outbox.sent) == 2
    succeeded = _parsed_webhook(gateway, outbox.sent[1])
    assert succeeded.event_type == "charge.succeeded" and succeeded.outcome is Outcome.SUCCEEDED
    assert succeeded.attempt_reference not in (None, event.attempt_reference)


# -- hosted ----------------------------------------------------------------------------------------
def test_hosted_page_has_pay_and_cancel(gateway: Gateway, client: Any) -> None:
    _payment_id, result = _charge(gateway, None, return_url=None)
    response = client.get(_path(result))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "$1,234.50" in html
    assert "3-D Secure" not in html
    page = parse(html)
    assert page.lang in {"es-MX", "es"}
    assert [(b["text"], b["value"]) for b in page.buttons] == [
        ("Pagar", "approve"),
        ("Rechazar tarjeta", "decline"),
        ("Cancelar", "cancel"),
    ]


def test_hosted_cancel_without_return_url(
    gateway: Gateway, client: Any, outbox: SandboxOutbox
) -> None:
    payment_id, result = _charge(gateway, None, return_url=None)
    charge_id = result.processor_reference or ""
    path = _path(result)

    response = client.post(path, data={"action": "cancel", "token": _token(gateway, charge_id)})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Pago cancelado" in html
    assert "$1,234.50" in html
    assert parse(html).buttons == []
    assert "Location" not in response.headers

    retrieved = _retrieve(gateway, payment_id)
    assert retrieved.outcome is Outcome.FAILED
    assert retrieved.processor_status == "canceled"
    assert retrieved.failure is not None
    assert retrieved.failure.code == "canceled"
    assert retrieved.failure.processor_code == "canceled"

    assert [s.url for s in outbox.sent] == [WEBHOOK_URL]
    event = _parsed_webhook(gateway, outbox.sent[0])
    assert event.event_type == "charge.canceled"
    assert event.outcome is Outcome.FAILED
    assert event.failure is not None and event.failure.code == "canceled"

    again = client.get(path)
    assert "Pago cancelado" in again.get_data(as_text=True)
    assert parse(again.get_data(as_text=True)).links == []  # no return_url, no way back


def test_hosted_pay_without_return_url(
    gateway: Gateway, client: Any, outbox: SandboxOutbox
) -> None:
    payment_id, result = _charge(gateway, None, return_url=None)
    charge_id = result.processor_reference or ""
    response = client.post(
        _path(result), data={"action": "approve", "token": _token(gateway, charge_id)}
    )
    assert response.status_code == 200
    assert "Pago aprobado" in response.get_data(as_text=True)
    assert _retrieve(gateway, payment_id).outcome is Outcome.SUCCEEDED
    assert _parsed_webhook(gateway, outbox.sent[0]).outcome is Outcome.SUCCEEDED


def test_hosted_decline_then_another_card(
    gateway: Gateway, client: Any, outbox: SandboxOutbox
) -> None:
    payment_id, result = _charge(gateway, None)
    charge_id = result.processor_reference or ""
    path = _path(result)
    token = _token(gateway, charge_id)

    for _ in range(2):  # two cards declined: still open, still on the page
        declined = client.post(path, data={"action": "decline", "token": token})
        assert declined.status_code == 303
        assert urlsplit(declined.headers["Location"]).path == path
        page = client.get(declined.headers["Location"]).get_data(as_text=True)
        assert "La tarjeta fue rechazada. Puedes intentar con otra." in page
        assert "Rechazar tarjeta" in page
        assert _status(gateway, charge_id) == "requires_action"

    approved = client.post(path, data={"action": "approve", "token": token})
    assert approved.status_code == 303
    assert approved.headers["Location"] == f"{RETURN_URL}?payment_id={payment_id}"
    assert _status(gateway, charge_id) == "succeeded"
    ledger = open_ledger(gateway.merchants["acme"].processor_settings)  # type: ignore[arg-type]
    attempts = ledger.attempts("acme", charge_id)
    assert [a.outcome for a in attempts] == ["failed", "failed", "succeeded"]
    types = [_parsed_webhook(gateway, sent).event_type for sent in outbox.sent]
    assert types == ["charge.attempt_failed", "charge.attempt_failed", "charge.succeeded"]


def test_an_unknown_notice_is_not_shown(gateway: Gateway, client: Any) -> None:
    _payment_id, result = _charge(gateway, None)
    page = client.get(_path(result) + "?aviso=<script>").get_data(as_text=True)
    assert "<script>" not in page and 'role="status"' not in page


# -- not found -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_charge_is_404(gateway: Gateway, client: Any, method: str) -> None:
    missing = "sbx_ch_000000000000000000000000"
    token = _token(gateway, missing)
    response = getattr(client, method)(
        f"/sandbox/acme/charges/{missing}", data={"action": "approve", "token": token}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_charge_under_merchant_without_sandbox_is_404(
    gateway: Gateway, client: Any, outbox: SandboxOutbox, method: str
) -> None:
    _payment_id, result = _charge(gateway, "tok_3ds")
    charge_id = result.processor_reference or ""
    response = getattr(client, method)(
        f"/sandbox/globex/charges/{charge_id}",
        data={"action": "approve", "token": _token(gateway, charge_id)},
    )
    assert response.status_code == 404
    assert _status(gateway, charge_id) == "requires_action"
    assert outbox.sent == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_merchant_is_404(gateway: Gateway, client: Any, method: str) -> None:
    _payment_id, result = _charge(gateway, "tok_3ds")
    charge_id = result.processor_reference or ""
    response = getattr(client, method)(
        f"/sandbox/nobody/charges/{charge_id}",
        data={"action": "approve", "token": _token(gateway, charge_id)},
    )
    assert response.status_code == 404
    assert _status(gateway, charge_id) == "requires_action"
