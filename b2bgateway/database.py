"""What the web layer and the commands need of the database, without reaching into ``store/``.

``Session`` is re-exported for annotations: views receive one from ``store.read()`` and hand it
to core functions; they never build a query with it.

The web package never imports :mod:`b2bgateway.store` (a test reads its imports): the store's
handle, the "not now" test for database errors and the schema's revision come through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from b2bgateway.store.db import (
    MAYBE_UNAVAILABLE,
    Store,
    current_revision,
    head_revision,
    is_unavailable,
    upgrade,
)

__all__ = [
    "MAYBE_UNAVAILABLE",
    "SchemaState",
    "Session",
    "Store",
    "current_revision",
    "head_revision",
    "is_unavailable",
    "schema_state",
    "upgrade",
]


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The database's schema revision and the one this code expects."""

    revision: str | None
    head: str | None

    @property
    def current(self) -> bool:
        return self.revision == self.head


def schema_state(store: Store) -> SchemaState:
    """Ping the database and read its revision (``/healthz``, ``serve``).

    :raises Exception: whatever the driver raises when the database does not answer.
    """
    store.ping()
    revision = current_revision(store)
    return SchemaState(revision, head_revision())
