"""The next actions' own rules (``b2bgateway/next_actions.py``) and their JSON: a form to post
(``post_form``) and SPEI instructions that live only on the processor's page."""

from __future__ import annotations

import pytest

from b2bgateway import BankTransferInstructions, NextAction
from b2bgateway.money import Money
from b2bgateway.next_actions import web_origin
from b2bgateway.representation import next_action_json

CLABE = "646180157000000004"
PAGE = "https://www.mercadopago.com.mx/payments/1319876821/ticket?hash=7c1d"
ACS = "https://acs.example.com/challenge"


def test_a_form_to_post_carries_its_action_and_fields() -> None:
    action = NextAction("post_form", url=ACS, data={"creq": "eyJ0"})

    assert next_action_json(action) == {"type": "post_form", "url": ACS, "data": {"creq": "eyJ0"}}


@pytest.mark.parametrize("url", [None, "", "http://acs.example.com/challenge", "javascript:x"])
def test_a_form_is_posted_only_to_an_https_url(url: str | None) -> None:
    with pytest.raises(ValueError, match="https url"):
        NextAction("post_form", url=url, data={"creq": "eyJ0"})


@pytest.mark.parametrize(
    "url",
    [
        "https://acs.x;script-src 'unsafe-inline' *;/p",  # a directive into the page's policy
        "https://acs.x,https://evil.example/p",
        "https://acs.x 'unsafe-inline'/p",
        'https://acs.x"/p',
        "https://user:pw@acs.example.com/challenge",  # userinfo
        "https://acs.example.com:99999/challenge",  # no such port
        "https://acs.example.com:x/challenge",
        "https://[::1]/challenge",  # no IPv6 literal
        "https://acs\texample.com/challenge",  # urlsplit would drop the tab
        "https://acs.example.com\n/challenge",
        "https://-acs.example.com/challenge",
        "https:///challenge",
    ],
)
def test_a_form_is_posted_only_to_a_plain_host(url: str) -> None:
    with pytest.raises(ValueError, match="post_form"):
        NextAction("post_form", url=url, data={"creq": "eyJ0"})
    with pytest.raises(ValueError, match="url"):
        web_origin(url, ("https", "http"))


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (ACS, "https://acs.example.com"),
        ("https://ACS.Example.com:8443/c?x=a,b", "https://acs.example.com:8443"),
        ("http://127.0.0.1:5000/sandbox/barcode", "http://127.0.0.1:5000"),
    ],
)
def test_an_origin_is_rebuilt_from_host_and_port(url: str, origin: str) -> None:
    assert web_origin(url, ("https", "http")) == origin


def test_instructions_on_the_processors_page_have_no_clabe_in_the_json() -> None:
    instructions = BankTransferInstructions(
        None, None, None, Money("1000.00", "MXN"), "6410293433784980810", None, PAGE
    )
    body = next_action_json(
        NextAction("display_bank_transfer_instructions", url=PAGE, bank_transfer=instructions)
    )

    assert body == {
        "type": "display_bank_transfer_instructions",
        "url": PAGE,
        "amount": "1000.00",
        "currency": "MXN",
        "reference": "6410293433784980810",
        "expires_at": None,
        "hosted_instructions_url": PAGE,
    }


@pytest.mark.parametrize(
    ("clabe", "bank", "beneficiary", "page", "error"),
    [
        (None, None, None, None, "https hosted page"),  # neither a CLABE nor a page
        (None, None, None, "http://mp.example/ticket", "https hosted page"),
        ("12345", "STP", "ACME", None, "18 digits"),
        (CLABE, None, "ACME", None, "bank and the beneficiary"),
        (CLABE, "STP", "", PAGE, "bank and the beneficiary"),
    ],
)
def test_instructions_need_a_clabe_with_its_bank_or_an_https_page(
    clabe: str | None, bank: str | None, beneficiary: str | None, page: str | None, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        BankTransferInstructions(clabe, bank, beneficiary, Money("1.00", "MXN"), None, None, page)


def test_a_clabe_with_a_page_too_is_fine() -> None:
    instructions = BankTransferInstructions(
        CLABE, "STP", "ACME", Money("1.00", "MXN"), None, None, PAGE
    )

    assert instructions.clabe == CLABE
