"""The customer payment page in a real browser: Debian's headless Chromium driven by Selenium.

A threaded Werkzeug server on a free loopback port serves the app; the gateway's ``public_url`` is
that address, so the sandbox's hosted page sends the browser back to it and the sandbox's signed
webhook really travels over HTTP to ``/v1/webhooks/acme/sandbox`` (only loopback is allowed).
Elements are found the way a person or a screen reader finds them: by role and accessible name
(Chromium's own computation, through WebDriver), by label, by visible text; never by CSS paths.
Screenshots of each view land in ``tests/artifacts/``.

Chromium and chromedriver are required (``apt-get install chromium chromium-driver``; ``.ci/run``
installs them): without them these tests fail, they are never skipped. Selenium Manager is kept
offline (``SE_OFFLINE``, explicit driver and browser paths): nothing is downloaded.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from pydantic import AnyHttpUrl
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from b2bgateway.demo import load_demo
from b2bgateway.gateway import Gateway
from b2bgateway.sandbox import delivery
from b2bgateway.settings import Settings
from b2bgateway.store.models import Payment, WebhookEvent
from tests.conftest import API_KEY
from tests.support.axe import assert_accessible
from tests.support.web import with_merchant

CHROMIUM = os.environ.get("B2BGATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("B2BGATEWAY_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT = 30  # seconds: the sandbox's webhook and the status page's polling take about 3 (much more
# on a loaded 2-core machine: a SPEI page once missed 15 s under CI with other work running)


# -- the browser -----------------------------------------------------------------------------------


def _chromium(javascript: bool = True, self_signed: bool = False) -> WebDriver:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    if missing:
        pytest.fail(
            f"the browser tests need Chromium and its driver, missing: {', '.join(missing)}. "
            "Install them with `apt-get install chromium chromium-driver` (.ci/run does), or "
            "point B2BGATEWAY_TEST_CHROMIUM / B2BGATEWAY_TEST_CHROMEDRIVER at them.",
            pytrace=False,
        )
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver or browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="b2bgw-chromium-")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--lang=es-MX",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    if self_signed:  # the fake issuer's https servers on loopback (a certificate made per test)
        options.add_argument("--ignore-certificate-errors")
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        pytest.fail(f"Chromium did not start: {exc.msg}", pytrace=False)
    driver.set_window_size(1100, 1300)
    driver.implicitly_wait(0)
    driver.profile_dir = profile  # type: ignore[attr-defined]
    return driver


def _quit(driver: WebDriver) -> None:
    profile = getattr(driver, "profile_dir", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = _chromium()
    yield driver
    _quit(driver)


@pytest.fixture(scope="module")
def browser_without_js() -> Iterator[WebDriver]:
    driver = _chromium(javascript=False)
    yield driver
    _quit(driver)


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save the whole page as ``tests/artifacts/<name>.png`` (kept out of git by the folder's own
    .gitignore)."""
    ARTIFACTS.mkdir(exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(int(height) + 140, 600))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


# -- finding things as a person does -------------------------------------------------------------

_CANDIDATES = {
    "button": "//button | //input[@type='submit' or @type='button'] | //*[@role='button']",
    "checkbox": "//input[@type='checkbox'] | //*[@role='checkbox']",
    "link": "//a[@href] | //*[@role='link']",
    "radio": "//input[@type='radio'] | //*[@role='radio']",
}


def all_by_role(driver: WebDriver, role: str) -> dict[str, WebElement]:
    """Elements of an ARIA role by their accessible name, as Chromium computes them (on the
    page as it is once loaded: a click that navigates may still be loading the next one)."""
    for _ in range(50):
        loaded(driver)
        try:
            return {
                element.accessible_name: element
                for element in driver.find_elements(By.XPATH, _CANDIDATES[role])
                if element.aria_role == role and element.is_displayed()
            }
        except StaleElementReferenceException:  # the page changed under us: look again
            time.sleep(0.1)
    raise AssertionError("the page never settled")


def by_role(driver: WebDriver, role: str, name: str) -> WebElement:
    """The element of that role and accessible name, waiting a little for it to appear."""
    found: dict[str, WebElement] = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = all_by_role(driver, role)
        if name in found:
            return found[name]
        time.sleep(0.1)
    raise AssertionError(f"no {role} named {name!r}; there are: {sorted(found)}")


def loaded(driver: WebDriver) -> None:
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return document.readyState") == "complete",
        "the page never finished loading",
    )


def press(driver: WebDriver, element: WebElement) -> None:
    """Scroll it to the middle of the screen, as a person would, and click it (the pay bar
    sticks to the bottom of the screen and may cover what is under it)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def replaced(element: WebElement) -> Callable[[WebDriver], bool]:
    """A wait's condition: ``element`` has left the page (a form's answer replaced it). Like
    Selenium's ``staleness_of``, and also when Chromium, asked mid-replacement, answers that the
    node does not belong to the document (a WebDriverException, not a stale element: seen under
    load)."""

    def gone(_: WebDriver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException as exc:
            if _replaced(exc):
                return True
            raise
        return False

    return gone


def balance(driver: WebDriver, label: str) -> str:
    """The amount shown under a balance's label ("Saldo total")."""
    term = f"//dt[normalize-space()={json.dumps(label)}]/following-sibling::dd[1]"
    return driver.find_element(By.XPATH, term).text.strip()


def reason_of(driver: WebDriver, checkbox: WebElement) -> str:
    """A disabled row's reason: the text its checkbox is described by."""
    described = checkbox.get_attribute("aria-describedby")
    assert described, "a disabled checkbox names its reason with aria-describedby"
    return driver.find_element(By.ID, described).text.strip()


#: What Chromium says when the page is replaced between finding an element and reading it: a
#: stale element, or (mid-navigation) "Node with given id does not belong to the document".
_PAGE_REPLACED = "does not belong to the document"


def _replaced(exc: WebDriverException) -> bool:
    return isinstance(exc, StaleElementReferenceException) or _PAGE_REPLACED in str(exc)


def _body_text(driver: WebDriver) -> str | None:
    """The page's text, or None while the page is being replaced (look again)."""
    try:
        return str(driver.find_element(By.TAG_NAME, "body").text)
    except WebDriverException as exc:
        if _replaced(exc):
            return None
        raise


def text(driver: WebDriver) -> str:
    for _ in range(50):
        found = _body_text(driver)
        if found is not None:
            return found
        time.sleep(0.1)  # the page reloaded between find and read
    raise AssertionError("the page never settled")


def wait_for_text(driver: WebDriver, expected: str) -> None:
    # The status page follows the payment by reloading itself, and a form's answer replaces
    # the page: the body found may be replaced before its text is read: look again.
    WebDriverWait(driver, WAIT).until(
        lambda d: expected in (_body_text(d) or ""), f"{expected!r} never appeared"
    )


def wait_for_path(driver: WebDriver, fragment: str) -> None:
    WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: fragment in urlsplit(d.current_url).path, f"never reached {fragment}"
    )
    loaded(driver)


# -- the server ----------------------------------------------------------------------------------


class _Later:
    """The WSGI app, set once the gateway (which needs the server's address) is built."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[BaseWSGIServer, _Later]]:
    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True, request_handler=_Quiet)
    yield server, later
    server.server_close()


def _framing_page(environ: Any, start_response: Any) -> list[bytes]:
    """A merchant's portal that embeds the payment page: ``/?src=<link>``."""
    src = html.escape(parse_qs(environ.get("QUERY_STRING", "")).get("src", [""])[0])
    body = (
        '<!doctype html><html lang="es-MX"><title>Portal</title>'
        f'<iframe src="{src}" title="Pagos" width="900" height="700"></iframe></html>'
    )
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body.encode()]


@pytest.fixture
def framer() -> Iterator[int]:
    """A second site (another port): the merchant's portal. Its port."""
    server = make_server("127.0.0.1", 0, _framing_page, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, name="portal-framer", daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def settings(
    settings: Settings,
    http_server: tuple[BaseWSGIServer, _Later],
    framer: int,
    request: pytest.FixtureRequest,
) -> Settings:
    """conftest's acme, reached (by browsers and by the sandbox's webhooks) at this server; its
    portal at ``http://127.0.0.1:<framer>`` may frame the page (``localhost:<framer>`` may not)."""
    server, _ = http_server
    public = settings.model_copy(
        update={"public_url": AnyHttpUrl(f"http://127.0.0.1:{server.server_port}")}
    )
    changes: dict[str, Any] = {"portal": {"frame_ancestors": [f"http://127.0.0.1:{framer}"]}}
    marker = request.node.get_closest_marker("methods")
    if marker is not None:  # the methods and MSI acme offers in this test
        changes.update(payment_methods=marker.args[0], installments=marker.args[1])
    result: Settings = with_merchant(public, "acme", **changes)
    return result


@pytest.fixture(autouse=True)
def _no_outbound_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Overrides conftest's recorder: the sandbox's webhooks really go over HTTP, to loopback only."""
    sent: list[str] = []
    real = delivery.http_post

    def loopback_only(url: str, body: bytes, headers: Mapping[str, str]) -> None:
        assert urlsplit(url).hostname == "127.0.0.1", f"no network in tests: {url}"
        sent.append(url)
        real(url, body, headers)

    monkeypatch.setattr(delivery, "http_post", loopback_only)
    return sent


@pytest.fixture
def webhooks_sent(_no_outbound_http: list[str]) -> list[str]:
    """The URLs the sandbox's webhooks were POSTed to."""
    return _no_outbound_http


@pytest.fixture
def live(app: Any, gateway: Gateway, http_server: tuple[BaseWSGIServer, _Later]) -> Iterator[str]:
    """The app served on the loopback port, with acme's demo data. Its base URL."""
    server, later = http_server
    later.app = app
    load_demo(gateway.store, gateway.merchants["acme"])
    thread = threading.Thread(target=server.serve_forever, name="portal-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def portal_link(base: str, customer_id: str = "C-1", **body: Any) -> str:
    """``POST /v1/portal-sessions`` over HTTP, as the merchant's portal does."""
    request = urllib.request.Request(  # noqa: S310 (loopback, http)
        f"{base}/v1/portal-sessions",
        data=json.dumps({"customer_id": customer_id, **body}).encode(),
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        assert response.status == 201
        url: str = json.load(response)["url"]
    assert url.startswith(f"{base}/portal/")
    return url


# -- the tests -----------------------------------------------------------------------------------


def test_pay_two_invoices_through_the_sandbox(
    browser: WebDriver, live: str, gateway: Gateway, webhooks_sent: list[str]
) -> None:
    link = portal_link(live)
    browser.set_window_size(1100, 1300)
    browser.get(link)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es-MX"
    assert browser.title.startswith("Estado de cuenta")

    # The three balances, in pesos.
    assert balance(browser, "Saldo total") == "$11,430.50"
    assert balance(browser, "Saldo vencido") == "$4,850.50"
    assert balance(browser, "Saldo por vencer") == "$6,580.00"
    buttons = all_by_role(browser, "button")
    assert {"Pagar total: $10,810.50", "Pagar vencido: $4,230.50"} <= set(buttons)
    assert "Calcular total" not in buttons  # JavaScript sums as boxes are ticked
    pay = by_role(browser, "button", "Pagar")
    assert not pay.is_enabled()  # nothing selected yet
    cxc = by_role(browser, "checkbox", "Factura CXC-1006")
    assert not cxc.is_enabled()
    assert reason_of(browser, cxc).startswith("Cargo de cuentas por cobrar")
    screenshot(browser, "portal-estado-de-cuenta")
    assert_accessible(browser, "the account")

    # Two invoices selected: the button shows their sum.
    press(browser, by_role(browser, "checkbox", "Seleccionar factura A-1001"))
    assert by_role(browser, "button", "Pagar $3,480.00").is_enabled()
    press(browser, by_role(browser, "checkbox", "Seleccionar factura A-1002"))
    pay = by_role(browser, "button", "Pagar $4,230.50")
    assert pay.is_enabled()
    assert "Total seleccionado: $4,230.50 (2 facturas)" in text(browser)
    screenshot(browser, "portal-dos-facturas")

    # The sandbox's hosted page: "Pagar".
    press(browser, pay)
    wait_for_path(browser, "/sandbox/acme/charges/")
    assert "$4,230.50 MXN" in text(browser)
    screenshot(browser, "sandbox-pagina-de-pago")
    press(browser, by_role(browser, "button", "Pagar"))

    # Back on the portal: the status page follows the payment until the webhook settles it.
    wait_for_path(browser, "/pagos/pay_")
    wait_for_text(browser, "Pago aprobado")
    assert "Facturas A-1001, A-1002" in text(browser)
    screenshot(browser, "portal-pago-aprobado")
    assert_accessible(browser, "an approved payment")
    payment_id = urlsplit(browser.current_url).path.rsplit("/", 1)[1]
    with gateway.store.read() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None and payment.status == "succeeded"
        received = session.scalars(select(WebhookEvent)).all()
    assert received, "the sandbox's webhook reached the gateway over HTTP"
    assert webhooks_sent == [f"{live}/v1/webhooks/acme/sandbox"]

    # Those invoices are no longer payable, and the balances wait for the ERP.
    press(browser, by_role(browser, "link", "Volver al estado de cuenta"))
    wait_for_text(browser, "Estado de cuenta")
    for _ in range(2):  # as shown, and after a reload
        assert balance(browser, "Saldo total") == "$11,430.50"
        assert balance(browser, "Saldo vencido") == "$4,850.50"
        for folio, paid in (("A-1001", "$3,480.00"), ("A-1002", "$750.50")):
            box = by_role(browser, "checkbox", f"Factura {folio}")
            assert not box.is_enabled()
            assert reason_of(browser, box).startswith(f"Pagado, por aplicar: {paid}")
        assert balance(browser, "Pagado, por aplicar") == "$4,230.50"
        assert by_role(browser, "checkbox", "Seleccionar factura A-1003").is_enabled()
        assert "Pagar vencido: $4,230.50" not in all_by_role(browser, "button")
        browser.refresh()
    screenshot(browser, "portal-despues-del-pago")
    assert_accessible(browser, "the account after a payment")

    # Mis pagos, and the payment's receipt.
    press(browser, by_role(browser, "link", "Mis pagos"))
    wait_for_text(browser, "Pago aprobado")
    assert "$4,230.50" in text(browser)
    assert_accessible(browser, "Mis pagos")
    screenshot(browser, "portal-mis-pagos")
    links = all_by_role(browser, "link")
    (receipt,) = [name for name in links if name.startswith("Comprobante")]
    press(browser, links[receipt])
    wait_for_text(browser, "Comprobante de pago")
    assert "VISA terminación 4242" in text(browser)
    assert by_role(browser, "button", "Imprimir").is_displayed()
    assert_accessible(browser, "the receipt")
    screenshot(browser, "portal-comprobante")


@pytest.mark.parametrize(
    ("amount", "shown"),
    [("9999.99", "$9,999.99"), ("10000.00", "$10,000.00"), ("15000.00", "$15,000.00")],
    ids=["below", "at", "above"],
)
def test_an_order_below_at_and_above_the_credit_limit(
    browser: WebDriver, live: str, amount: str, shown: str
) -> None:
    order = {"reference": "PED-77", "amount": amount, "currency": "MXN"}
    link = portal_link(live, order=order)
    browser.set_window_size(1100, 1000)
    browser.get(link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Pedido PED-77"
    assert shown in text(browser)
    assert "$10,000.00" in text(browser)  # the credit limit
    buttons = all_by_role(browser, "button")
    assert_accessible(browser, "an order")
    name = {"below": "bajo", "at": "en", "above": "sobre"}
    key = "above" if amount == "15000.00" else ("at" if amount == "10000.00" else "below")
    screenshot(browser, f"portal-pedido-{name[key]}-el-limite")
    if key != "above":
        assert buttons == {}
        assert "El pedido está dentro de tu límite de crédito" in text(browser)
        return
    press(browser, by_role(browser, "button", f"Pagar pedido: {shown}"))
    wait_for_path(browser, "/sandbox/acme/charges/")
    press(browser, by_role(browser, "button", "Pagar"))
    wait_for_text(browser, "Pago aprobado")
    assert "Pedido PED-77" in text(browser)


def test_without_javascript_the_sum_shows_after_submit(
    browser_without_js: WebDriver, live: str
) -> None:
    driver = browser_without_js
    driver.set_window_size(1100, 1300)
    driver.get(portal_link(live))
    assert "Ninguna factura seleccionada" not in text(driver)
    press(driver, by_role(driver, "checkbox", "Seleccionar factura A-1003"))
    press(driver, by_role(driver, "checkbox", "Seleccionar factura A-1004"))
    press(driver, by_role(driver, "button", "Calcular total"))
    wait_for_text(driver, "Total seleccionado: $6,580.00 (2 facturas)")
    assert by_role(driver, "checkbox", "Seleccionar factura A-1003").is_selected()
    screenshot(driver, "portal-sin-javascript")  # axe-core needs JavaScript: checked with it
    # One more box after "Calcular total": what is charged is computed when sent, and shown.
    press(driver, by_role(driver, "checkbox", "Seleccionar factura A-1001"))
    press(driver, by_role(driver, "button", "Pagar las facturas marcadas"))
    wait_for_text(driver, "Vas a pagar")
    assert "$10,060.00" in text(driver)
    press(driver, by_role(driver, "button", "Pagar $10,060.00"))
    wait_for_path(driver, "/sandbox/acme/charges/")
    press(driver, by_role(driver, "button", "Pagar"))
    wait_for_path(driver, "/pagos/pay_")
    wait_for_text(driver, "Pago aprobado")  # <meta refresh> follows the payment


def test_usable_on_a_phone(browser: WebDriver, live: str) -> None:
    browser.set_window_size(390, 844)
    browser.get(portal_link(live))
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the page scrolls sideways on a phone"
    box = by_role(browser, "checkbox", "Seleccionar factura A-1001")
    size = box.size
    assert size["width"] >= 18 and size["height"] >= 18
    for button in all_by_role(browser, "button").values():
        assert button.size["height"] >= 44, button.accessible_name  # touch targets
    press(browser, box)
    assert by_role(browser, "button", "Pagar $3,480.00").is_enabled()
    screenshot(browser, "portal-telefono")
    assert_accessible(browser, "the account on a phone")


def test_a_tampered_order_amount_is_never_charged(browser: WebDriver, live: str) -> None:
    order = {"reference": "PED-77", "amount": "15000.00", "currency": "MXN"}
    link = portal_link(live, order=order)
    browser.set_window_size(1100, 1000)
    browser.get(f"{link}?importe=10000.01&referencia=PED-1")  # as a customer might try
    assert browser.find_element(By.TAG_NAME, "h1").text == "Pedido PED-77"
    assert "$10,000.01" not in text(browser)
    press(browser, by_role(browser, "button", "Pagar pedido: $15,000.00"))
    wait_for_path(browser, "/sandbox/acme/charges/")
    assert "$15,000.00 MXN" in text(browser)
    # The token's payload edited: the signature no longer matches.
    token = urlsplit(link).path.split("/")[2]
    payload, stamp, signature = token.rsplit(".", 2)
    browser.get(f"{live}/portal/{payload[:-4]}AAAA.{stamp}.{signature}/pedido")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Enlace no válido"


def test_only_the_merchants_portal_may_frame_the_page(
    browser: WebDriver, live: str, framer: int
) -> None:
    link = portal_link(live)
    browser.set_window_size(1100, 1000)
    # The merchant's portal (an allowed origin): the page shows inside it.
    browser.get(f"http://127.0.0.1:{framer}/?src={quote(link)}")
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    wait_for_text(browser, "Estado de cuenta")
    assert balance(browser, "Saldo total") == "$11,430.50"
    browser.switch_to.default_content()
    screenshot(browser, "portal-incrustado")
    # Another site (another origin, though the same machine): the browser refuses to show it.
    browser.get(f"http://localhost:{framer}/?src={quote(link)}")
    loaded(browser)
    frame = browser.find_element(By.TAG_NAME, "iframe")
    time.sleep(1)
    browser.switch_to.frame(frame)
    shown = text(browser)
    assert "Estado de cuenta" not in shown and "Ferretería" not in shown, shown
    assert browser.execute_script("return location.href").startswith("chrome-error:")
    browser.switch_to.default_content()


def test_abandon_then_continue_then_cancel(browser: WebDriver, live: str) -> None:
    link = portal_link(live)
    browser.set_window_size(1100, 1300)
    browser.get(link)
    press(browser, by_role(browser, "button", "Pagar vencido: $4,230.50"))
    wait_for_path(browser, "/sandbox/acme/charges/")
    browser.get(link)  # the customer leaves the processor's page without paying
    wait_for_text(browser, "Pagos pendientes")
    assert "Pago pendiente de $4,230.50 · Facturas A-1001, A-1002" in text(browser)
    box = by_role(browser, "checkbox", "Factura A-1001")
    assert reason_of(browser, box).startswith("Pago pendiente")
    screenshot(browser, "portal-pago-pendiente")
    assert_accessible(browser, "the account with a pending payment")

    # Continuar: the payment's page, then the processor's page again.
    press(browser, by_role(browser, "link", "Continuar con el pago"))
    wait_for_path(browser, "/pagos/pay_")
    assert "Pago pendiente" in text(browser)
    assert_accessible(browser, "a pending payment")
    press(browser, by_role(browser, "link", "Continuar con el pago"))
    wait_for_path(browser, "/sandbox/acme/charges/")
    assert "$4,230.50 MXN" in text(browser)

    # Cancelar, from the account: the invoices are free at once.
    browser.get(link)
    press(browser, by_role(browser, "button", "Cancelar el pago de $4,230.50"))
    wait_for_text(browser, "Pago cancelado")
    assert "Tus facturas quedaron libres" in text(browser)
    assert_accessible(browser, "a canceled payment")
    press(browser, by_role(browser, "link", "Volver al estado de cuenta"))
    wait_for_text(browser, "Estado de cuenta")
    assert "Pagos pendientes" not in text(browser)
    assert by_role(browser, "checkbox", "Seleccionar factura A-1001").is_enabled()


def test_back_from_the_processor_right_after_approval_it_says_approved(
    browser: WebDriver, live: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from b2bgateway.sandbox import delivery as sandbox_delivery

    # The processor's webhook is slow: it has not arrived when the customer is back.
    monkeypatch.setattr(sandbox_delivery, "http_post", lambda url, body, headers: None)
    browser.set_window_size(1100, 1300)
    browser.get(portal_link(live))
    press(browser, by_role(browser, "button", "Pagar vencido: $4,230.50"))
    wait_for_path(browser, "/sandbox/acme/charges/")
    press(browser, by_role(browser, "button", "Pagar"))
    wait_for_path(browser, "/pagos/pay_")
    shown = text(browser)
    assert "Pago aprobado" in shown, shown
    assert "Esperando" not in shown and "Continuar con el pago" not in shown


@pytest.mark.methods(["card", "bank_transfer", "cash"], [3, 6, 12])
def test_spei_instructions_with_copy_buttons(browser: WebDriver, live: str) -> None:
    browser.set_window_size(1100, 1300)
    browser.get(portal_link(live))
    press(browser, by_role(browser, "button", "Pagar vencido: $4,230.50"))
    wait_for_text(browser, "¿Cómo quieres pagar?")
    assert by_role(browser, "radio", "Tarjeta de crédito o débito").is_selected()
    press(browser, by_role(browser, "radio", "Transferencia SPEI"))
    screenshot(browser, "portal-como-pagar")
    assert_accessible(browser, "¿Cómo quieres pagar?")
    press(browser, by_role(browser, "button", "Pagar $4,230.50"))
    wait_for_text(browser, "Esperando tu transferencia")
    shown = text(browser)
    assert "CLABE" in shown and "$4,230.50" in shown and "Fecha límite" in shown
    copy = by_role(browser, "button", "Copiar CLABE")
    press(browser, copy)
    WebDriverWait(browser, WAIT).until(lambda d: copy.text == "Copiado", "never copied")
    screenshot(browser, "portal-spei")
    assert_accessible(browser, "SPEI instructions")
    # The customer's bank sends the transfer (the sandbox's page plays it): the page follows.
    payment_url = browser.current_url
    press(browser, by_role(browser, "link", "Instrucciones del procesador"))
    browser.switch_to.window(browser.window_handles[-1])
    wait_for_text(browser, "Simular transferencia")
    simulate = by_role(browser, "button", "Simular transferencia")
    press(browser, simulate)
    # Closed only once the sandbox has answered: closing sooner can abort the transfer's POST.
    WebDriverWait(browser, WAIT).until(replaced(simulate), "the transfer was never answered")
    browser.close()
    browser.switch_to.window(browser.window_handles[0])
    assert browser.current_url == payment_url
    wait_for_text(browser, "Pago aprobado")


@pytest.mark.methods(["card", "bank_transfer", "cash"], [])
def test_cash_voucher_printable(browser: WebDriver, live: str) -> None:
    browser.set_window_size(1100, 1300)
    browser.get(portal_link(live))
    press(browser, by_role(browser, "button", "Pagar vencido: $4,230.50"))
    wait_for_text(browser, "¿Cómo quieres pagar?")
    press(browser, by_role(browser, "radio", "Efectivo en OXXO y otras tiendas"))
    press(browser, by_role(browser, "button", "Pagar $4,230.50"))
    wait_for_text(browser, "Esperando tu pago en tienda")
    barcode = browser.find_element(By.CSS_SELECTOR, "img.barcode")
    assert browser.execute_script("return arguments[0].naturalWidth", barcode) > 0  # loaded
    assert by_role(browser, "button", "Imprimir ficha").is_displayed()
    assert "Fecha límite" in text(browser)
    screenshot(browser, "portal-ficha-efectivo")
    assert_accessible(browser, "the cash voucher")


def test_error_pages_are_accessible(browser: WebDriver, live: str) -> None:
    browser.set_window_size(1100, 1000)
    link = portal_link(live)
    for path, title in (
        ("/portal/not-a-token", "Enlace no válido"),
        (f"{urlsplit(link).path}/pedido", "Pedido no válido"),
        (f"{urlsplit(link).path}/pagos/pay_nothing", "Pago no encontrado"),
    ):
        browser.get(f"{live}{path}")
        assert browser.find_element(By.TAG_NAME, "h1").text == title
        assert_accessible(browser, title)


def test_axe_core_finds_what_it_should(browser: WebDriver) -> None:
    """The accessibility check itself: a page with an unnamed button and an image without alt."""
    from tests.support.axe import serious_violations

    browser.get("data:text/html,<html><body><img src='x.png'><button></button></body></html>")
    found = " ".join(serious_violations(browser))
    assert "button-name (critical)" in found and "image-alt (critical)" in found


def test_a_long_list_can_be_searched_and_sorted(
    browser: WebDriver, live: str, gateway: Gateway
) -> None:
    from tests.support.seeding import seed_customer

    invoices = [(f"F-{n:03d}", f"{n * 10}.00") for n in range(1, 25)]
    seed_customer(gateway.store, "acme", invoices, customer_id="C-50", name="Muchas Facturas")
    browser.set_window_size(1100, 1300)
    browser.get(portal_link(live, "C-50"))
    search = browser.find_element(By.ID, "buscar-folio")  # found by its label's target
    assert search.is_displayed()
    press(browser, by_role(browser, "checkbox", "Seleccionar factura F-007"))
    search.send_keys("F-01")
    wait_for_text(browser, "10 facturas encontradas")
    visible = [r for r in browser.find_elements(By.CSS_SELECTOR, "tbody tr") if r.is_displayed()]
    assert len(visible) == 10
    assert all(r.get_attribute("data-folio").startswith("F-01") for r in visible)
    search.clear()
    search.send_keys(" ")  # an input event; blank shows every row again
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "ordenar")).select_by_visible_text("Saldo, de mayor a menor")
    first = browser.find_elements(By.CSS_SELECTOR, "tbody tr")[0]
    assert first.get_attribute("data-folio") == "F-024"
    # Ticked boxes stay ticked, and the pay button still shows their sum.
    assert by_role(browser, "checkbox", "Seleccionar factura F-007").is_selected()
    assert by_role(browser, "button", "Pagar $70.00").is_enabled()
    assert_accessible(browser, "a long invoice list")


# -- 3-D Secure: a fake issuer (ACS) and the processor's return, two https origins on loopback ----


class _Challenge:
    """The issuer's challenge server (the ACS) and the processor's, each its own https origin
    (another port): what EMV 3-D Secure does in the frame. The ACS answers the creq with its
    page, whose form posts the answer to its own ``/answer``, which redirects (307: still a POST)
    to the processor's ``/cres``: a redirect and a form POST to a second origin."""

    def __init__(self, certificate: tuple[str, str]) -> None:
        self.creqs: list[str] = []
        self.cres: list[str] = []
        self._servers = [
            make_server(
                "127.0.0.1",
                0,
                app,
                threaded=True,
                request_handler=_Quiet,
                ssl_context=certificate,
            )
            for app in (self._acs, self._processor)
        ]
        self.acs = f"https://127.0.0.1:{self._servers[0].server_port}"
        self.processor = f"https://127.0.0.1:{self._servers[1].server_port}"
        self._threads = [
            threading.Thread(target=server.serve_forever, name="fake-3ds", daemon=True)
            for server in self._servers
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _form(environ: Any) -> dict[str, str]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size).decode()
        return {key: values[0] for key, values in parse_qs(body).items()}

    @staticmethod
    def _page(start_response: Any, body: str) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [f'<!doctype html><html lang="es-MX"><title>Banco</title>{body}</html>'.encode()]

    def _acs(self, environ: Any, start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/challenge":
            self.creqs.append(self._form(environ)["creq"])
            return self._page(
                start_response,
                '<form method="post" action="/answer"><input name="code" value="123456">'
                '<input type="hidden" name="cres" value="eyJjcmVzIjoiWSJ9">'
                "<button>Enviar</button></form>"
                "<script>document.forms[0].submit()</script>",
            )
        if path == "/answer":
            start_response("307 Temporary Redirect", [("Location", f"{self.processor}/cres")])
            return [b""]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no"]

    def _processor(self, environ: Any, start_response: Any) -> list[bytes]:
        self.cres.append(self._form(environ).get("cres", ""))
        return self._page(start_response, "<p>Verificación terminada</p>")

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)


@pytest.fixture
def challenge(tmp_path: Path) -> Iterator[_Challenge]:
    """The fake issuer and processor, with a self-signed certificate for 127.0.0.1 made here
    (openssl, offline)."""
    key, certificate = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [  # noqa: S607 (openssl from PATH)
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    servers = _Challenge((str(certificate), str(key)))
    yield servers
    servers.close()


@pytest.fixture
def browser_self_signed() -> Iterator[WebDriver]:
    driver = _chromium(self_signed=True)
    yield driver
    _quit(driver)


def _in_challenge(gateway: Gateway, url: str) -> str:
    """The payment the portal just made, as a processor that answered a 3-D Secure challenge
    (``post_form`` to ``url``) leaves it. Its id."""
    from b2bgateway.interface import NextAction
    from b2bgateway.representation import next_action_json

    with gateway.store.write() as session:
        (row,) = session.scalars(select(Payment)).all()
        row.status = "requires_action"
        row.next_action = next_action_json(NextAction("post_form", url=url, data={"creq": "CREQ1"}))
        return str(row.id)


@pytest.mark.methods(["card", "bank_transfer"], [])
def test_a_3ds_challenge_finishes_at_the_processor_and_is_posted_once(
    browser_self_signed: WebDriver, live: str, gateway: Gateway, challenge: _Challenge
) -> None:
    """The issuer's page in the frame posts its answer to another origin (the processor's)
    through a redirect: the page's policy lets it through. A reload (or the status poll) does
    not post the creq again; the button does, when the customer asks."""
    browser = browser_self_signed
    browser.get(portal_link(live))
    press(browser, by_role(browser, "button", "Pagar vencido: $4,230.50"))
    wait_for_text(browser, "¿Cómo quieres pagar?")
    press(browser, by_role(browser, "radio", "Transferencia SPEI"))
    press(browser, by_role(browser, "button", "Pagar $4,230.50"))
    wait_for_path(browser, "/pagos/pay_")
    _in_challenge(gateway, f"{challenge.acs}/challenge")
    browser.refresh()
    wait_for_text(browser, "Verificación de tu banco")
    WebDriverWait(browser, WAIT).until(lambda d: challenge.cres, "the CRes never arrived")
    assert challenge.creqs == ["CREQ1"]
    assert challenge.cres == ["eyJjcmVzIjoiWSJ9"]
    frame = browser.find_element(By.CSS_SELECTOR, "iframe.challenge-frame")
    browser.switch_to.frame(frame)
    wait_for_text(browser, "Verificación terminada")
    browser.switch_to.default_content()
    # The page again (a reload; the status poll reloads too): the creq is not posted again.
    browser.refresh()
    wait_for_text(browser, "Verificación de tu banco")
    time.sleep(1)  # what an automatic post would take to reach the issuer
    assert challenge.creqs == ["CREQ1"]
    # The customer asks for it again: the button posts it.
    press(browser, by_role(browser, "button", "Abrir la verificación de tu banco"))
    WebDriverWait(browser, WAIT).until(lambda d: len(challenge.cres) == 2, "not posted again")
    assert challenge.creqs == ["CREQ1", "CREQ1"]
