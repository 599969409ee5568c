"""The assembled gateway: settings, plugins, merchants and store, built once at start-up."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from b2bgateway import totp
from b2bgateway.plugins import Plugins, load_plugins
from b2bgateway.settings import (
    MerchantConfig,
    Settings,
    load_settings,
    resolve_merchants,
    store_options,
)
from b2bgateway.store import Store

__all__ = ["Gateway"]

log = logging.getLogger(__name__)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class Gateway:
    """Everything a request or a command needs. Built by :meth:`build`, never at import."""

    settings: Settings
    plugins: Plugins
    merchants: Mapping[str, MerchantConfig]
    store: Store

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        plugins: Plugins | None = None,
        store: Store | None = None,
    ) -> Gateway:
        """Load settings (file + environment) unless given, load plugins, and validate every
        merchant against them.

        :raises ConfigurationError: naming each offending key.
        """
        settings = settings if settings is not None else load_settings()
        plugins = (
            plugins if plugins is not None else load_plugins(blocked=settings.disabled_plugins)
        )
        merchants = resolve_merchants(settings, plugins)
        totp.use_keys(settings.totp_keys)
        plugins.merchants_with_notification_url = frozenset(
            m.id for m in merchants.values() if m.settings.notification_url is not None
        )
        plugins.merchants_with_email = frozenset(
            m.id for m in merchants.values() if m.settings.email is not None
        )
        return cls(
            settings=settings,
            plugins=plugins,
            merchants=merchants,
            store=store
            if store is not None
            else Store(settings.database_url, **store_options(settings)),
        )

    def merchant_for_api_key(self, presented: str) -> MerchantConfig | None:
        """The merchant whose API key this is, comparing digests in constant time, all of them."""
        found = self.api_key(presented)
        return None if found is None else found[0]

    def api_key(self, presented: str) -> tuple[MerchantConfig, int] | None:
        """The merchant whose API key this is and the key's number in its ``api_keys`` (1, 2, …:
        how the history names the key without showing it)."""
        wanted = _digest(presented)
        found: tuple[MerchantConfig, int] | None = None
        for merchant in self.merchants.values():
            for number, key in enumerate(merchant.settings.api_keys, start=1):
                if hmac.compare_digest(wanted, _digest(key.get_secret_value())):
                    found = (merchant, number)
        return found

    def notification_endpoints(self) -> dict[str, tuple[str, SecretStr]]:
        """merchant id -> (notification_url, notification_secret), for outbound delivery."""
        return {
            m.id: (str(m.settings.notification_url), m.settings.notification_secret)
            for m in self.merchants.values()
            if m.settings.notification_url is not None and m.settings.notification_secret
        }

    def webhook_url(self, merchant_id: str, processor: str) -> str:
        base = str(self.settings.public_url).rstrip("/")
        return f"{base}/v1/webhooks/{merchant_id}/{processor}"
