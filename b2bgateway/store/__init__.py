"""Persistence: SQLAlchemy models, repository functions and Alembic migrations."""

from b2bgateway.store import (  # noqa: F401  (their tables and indexes join the one metadata)
    email_models,
    history_models,
    outbox_indexes,
    panel_indexes,
    staff_models,
)
from b2bgateway.store.db import Store, upgrade

__all__ = ["Store", "upgrade"]
