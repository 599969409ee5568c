"""Persistence: SQLAlchemy models, repository functions and Alembic migrations."""

from b2bgateway.store import (
    history_models,  # noqa: F401  (its table joins the one metadata)
    staff_models,  # noqa: F401  (its tables join the one metadata)
)
from b2bgateway.store.db import Store, upgrade

__all__ = ["Store", "upgrade"]
