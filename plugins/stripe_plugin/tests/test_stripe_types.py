"""Every cassette's requests and answers are what the installed SDK's generated types allow:
each request's parameters against its ``stripe.params`` TypedDict, each answer's fields (nested
objects, expanded ones, errors) against the object's class. An invented field fails here."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
import yaml
from conftest import CASSETTES
from stripe import params as p
from stripe._error_object import ErrorObject
from stripe._list_object import ListObject
from stripe._search_result_object import SearchResultObject
from stripe.params import checkout as cp
from stripe_types import check_answer, check_object, check_params, form

#: (method, path) -> (the parameters' TypedDict, the answer's class)
ROUTES: list[tuple[str, re.Pattern[str], type, Any]] = [
    ("POST", re.compile(r"/v1/payment_intents"), p.PaymentIntentCreateParams, stripe.PaymentIntent),
    (
        "GET",
        re.compile(r"/v1/payment_intents/search"),
        p.PaymentIntentSearchParams,
        SearchResultObject[stripe.PaymentIntent],
    ),
    (
        "GET",
        re.compile(r"/v1/payment_intents/pi_\w+"),
        p.PaymentIntentRetrieveParams,
        stripe.PaymentIntent,
    ),
    (
        "POST",
        re.compile(r"/v1/payment_intents/pi_\w+/cancel"),
        p.PaymentIntentCancelParams,
        stripe.PaymentIntent,
    ),
    ("POST", re.compile(r"/v1/checkout/sessions"), cp.SessionCreateParams, stripe.checkout.Session),
    (
        "GET",
        re.compile(r"/v1/checkout/sessions/cs_\w+"),
        cp.SessionRetrieveParams,
        stripe.checkout.Session,
    ),
    (
        "POST",
        re.compile(r"/v1/checkout/sessions/cs_\w+/expire"),
        cp.SessionExpireParams,
        stripe.checkout.Session,
    ),
    ("POST", re.compile(r"/v1/refunds"), p.RefundCreateParams, stripe.Refund),
    ("GET", re.compile(r"/v1/refunds"), p.RefundListParams, ListObject[stripe.Refund]),
    ("POST", re.compile(r"/v1/customers"), p.CustomerCreateParams, stripe.Customer),
    (
        "GET",
        re.compile(r"/v1/customers/search"),
        p.CustomerSearchParams,
        SearchResultObject[stripe.Customer],
    ),
]
INTERACTIONS = [
    pytest.param(interaction, id=f"{path.parent.name}/{path.stem}#{number}")
    for path in sorted(CASSETTES.glob("*/*.yaml"))
    for number, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"])
]


def route(request: dict[str, Any]) -> tuple[type, Any]:
    path = urlsplit(request["uri"]).path
    for method, pattern, params, answer in ROUTES:
        if method == request["method"] and pattern.fullmatch(path):
            return params, answer
    raise AssertionError(f"no SDK types known for {request['method']} {path}")


@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_the_request_is_what_the_sdk_params_allow(interaction: dict[str, Any]) -> None:
    request = interaction["request"]
    params, _ = route(request)
    sent = form(request["body"] or urlsplit(request["uri"]).query)
    assert check_params(sent, params) == []


@pytest.mark.parametrize("interaction", INTERACTIONS)
def test_the_answer_is_what_the_sdk_types_allow(interaction: dict[str, Any]) -> None:
    _, answer = route(interaction["request"])
    response = interaction["response"]
    body = json.loads(response["body"]["string"])
    if response["status"]["code"] >= 400:
        assert list(body) == ["error"]
        assert check_object(body["error"], ErrorObject) == []
    else:
        assert check_answer(body, answer) == []


def test_the_check_refuses_invented_parameters_and_values() -> None:
    params = p.PaymentIntentCreateParams
    assert check_params(form("amount=100&currency=mxn"), params) == []
    assert check_params(form("amount=100&adaptive_pricing[enabled]=false"), params) == [
        "adaptive_pricing: not a parameter of PaymentIntentCreateParams"
    ]
    assert check_params(form("amount=1.5"), params) == ["amount: '1.5' is not an integer"]
    bad_plan = "payment_method_options[card][installments][plan][interval]=week"
    assert check_params(form(bad_plan), params) != []
    assert check_params(form("allowed_payment_method_types[0]=oxxo&confirm=true"), params) == []
    assert check_params(form("line_items[0][quantity]=1"), cp.SessionCreateParams) == []
    assert check_params(form("line_items[0][colour]=red"), cp.SessionCreateParams) != []


def test_the_check_refuses_invented_fields_and_values() -> None:
    intent = {"id": "pi_1", "object": "payment_intent", "amount": 100, "status": "succeeded"}
    assert check_answer(intent, stripe.PaymentIntent) == []
    assert check_answer({**intent, "colour": "red"}, stripe.PaymentIntent) == [
        "colour: not a field of PaymentIntent"
    ]
    assert check_answer({**intent, "object": "charge"}, stripe.PaymentIntent) != []
    assert check_answer({**intent, "amount": "100"}, stripe.PaymentIntent) != []
    nested = {**intent, "next_action": {"type": "oxxo_display_details", "oxxo": {}}}
    assert check_answer(nested, stripe.PaymentIntent) == [
        "next_action.oxxo: not a field of PaymentIntent.NextAction"
    ]
    expanded = {**intent, "latest_charge": {"id": "ch_1", "object": "charge", "invented": 1}}
    assert check_answer(expanded, stripe.PaymentIntent) == [
        "latest_charge.invented: not a field of Charge"
    ]
    assert check_answer({**intent, "latest_charge": "ch_1"}, stripe.PaymentIntent) == []
