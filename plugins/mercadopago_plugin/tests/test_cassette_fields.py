"""Every recorded request and response, field by field, against Mercado Pago's own types.

``tooling/sdk_types.json`` is extracted by ``tooling/extract_sdk_types.py`` from the official
Node SDK (``mercadopago/sdk-nodejs``; its commit and files are in the JSON): for each endpoint
the plugin calls, the SDK's request type and response type. Each cassette's request body and
response body must use only fields those types declare, nested objects included, with JSON
values of the declared kind (a string where the type says ``string``...; ``null`` is accepted,
as Mercado Pago sends it for absent values). A field the SDK does not know fails the test:
cassettes follow Mercado Pago, they do not invent.

Mercado Pago's Claims API has no client in the SDK: its claim (``GET
/post-purchase/v1/claims/{id}``) is typed by hand from the API reference's response parameters
and sample answer, in ``tooling/reference_types.json`` (which names the pages).

One place takes two types: the SDK declares a payment search's ``results`` as
``PaymentSearchResult``, a narrower view of the same payments as ``PaymentResponse`` (Mercado
Pago's search answers whole payments); a result may use the fields of either (:data:`ALSO`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

TOOLING = Path(__file__).parent / "tooling"
CASSETTES = Path(__file__).parent / "cassettes"
SDK = json.loads((TOOLING / "sdk_types.json").read_text())
REFERENCE = json.loads((TOOLING / "reference_types.json").read_text())
TYPES: dict[str, Any] = {**SDK["types"], **REFERENCE["types"]}

PAYMENT = "src/clients/payment/commonTypes.ts#PaymentResponse"
PREFERENCE = "src/clients/preference/commonTypes.ts#PreferenceResponse"
PREFERENCE_REQUEST = "src/clients/preference/commonTypes.ts#PreferenceRequest"
ERROR = "src/utils/errors/index.ts#ApiErrorBody"
REFUND = "src/clients/paymentRefund/commonTypes.ts#RefundResponse"
#: (method, path) -> (the SDK's request type, its response type), for every call the plugin makes.
ROUTES: list[tuple[str, re.Pattern[str], str | None, str]] = [
    (
        "POST",
        re.compile(r"/v1/payments"),
        "src/clients/payment/create/types.ts#PaymentCreateRequest",
        PAYMENT,
    ),
    (
        "GET",
        re.compile(r"/v1/payments/search"),
        None,
        "src/clients/payment/search/types.ts#PaymentSearch",
    ),
    ("GET", re.compile(r"/v1/payments/\d+"), None, PAYMENT),
    (
        "PUT",
        re.compile(r"/v1/payments/\d+"),
        "src/clients/payment/cancel/index.ts#cancelBody",
        PAYMENT,
    ),
    (
        "POST",
        re.compile(r"/v1/payments/\d+/refunds"),
        "src/clients/paymentRefund/create/types.ts#CreateRefundBody",
        REFUND,
    ),
    # The SDK's list declares Array<RefundResponse> (src/clients/paymentRefund/list/index.ts).
    ("GET", re.compile(r"/v1/payments/\d+/refunds"), None, REFUND),
    ("POST", re.compile(r"/checkout/preferences"), PREFERENCE_REQUEST, PREFERENCE),
    (
        "GET",
        re.compile(r"/checkout/preferences/search"),
        None,
        "src/clients/preference/search/types.ts#PreferenceSearchResponse",
    ),
    ("GET", re.compile(r"/checkout/preferences/[^/]+"), None, PREFERENCE),
    ("PUT", re.compile(r"/checkout/preferences/[^/]+"), PREFERENCE_REQUEST, PREFERENCE),
    (
        "GET",
        re.compile(r"/v1/chargebacks/[^/]+"),
        None,
        "src/clients/chargeback/commonTypes.ts#ChargebackResponse",
    ),
    ("GET", re.compile(r"/post-purchase/v1/claims/\d+"), None, "reference/claims#Claim"),
]
#: Where a value may also be read as a second SDK type: (type, field) -> the other type.
ALSO = {("src/clients/payment/search/types.ts#PaymentSearch", "results"): PAYMENT}
_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
}


def _fields(key: str) -> tuple[dict[str, str], dict[str, list[str]], bool]:
    entry = TYPES[key]
    fields, refs, is_open = dict(entry["fields"]), dict(entry["refs"]), entry["open"]
    for parent in entry["extends"]:
        more, more_refs, more_open = _fields(parent)
        fields = {**more, **fields}
        refs = {**more_refs, **refs}
        is_open = is_open or more_open
    return fields, refs, is_open


def _kind_ok(expression: str, value: Any) -> bool:
    if value is None:
        return True
    expression = expression.strip()
    if expression.startswith("Array<") or expression.endswith("[]"):
        return isinstance(value, list)
    kinds = _KINDS.get(expression)
    if kinds is None:  # any, a union, a named type: checked by recursion where it is ours
        return True
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def check(value: Any, key: str, where: str, also: str | None = None) -> list[str]:
    """The fields of ``value`` that type ``key`` (or ``also``) does not declare, or whose value
    is not of the declared kind."""
    if isinstance(value, list):
        return [p for item in value for p in check(item, key, f"{where}[]", also)]
    if not isinstance(value, dict):
        return []
    if also is not None:  # a problem under both readings, field by field
        theirs = {problem.split(":", 1)[0] for problem in check(value, also, where)}
        return [p for p in check(value, key, where) if p.split(":", 1)[0] in theirs]
    fields, refs, is_open = _fields(key)
    problems = []
    for name, item in value.items():
        if name not in fields:
            if not is_open:
                problems.append(f"{where}.{name}: not a field of {key}")
            continue
        if not _kind_ok(fields[name], item):
            problems.append(f"{where}.{name}: {item!r} is not {fields[name]} ({key})")
        for ref in refs.get(name, [])[:1]:
            problems.extend(check(item, ref, f"{where}.{name}", ALSO.get((key, name))))
    return problems


def _route(method: str, path: str) -> tuple[str | None, str]:
    for verb, pattern, request, response in ROUTES:
        if verb == method and pattern.fullmatch(path):
            return request, response
    raise AssertionError(f"{method} {path}: the plugin calls no such endpoint")


def _interactions() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(CASSETTES.glob("*/*.yaml")):
        for index, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"]):
            found.append((f"{path.relative_to(CASSETTES)}#{index}", interaction))
    return found


INTERACTIONS = _interactions()


def test_the_types_name_their_source() -> None:
    source = SDK["source"]
    assert source["repository"] == "https://github.com/mercadopago/sdk-nodejs"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert all(key.split("#")[0] in source["files"] for key in SDK["types"])
    pages = REFERENCE["source"]["pages"]
    assert pages
    assert all(page.startswith("https://www.mercadopago.com.mx/developers/") for page in pages)


@pytest.mark.parametrize(("name", "interaction"), INTERACTIONS, ids=[n for n, _ in INTERACTIONS])
def test_recorded_fields_are_the_sdks(name: str, interaction: dict[str, Any]) -> None:
    request, response = interaction["request"], interaction["response"]
    uri = request["uri"]
    assert uri.startswith("https://api.mercadopago.com/"), uri
    path = uri[len("https://api.mercadopago.com") :].split("?")[0]
    request_type, response_type = _route(request["method"], path)
    problems = []
    if request["body"] is not None:
        assert request_type is not None, f"{name}: a body on a request that takes none"
        problems += check(json.loads(request["body"]), request_type, "request")
    if response["status"]["code"] >= 400:
        response_type = ERROR
    text = response["body"]["string"]
    if text:
        problems += check(json.loads(text), response_type, "response")
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_an_invented_field_is_caught() -> None:
    """The check can fail: a field no SDK type has, at the top and nested."""
    assert check({"id": 1, "paid_with_love": True}, PAYMENT, "r") == [
        f"r.paid_with_love: not a field of {PAYMENT}"
    ]
    nested = check({"card": {"last_four_digits": "3704", "pin": "1234"}}, PAYMENT, "r")
    assert nested == ["r.card.pin: not a field of src/clients/payment/commonTypes.ts#Card"]
    assert check({"status": 1}, PAYMENT, "r") == [f"r.status: 1 is not string ({PAYMENT})"]
