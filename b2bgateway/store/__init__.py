"""Persistence: SQLAlchemy models, repository functions and Alembic migrations."""

from b2bgateway.store import panel_indexes, staff_models  # noqa: F401  (join the one metadata)
from b2bgateway.store.db import Store, upgrade

__all__ = ["Store", "upgrade"]
