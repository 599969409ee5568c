"""The contract in docs/reference/ agrees with the code and with ``/openapi.json``.

Each list is derived from the code's own source of truth: error codes from the error classes
(``GatewayError`` subclasses and the codes instances narrow to) and the web layer's
``problem_for``; reason codes from :class:`b2bgateway.rules.Reason`; statuses from the enums and
transitions from ``lifecycle.ALLOWED``; outbound events from the statuses and the news the core
emits; settings from the settings models; endpoints from the app's routes. A code added anywhere
without its line in the docs fails here, naming the code and the place it is missing from.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from b2bgateway import errors, lifecycle
from b2bgateway.email_settings import EmailSettings
from b2bgateway.interface import PaymentStatus, RefundStatus
from b2bgateway.portal_settings import PortalSettings
from b2bgateway.rules import Reason
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.settings import ExpirySettings, MerchantSettings, Settings
from b2bgateway.throttle import FailedAuthSettings
from b2bgateway_web import problems
from b2bgateway_web.api.openapi import build
from b2bgateway_web.i18n import translations
from b2bgateway_web.portal import texts
from tests.support.web import API_KEY

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"
ERRORS_MD = REFERENCE / "errors.md"
REASONS_MD = REFERENCE / "reasons.md"
STATUSES_MD = REFERENCE / "statuses.md"
EVENTS_MD = REFERENCE / "events.md"
CONFIGURATION_MD = REFERENCE / "configuration.md"
HTTP_MD = REFERENCE / "http.md"
API_MD = ROOT / "docs" / "api.md"
#: The code the gateway, its web layer and its plugins are written in.
SOURCES = [
    ROOT / "b2bgateway",
    ROOT / "web" / "b2bgateway_web",
    *sorted((ROOT / "plugins").glob("*_plugin/b2bgateway_*")),
]
SPANISH = translations("es_MX")


# -- reading the docs' tables --------------------------------------------------------------------


def section(path: Path, heading: str) -> str:
    """The text under ``heading`` (a whole heading line, without the ``#``), up to the next
    heading of the same or a higher level."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.M)
    assert match, f"{path.relative_to(ROOT)} has no heading {heading!r}"
    level = len(match[1])
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest if end is None else rest[: end.start()]


def table(path: Path, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table under ``heading``, header excluded."""
    text = section(path, heading)
    start = text.find("\n|") + 1
    lines = text[start:].split("\n\n", 1)[0].splitlines() if start else []
    assert len(lines) > 2, f"{path.relative_to(ROOT)}, {heading!r}: no table"
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in lines[2:]
    ]


def ticked(cell: str) -> list[str]:
    """The ``code`` spans of a cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


def first_codes(path: Path, heading: str) -> dict[str, list[str]]:
    """``{code in the first column: the row's other cells}``."""
    rows: dict[str, list[str]] = {}
    for row in table(path, heading):
        codes = ticked(row[0])
        assert len(codes) == 1, f"{path.relative_to(ROOT)}, {heading!r}: a row starts {row[0]!r}"
        (code,) = codes
        assert code not in rows, f"{path.relative_to(ROOT)} lists {code!r} twice"
        rows[code] = row[1:]
    return rows


def compare(derived: set[str], documented: set[str], source: str, place: str) -> None:
    missing = sorted(derived - documented)
    stale = sorted(documented - derived)
    assert not missing, f"{place} is missing {missing} (from {source})"
    assert not stale, f"{place} lists {stale}, which {source} does not have"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    from b2bgateway_web import create_app

    return build(create_app())


# -- error codes ----------------------------------------------------------------------------------


def _error_classes() -> list[type[errors.GatewayError]]:
    found, pending = [], [errors.GatewayError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _python_files() -> list[Path]:
    return [path for folder in SOURCES for path in sorted(folder.rglob("*.py"))]


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _literal_codes() -> list[tuple[str, str, str]]:
    """``(where, callee, code)`` of every ``SomeError(..., code="literal")`` in the sources."""
    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append((where, _callee(node), keyword.value.value))
    return found


def test_every_error_code_is_documented_with_its_status():
    documented = first_codes(ERRORS_MD, "Error codes")
    codes = problems.all_error_codes()
    compare(
        set(codes), set(documented), "the error classes and problem_for", "docs/reference/errors.md"
    )
    wrong = {
        code: (status, documented[code][0])
        for code, status in codes.items()
        if documented[code][0] != str(status)
    }
    assert not wrong, f"docs/reference/errors.md: (code's status, documented status): {wrong}"
    vague = [code for code, cells in documented.items() if len(cells[1]) < 20]
    assert not vague, f"docs/reference/errors.md: say when these happen: {vague}"


def test_every_code_an_error_is_narrowed_to_is_declared_by_its_class():
    classes = {cls.__name__: cls for cls in _error_classes()}
    undeclared = [
        f"{where}: {callee}(code={code!r}) is not in {callee}.narrower"
        for where, callee, code in _literal_codes()
        if callee in classes and code not in (classes[callee].code, *classes[callee].narrower)
    ]
    assert not undeclared, "\n".join(undeclared)


def test_every_code_the_web_layer_writes_itself_is_in_the_contract():
    """``problem(status, "code", ...)`` and ``abort(status)`` outside the error classes."""
    codes = problems.all_error_codes()
    unknown = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            values = [arg.value if isinstance(arg, ast.Constant) else None for arg in node.args]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if _callee(node) == "problem" and len(values) >= 2 and values[1] is not None:
                status, code = values[0], values[1]
                if codes.get(code) != status:
                    unknown.append(f"{where}: problem({status}, {code!r})")
            elif _callee(node) == "abort" and values[0] is not None:
                known = {exc.code for exc in problems.HTTP_ERRORS}
                if values[0] not in known:
                    unknown.append(f"{where}: abort({values[0]}) (add it to problems.HTTP_ERRORS)")
    assert not unknown, "not in docs/reference/errors.md's codes:\n" + "\n".join(unknown)


def test_a_code_has_one_status():
    statuses: dict[str, set[int]] = {}
    for cls in _error_classes()[1:]:
        for code in (cls.code, *cls.narrower):
            statuses.setdefault(code, set()).add(cls.status)
    assert {code: s for code, s in statuses.items() if len(s) > 1} == {}


def test_openapi_lists_every_error_code_as_the_enum_of_problem_code(openapi):
    enum = openapi["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
    compare(set(problems.all_error_codes()), set(enum), "the code", "/openapi.json's Problem.code")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("get", "/v1/nothing-here", None, 404, "not_found"),
        ("delete", "/v1/payments/pay_1", None, 405, "method_not_allowed"),
        (
            "put",
            "/v1/customers/C-1",
            b"x" * (16 * 1024 * 1024 + 1),
            413,
            "request_entity_too_large",
        ),
    ],
)
def test_flasks_own_refusals_answer_the_documented_code(client, method, path, body, status, code):
    response = getattr(client, method)(
        path,
        data=body,
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json["code"]) == (status, code)
    assert first_codes(ERRORS_MD, "Error codes")[code][0] == str(status)


def test_every_failure_code_the_page_knows_is_documented_with_its_text():
    documented = first_codes(ERRORS_MD, "Payment and refund failures")
    compare(
        set(texts.FAILURES), set(documented), "portal/texts.py FAILURES", "errors.md's failures"
    )
    wrong = {
        code: SPANISH.gettext(texts.FAILURES[code])
        for code, cells in documented.items()
        if cells[1] != SPANISH.gettext(texts.FAILURES[code])
    }
    assert not wrong, f"docs/reference/errors.md: the page shows {wrong}"


# -- reason codes ---------------------------------------------------------------------------------


def test_every_reason_code_is_documented_with_the_pages_spanish_text():
    documented = first_codes(REASONS_MD, "Reason codes")
    compare({r.value for r in Reason}, set(documented), "rules.Reason", "docs/reference/reasons.md")
    unworded = sorted(set(Reason) - set(texts.REASONS))
    assert not unworded, f"portal/texts.py REASONS has no words for {unworded}"
    wrong = {
        code: SPANISH.gettext(texts.REASONS[code])
        for code, (_, _, page) in documented.items()
        if page != SPANISH.gettext(texts.REASONS[code])
    }
    assert not wrong, f"docs/reference/reasons.md: the customer page shows {wrong}"


def test_openapi_lists_every_reason_code(openapi):
    schemas = openapi["components"]["schemas"]
    compare(
        {r.value for r in Reason},
        set(schemas["Reason"]["enum"]),
        "rules.Reason",
        "/openapi.json's Reason",
    )
    line = schemas["StatementLineOut"]["properties"]["reasons"]["items"]["anyOf"]
    assert {"$ref": "#/components/schemas/Reason"} in line


# -- statuses and transitions ---------------------------------------------------------------------


def test_every_payment_status_is_documented_with_the_pages_title():
    documented = first_codes(STATUSES_MD, "Payment `status`")
    compare({s.value for s in PaymentStatus}, set(documented), "PaymentStatus", "statuses.md")
    unworded = sorted(set(PaymentStatus) - set(texts.STATUSES))
    assert not unworded, f"portal/texts.py STATUSES has no words for {unworded}"
    page = {status: SPANISH.gettext(title) for status, (title, _) in texts.STATUSES.items()}
    wrong = {
        status: page[status] for status, cells in documented.items() if cells[-1] != page[status]
    }
    assert not wrong, f"docs/reference/statuses.md: the page's titles are {wrong}"


def test_the_transition_table_is_lifecycle_allowed():
    documented = {
        PaymentStatus(code): {PaymentStatus(to) for to in ticked(cells[0])}
        for code, cells in first_codes(STATUSES_MD, "Transitions").items()
    }
    allowed = {status: set(targets) for status, targets in lifecycle.ALLOWED.items()}
    assert documented == allowed, "docs/reference/statuses.md's transitions differ from ALLOWED"


def test_every_refund_status_is_documented():
    documented = first_codes(STATUSES_MD, "Refund `status`")
    compare({s.value for s in RefundStatus}, set(documented), "RefundStatus", "statuses.md")


def test_openapi_lists_the_statuses_as_enums(openapi):
    schemas = openapi["components"]["schemas"]
    compare(
        {s.value for s in PaymentStatus},
        set(schemas["PaymentStatus"]["enum"]),
        "PaymentStatus",
        "/openapi.json",
    )
    refund = schemas["RefundOut"]["properties"]["status"]
    refund = schemas[refund["$ref"].rsplit("/", 1)[1]] if "$ref" in refund else refund
    compare({s.value for s in RefundStatus}, set(refund["enum"]), "RefundStatus", "/openapi.json")


# -- outbound events ------------------------------------------------------------------------------


def _news() -> set[str]:
    """What ``lifecycle.notify`` is told besides a status: every ``{"event": "..."}`` literal."""
    found = set()
    for path in sorted((ROOT / "b2bgateway").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "event"
                        and isinstance(value, ast.Constant)
                    ):
                        found.add(value.value)
    return found


def test_every_outbound_event_type_is_documented():
    assert {"expired", "late_success", "dispute_opened"} <= _news()
    derived = (
        {f"payment.{status}" for status in PaymentStatus}
        # A refund is told of when it leaves pending (lifecycle.set_refund_status), never before.
        | {f"refund.{status}" for status in RefundStatus if status is not RefundStatus.PENDING}
        | {f"payment.{news}" for news in _news()}
    )
    documented = set(first_codes(EVENTS_MD, "A new status")) | set(
        first_codes(EVENTS_MD, "News beyond a status")
    )
    compare(derived, documented, "the statuses and the core's news", "docs/reference/events.md")


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "heading"),
    [
        (Settings, "Top level"),
        (MerchantSettings, "`[merchants.<id>]`"),
        (ExpirySettings, "`[merchants.<id>.expiry]`"),
        (PortalSettings, "`[merchants.<id>.portal]`"),
        (EmailSettings, "`[merchants.<id>.email]`"),
        (FailedAuthSettings, "`[failed_auth]`"),
        (SandboxSettings, "`[merchants.<id>.processors.<name>]`"),
    ],
)
def test_every_setting_is_documented(model: type[BaseModel], heading: str):
    documented = first_codes(CONFIGURATION_MD, heading)
    compare(set(model.model_fields), set(documented), model.__name__, f"configuration.md {heading}")


# -- endpoints ------------------------------------------------------------------------------------


PATH_PARAMETER = r"<(?:[^:<>]+:)?([^<>]+)>"  # Flask's <converter:name>
BRACED = r"{\1}"


def test_every_v1_endpoint_is_in_the_resources_table(app):
    routes = {
        f"{method} {re.sub(PATH_PARAMETER, BRACED, rule.rule)}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/v1/", "/healthz", "/openapi.json"))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    }
    documented = {ticked(row[0])[0] for row in table(HTTP_MD, "Resources")}
    compare(routes, documented, "the app's routes", "docs/reference/http.md's resources")


# -- the guide's order checkout, and no pointer outside the repository ---------------------------


def test_the_guides_order_checkout_is_answered_as_shown(client, demo):
    guide = API_MD.read_text(encoding="utf-8")
    example = guide.split('"purpose": "order"', 1)[1].split("```", 1)[0]
    body = json.loads('{"customer_id": "C-1", "purpose": "order"' + example.split("'", 1)[0])
    response = client.post(
        "/v1/checkouts",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "order-example"},
    )
    assert response.status_code == 201, response.json
    payment = response.json
    shown = example.split("# 201 ", 1)[1]
    for field in ("status", "purpose", "order_reference", "amount", "currency"):
        assert f'"{field}": "{payment[field]}"' in shown, field
    assert payment["allocations"] == [] and '"allocations": []' in shown
    assert payment["next_action"]["type"] == "redirect"
    assert "/sandbox/acme/charges/" in payment["next_action"]["url"]  # the demo's is "demo"


SKIPPED = {
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}
TEXT = {".md", ".py", ".toml", ".txt", ".cfg", ".ini", ".yaml", ".yml", ".html", ".po", ".pot", ""}


def test_nothing_in_the_repository_points_outside_it():
    outside = ("API" + ".md", ".." + "/shared")
    pointing = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*")
        if path.is_file()
        and path.suffix in TEXT
        and not SKIPPED & set(path.relative_to(ROOT).parts)
        and not any(part.endswith(".egg-info") for part in path.parts)
        and any(word in path.read_text(errors="replace") for word in outside)
    ]
    assert pointing == [], (
        f"the repository's docs are the contract; these point elsewhere: {pointing}"
    )
