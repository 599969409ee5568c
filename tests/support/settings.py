"""The settings several test modules share: acme on the sandbox, with outbound notifications on
(so its events can be counted and verified), and any other merchants a test adds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from b2bgateway.settings import Settings
from tests.conftest import API_KEY, WEBHOOK_SECRET

NOTIFY_URL = "https://erp.example/hook"
NOTIFY_SECRET = "nsec_0123456789abcdef"


def acme_settings(
    database_url: str, tmp_path: Path, *, others: dict[str, Any] | None = None, **extra: Any
) -> Settings:
    """acme (``extra``: more of its settings) and ``others`` (merchant id → settings)."""
    return Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "sandbox",
                "order_payments": True,
                "invoice_payments": True,
                "notification_url": NOTIFY_URL,
                "notification_secret": NOTIFY_SECRET,
                "processors": {
                    "sandbox": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "ledger.db"),
                    }
                },
                **extra,
            },
            **(others or {}),
        },
    )
