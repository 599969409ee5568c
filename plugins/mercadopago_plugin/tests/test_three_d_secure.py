"""3-D Secure: with ``three_d_secure_mode = "optional"`` a card the issuer challenges is a form to
post (``cassettes/test_three_d_secure/``).

Mercado Pago's guide "How to integrate 3DS with Checkout API" documents the request (the token
payment with ``three_d_secure_mode: "optional"``) and the challenged answer: ``pending`` /
``pending_challenge`` with the challenge URL and ``creq``, to be posted as a form (``creq`` a
hidden field) into an iframe. The guide's sample spells the object ``three_dsinfo``; the SDK's
``PaymentResponse`` type, which the cassettes are checked against, ``three_ds_info``: the plugin
reads either.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from helpers import Sent, charge_request, settings_table
from vcr.cassette import Cassette

from b2bgateway import Money, Outcome
from b2bgateway.plugins import Processor
from b2bgateway_mercadopago import mapping

ACS = "https://acs-public.tp.mastercard.com/api/v1/browser_challenges"


@pytest.fixture
def settings(processor: Processor) -> Any:
    return processor.validate_settings(settings_table(three_d_secure_mode="optional"))


def test_a_challenged_card_is_a_form_to_post_to_the_issuer(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    request = charge_request(browser_details={"payment_method_id": "master"})
    result = processor.charge(request, settings)

    assert result.outcome is Outcome.PENDING
    assert result.processor_reference == "1319876741"
    assert result.processor_status == "pending/pending_challenge"
    action = result.next_action
    assert action is not None
    assert action.type == "post_form"
    assert action.url == ACS
    assert set(action.data) == {"creq"}
    assert action.data["creq"].startswith("eyJ0aHJlZURT")
    assert result.amount == Money("1234.56", "MXN")
    assert json.loads(sent[0].body)["three_d_secure_mode"] == "optional"


def _challenged(**info: Any) -> dict[str, Any]:
    return {
        "id": 1319876741,
        "status": "pending",
        "status_detail": "pending_challenge",
        "currency_id": "MXN",
        "transaction_amount": Decimal("1234.56"),  # the client parses JSON numbers so
        "payment_type_id": "credit_card",
        **info,
    }


def test_the_guides_spelling_three_dsinfo_is_read_too() -> None:
    payment = _challenged(three_dsinfo={"external_resource_url": ACS, "creq": "abc"})

    action = mapping.charge_result(payment).next_action

    assert action is not None
    assert (action.type, action.url, dict(action.data)) == ("post_form", ACS, {"creq": "abc"})


@pytest.mark.parametrize(
    "info",
    [
        {},  # no challenge given: pending without an action (reconciliation settles it)
        {"three_ds_info": {"external_resource_url": ACS}},  # no creq
        {"three_ds_info": {"external_resource_url": "http://acs.example/c", "creq": "abc"}},
        # An authority the portal could not name in its policy: refused, not a ValueError.
        {"three_ds_info": {"external_resource_url": "https://a.x;script-src *;/c", "creq": "a"}},
    ],
)
def test_a_challenge_that_cannot_be_posted_is_no_action(info: dict[str, Any]) -> None:
    result = mapping.charge_result(_challenged(**info))

    assert result.outcome is Outcome.PENDING
    assert result.next_action is None
