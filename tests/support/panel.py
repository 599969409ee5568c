"""What the payments module's tests share: staff users, signing in through the page (with its
CSRF token), and reading a form's token."""

from __future__ import annotations

import re
from typing import Any

from b2bgateway import service, staff
from b2bgateway.audit import Actor
from b2bgateway.store import Store

PASSWORD = "contraseña-de-prueba-1"
USERS = {"admin": "ana@acme.mx", "cobranza": "caja@acme.mx", "consulta": "ver@acme.mx"}


def add_users(store: Store, merchant_id: str = "acme", **emails: str) -> None:
    """One user per role (``USERS``, or the e-mails given by role), password ``PASSWORD``."""
    actor = Actor(merchant_id, "cli:test", "local")
    with store.write() as session:
        for role, email in {**USERS, **emails}.items():
            staff.add_user(session, actor, merchant_id, email, role.title(), role, PASSWORD)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert found is not None, html[:500]
    return found.group(1)


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) or re.search(
        rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', html
    )
    assert found is not None, name
    return found.group(1)


def sign_in(
    client: Any, email: str = USERS["admin"], password: str = PASSWORD, **extra: str
) -> Any:
    page = client.get("/panel/entrar")
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "email": email,
        "password": password,
        **extra,
    }
    return client.post("/panel/entrar", data=data)


def fast_hashing(monkeypatch: Any) -> None:
    """Argon2 with the smallest cost the library accepts: tests hash dozens of passwords (the
    real parameters are the library's, checked in test_staff)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def card_payment(
    gateway: Any, merchant: Any, key: str, invoices: Any = ("F-2",), token: str = "tok_approved"
) -> Any:
    """C-1 pays ``invoices`` by card (the sandbox's ``token`` decides the outcome)."""
    return service.checkout(
        gateway,
        merchant,
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key=key,
            invoice_ids=list(invoices),
            token=token,
        ),
    )
