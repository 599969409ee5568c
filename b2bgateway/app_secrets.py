"""Random secrets of this gateway, kept in the database (table ``app_secrets``): made by the
first process that needs one, then read by every process and instance, so they all agree and a
restart keeps them. Nothing derives them from another secret (an API key holder cannot forge
them). Deleting a row makes a new secret at the next start (for the session key: everyone is
signed out)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from b2bgateway.store import Store
from b2bgateway.store.models import utcnow
from b2bgateway.store.repository import dialect_insert
from b2bgateway.store.staff_models import AppSecret

__all__ = ["PANEL_SESSION", "TOTP_KEY", "existing_secret", "secret", "secret_in"]

#: The payments module's session cookie signing key.
PANEL_SESSION = "panel_session"
#: The key staff users' TOTP secrets are encrypted with (:mod:`b2bgateway.totp`).
TOTP_KEY = "totp_key"


def secret(store: Store, name: str) -> bytes:
    """The secret ``name`` (32 random bytes), made now if it does not exist yet."""
    with store.write() as session:
        return secret_in(session, name)


def secret_in(session: Session, name: str) -> bytes:
    """:func:`secret` in the caller's write transaction."""
    insert = dialect_insert(session.get_bind().dialect.name)
    session.execute(
        insert(AppSecret)
        .values(name=name, value=secrets.token_hex(32), created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    found = existing_secret(session, name)
    assert found is not None  # inserted above, or already there
    return found


def existing_secret(session: Session, name: str) -> bytes | None:
    """The secret ``name`` if it was made (a read: any transaction)."""
    value = session.scalar(select(AppSecret.value).where(AppSecret.name == name))
    return None if value is None else bytes.fromhex(value)
