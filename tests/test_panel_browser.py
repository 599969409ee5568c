"""The merchant's payments module in a real browser (headless Chromium through Selenium), with the
customer page's browser helpers (tests/test_portal_browser.py: the server, Chromium, finding
things by role and name): sign in and the lockout, filter and open a payment, refund it, record a
manual payment for two invoices and see the customer page refuse them, void it and see them
payable again, export CSV, and every page at phone width. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from b2bgateway import totp
from b2bgateway.gateway import Gateway
from tests.conftest import API_KEY
from tests.support.axe import assert_accessible
from tests.support.panel import PASSWORD, USERS, add_users, fast_hashing
from tests.test_portal_browser import (  # the customer page's browser fixtures and helpers
    _no_outbound_http,  # noqa: F401
    browser,  # noqa: F401
    by_role,
    framer,  # noqa: F401
    http_server,  # noqa: F401
    live,  # noqa: F401
    portal_link,
    press,
    replaced,
    screenshot,
    settings,  # noqa: F401
    text,
    wait_for_path,
    wait_for_text,
)

PHONE = (390, 844)
DESKTOP = (1100, 1300)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_hashing(monkeypatch)


def _api(base: str, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (loopback, http)
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        found: dict[str, Any] = json.load(response)
        return found


def _field(driver: WebDriver, label: str) -> Any:
    """The input a visible label names (the label wraps it or points at it)."""
    quoted = json.dumps(label, ensure_ascii=False)  # XPath reads no \u escapes
    element = driver.find_element(
        By.XPATH,
        f"//label[normalize-space(text())={quoted}]//*[self::input or self::select or "
        f"self::textarea] | //*[@id=//label[normalize-space()={quoted}]/@for]",
    )
    return element


def _sign_in(driver: WebDriver, base: str, email: str, password: str = PASSWORD) -> None:
    driver.get(f"{base}/panel/entrar")
    wait_for_text(driver, "Entrar al módulo de pagos")
    _field(driver, "Correo").clear()
    _field(driver, "Correo").send_keys(email)
    _field(driver, "Contraseña").send_keys(password)
    button = by_role(driver, "button", "Entrar")
    press(driver, button)
    # The answer has loaded (the form was replaced) before anything reads it or moves on.
    WebDriverWait(driver, 30).until(replaced(button), "the sign-in was never answered")


def test_the_module_from_sign_in_to_void(
    browser: WebDriver,  # noqa: F811 (the fixture imported above)
    live: str,  # noqa: F811
    gateway: Gateway,
) -> None:
    add_users(gateway.store)
    browser.delete_all_cookies()
    browser.set_window_size(*DESKTOP)

    # A wrong password five times locks the account, said plainly.
    for _ in range(5):
        _sign_in(browser, live, USERS["consulta"], "no-es-esta-clave")
    wait_for_text(browser, "bloqueamos esta cuenta")  # the answer to the fifth, once it loads
    screenshot(browser, "panel-bloqueo")

    # The admin signs in and lands on Inicio.
    _sign_in(browser, live, USERS["admin"])
    wait_for_text(browser, "Cobrado hoy")
    paid = _api(
        live,
        "/v1/checkouts",
        {
            "customer_id": "C-1",
            "purpose": "invoices",
            "invoice_ids": ["F-1004"],
            "payment_method": {"token": "tok_approved"},
        },
        "browser-card",
    )
    assert paid["status"] == "succeeded"

    # Filter by the customer's name and open the payment.
    press(browser, by_role(browser, "link", "Pagos"))
    press(browser, browser.find_element(By.XPATH, "//summary[normalize-space()='Filtros']"))
    _field(browser, "Cliente (número o nombre)").send_keys("esperanza")
    Select(_field(browser, "Estado")).select_by_visible_text("Pagado")
    press(browser, by_role(browser, "button", "Buscar"))
    wait_for_text(browser, "1 pago")
    screenshot(browser, "panel-pagos")
    press(browser, browser.find_element(By.CSS_SELECTOR, "table.list tbody a"))
    wait_for_path(browser, f"/panel/pagos/{paid['id']}")
    assert "A-1004" in text(browser)

    # Refund part of it, with a reason, after confirming.
    press(browser, by_role(browser, "link", "Reembolsar"))
    _field(browser, "Importe (vacío: todo lo que queda)").send_keys("600.00")
    _field(browser, "Motivo").send_keys("Mercancía dañada")
    press(browser, by_role(browser, "button", "Confirmar"))
    wait_for_text(browser, "Reembolso registrado")
    assert "Reembolsado en parte" in text(browser)
    screenshot(browser, "panel-pago")

    # A manual payment for two invoices...
    press(browser, by_role(browser, "link", "Pagos manuales"))
    _field(browser, "Número de cliente").send_keys("C-1")
    press(browser, by_role(browser, "button", "Ver facturas abiertas"))
    wait_for_text(browser, "A-1001")
    press(browser, by_role(browser, "checkbox", "A-1001"))
    press(browser, by_role(browser, "checkbox", "A-1003"))
    Select(_field(browser, "Cómo pagó")).select_by_visible_text("Transferencia")
    _field(browser, "Referencia (depósito, transferencia o cheque)").send_keys("SPEI 0042")
    screenshot(browser, "panel-pago-manual")
    press(browser, by_role(browser, "button", "Registrar pago manual"))
    wait_for_text(browser, "Pago manual registrado")
    manual_url = browser.current_url

    # ...that the customer page now refuses.
    browser.get(portal_link(live))
    wait_for_text(browser, "Estado de cuenta")
    # F-1004 (paid by card above), A-1001 and A-1003: paid, waiting for the ERP to apply them
    assert text(browser).count("Pagado, por aplicar: ") == 3

    # Voided, they are payable again.
    browser.get(manual_url)
    press(browser, by_role(browser, "link", "Anular pago manual"))
    _field(browser, "Motivo").send_keys("Error de captura")
    press(browser, by_role(browser, "button", "Confirmar"))
    wait_for_text(browser, "Pago anulado")
    browser.get(portal_link(live))
    wait_for_text(browser, "Estado de cuenta")
    assert text(browser).count("Pagado, por aplicar: ") == 1  # F-1004 only

    # The CSV export is a download of the filtered list (read here with the browser's cookie).
    browser.get(f"{live}/panel/pagos")
    cookie = browser.get_cookie("b2bgateway_panel")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{live}/panel/pagos/exportar.csv?cliente=C-1",
        headers={"Cookie": f"b2bgateway_panel={cookie['value']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        csv_text = response.read().decode("utf-8-sig")
    assert "Ferretería La Esperanza" in csv_text
    assert len(csv_text.strip().splitlines()) == 3  # the header, the card, the manual payment

    # Every page at phone width: nothing wider than the screen.
    browser.set_window_size(*PHONE)
    pages = {
        "inicio": "/panel/",
        "pagos": "/panel/pagos",
        "fallidos": "/panel/pagos-fallidos",
        "detalle": f"/panel/pagos/{paid['id']}",
        "manuales": "/panel/pagos-manuales?cliente=C-1",
        "bitacora": "/panel/bitacora",
        "reembolso": f"/panel/pagos/{paid['id']}/reembolsar",
    }
    for name, path in pages.items():
        browser.get(f"{live}{path}")
        wait_for_text(browser, "Módulo de pagos")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        screenshot(browser, f"panel-telefono-{name}")
        assert overflow <= 0, f"{name} is wider than a phone: {overflow}px"
        browser.set_window_size(*PHONE)


def test_a_user_enrols_a_second_factor_in_the_page(
    browser: WebDriver,  # noqa: F811 (the fixture imported above)
    live: str,  # noqa: F811
    gateway: Gateway,
) -> None:
    """Segundo factor: the QR code (an SVG made on the server) and the key as text, confirmed
    with a code; accessible (axe-core) and no wider than a phone."""
    add_users(gateway.store)
    browser.delete_all_cookies()
    browser.set_window_size(*PHONE)
    _sign_in(browser, live, USERS["cobranza"])
    wait_for_text(browser, "Cobrado hoy")
    press(browser, by_role(browser, "link", "Segundo factor"))
    wait_for_text(browser, "Escanea este código QR")
    qr = browser.find_element(By.CSS_SELECTOR, "img.qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    assert browser.execute_script("return arguments[0].naturalWidth", qr) > 0  # it renders
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the enrolment page is wider than a phone: {overflow}px"
    assert_accessible(browser, "the second factor enrolment")
    screenshot(browser, "panel-segundo-factor")
    secret = browser.find_element(By.CSS_SELECTOR, "code.secret").text.replace(" ", "")
    _field(browser, "Tu contraseña actual").send_keys(PASSWORD)
    _field(browser, "Código de verificación").send_keys("000000")
    press(browser, by_role(browser, "button", "Activar segundo factor"))
    wait_for_text(browser, "El código no es correcto")
    assert_accessible(browser, "the enrolment with a wrong code")
    _field(browser, "Tu contraseña actual").send_keys(PASSWORD)
    _field(browser, "Código de verificación").send_keys(pyotp.TOTP(secret).now())
    press(browser, by_role(browser, "button", "Activar segundo factor"))
    wait_for_text(browser, "tu segundo factor está activo")
    assert secret not in text(browser)
    assert_accessible(browser, "the second factor, on")

    # Signing in again asks for a code (the next one: the one used is refused now).
    press(browser, by_role(browser, "button", "Salir"))
    wait_for_text(browser, "Cerraste tu sesión")
    _sign_in(browser, live, USERS["cobranza"])
    wait_for_text(browser, "Escribe el código de 6 dígitos")
    _field(browser, "Contraseña").send_keys(PASSWORD)
    _field(browser, "Código de verificación").send_keys(
        pyotp.TOTP(secret).at(time.time() + totp.STEP)
    )
    press(browser, by_role(browser, "button", "Entrar"))
    wait_for_text(browser, "Cobrado hoy")
