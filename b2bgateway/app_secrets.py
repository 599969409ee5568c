"""Random secrets of this gateway, kept in the database (table ``app_secrets``): made by the
first process that needs one, then read by every process and instance, so they all agree and a
restart keeps them. Nothing derives them from another secret (an API key holder cannot forge
them). Deleting a row makes a new secret at the next start (for the session key: everyone is
signed out)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from b2bgateway.store import Store
from b2bgateway.store.models import utcnow
from b2bgateway.store.repository import dialect_insert
from b2bgateway.store.staff_models import AppSecret

__all__ = ["PANEL_SESSION", "secret"]

#: The payments module's session cookie signing key.
PANEL_SESSION = "panel_session"


def secret(store: Store, name: str) -> bytes:
    """The secret ``name`` (32 random bytes), made now if it does not exist yet."""
    with store.write() as session:
        insert = dialect_insert(session.get_bind().dialect.name)
        session.execute(
            insert(AppSecret)
            .values(name=name, value=secrets.token_hex(32), created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = session.scalar(select(AppSecret.value).where(AppSecret.name == name))
    assert value is not None  # inserted above, or already there
    return bytes.fromhex(value)
