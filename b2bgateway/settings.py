"""Configuration: a TOML file plus ``B2BGATEWAY_`` environment variables (pydantic-settings).

The file is the one named by ``B2BGATEWAY_CONFIG``, or ``./b2bgateway.toml`` when it exists.
Environment variables override it (``__`` nests: ``B2BGATEWAY_MERCHANTS__DEMO__PROCESSOR=stripe``).
With neither, the gateway runs one demo merchant on SQLite with the sandbox processor.

Settings are built when the app or a command starts (:func:`load_settings`), never at import.
Every error names the offending key and never echoes a value, so secrets stay out of logs.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from b2bgateway.email_settings import EmailSettings
from b2bgateway.errors import ConfigurationError
from b2bgateway.expiry_settings import ExpirySettings
from b2bgateway.interface import INSTALLMENT_COUNTS
from b2bgateway.money import currencies
from b2bgateway.plugins import webhook_secret_fields
from b2bgateway.portal_settings import PortalSettings
from b2bgateway.throttle import FailedAuthSettings

if TYPE_CHECKING:
    from b2bgateway.plugins import Plugins, Processor

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "EmailSettings",
    "ExpirySettings",
    "MerchantConfig",
    "MerchantSettings",
    "Settings",
    "load_settings",
    "resolve_merchants",
    "store_options",
]

CONFIG_ENV = "B2BGATEWAY_CONFIG"
DEFAULT_CONFIG_FILE = "b2bgateway.toml"
DEMO_MERCHANT: dict[str, Any] = {
    "demo": {
        "api_keys": ["sk_demo_123"],
        "processor": "sandbox",
        "order_payments": True,
        "invoice_payments": True,
        # Every method the sandbox simulates, so the API and the portal show them.
        "payment_methods": ["card", "bank_transfer", "cash"],
        "installments": [3, 6, 9, 12],
        "processors": {"sandbox": {"webhook_secret": "whsec_demo"}},
        "portal": {"display_name": "Distribuidora Demo", "rfc": "DDE010203AB1"},
    }
}


PaymentMethodName = Literal["card", "bank_transfer", "cash"]


class MerchantSettings(BaseModel):
    """One merchant: its portal's API keys, its processor and its payment preferences."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_keys: list[SecretStr] = Field(default_factory=list)
    processor: str = ""  # entry-point name of a processor plugin; "" = none configured
    timezone: str = "America/Mexico_City"
    currency: str = "MXN"
    order_payments: bool = False  # "Activar el pago de pedidos": off until the merchant says so
    invoice_payments: bool = False  # "Activar el pago de facturas"
    customers_see_orders: bool = True
    customers_see_invoices: bool = True
    notification_url: AnyHttpUrl | None = None
    notification_secret: SecretStr | None = None  # signs outbound events; required with the URL
    processors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: what the merchant offers its customers; each must be one its processor can charge
    payment_methods: list[PaymentMethodName] = ["card"]  # pydantic copies the default
    installments: list[int] = Field(default_factory=list)  # MSI counts offered on cards
    expiry: ExpirySettings = Field(default_factory=ExpirySettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)  # the customer payment page
    admin_totp_required: bool = False  # payments module: admins sign in with a TOTP code too
    email: EmailSettings | None = None  # SMTP for customers' e-mails; None: no e-mail

    @field_validator("payment_methods")
    @classmethod
    def _some_methods(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("offer at least one payment method (card, bank_transfer, cash)")
        return list(dict.fromkeys(value))

    @field_validator("installments")
    @classmethod
    def _msi_counts(cls, value: list[int]) -> list[int]:
        if not set(value) <= INSTALLMENT_COUNTS:
            raise ValueError(f"installment counts must be among {sorted(INSTALLMENT_COUNTS)}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _signed_notifications(self) -> MerchantSettings:
        secret = self.notification_secret
        if self.notification_url is not None and (
            secret is None or len(secret.get_secret_value()) < 16
        ):
            raise ValueError(
                "notification_secret (at least 16 characters) is required with notification_url"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone (e.g. America/Mexico_City)") from None
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in currencies():
            raise ValueError("not an ISO 4217 currency code (upper case, e.g. MXN)")
        return value

    @field_validator("api_keys")
    @classmethod
    def _usable_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            if len(key.get_secret_value()) < 8:
                raise ValueError("each API key must be at least 8 characters long")
        return value


class _TomlSource(PydanticBaseSettingsSource):
    """The TOML file; without one, the built-in demo merchant (so env vars merge into it)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ is overridden; pydantic-settings requires the method

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {"merchants": DEMO_MERCHANT}
        try:
            with self.path.open("rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigurationError([(CONFIG_ENV, f"file {self.path} does not exist")]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError([(str(self.path), f"not valid TOML: {exc}")]) from None


class Settings(BaseSettings):
    """Deployment settings and the merchants this gateway serves."""

    model_config = SettingsConfigDict(
        env_prefix="B2BGATEWAY_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database_url: str = "sqlite:///b2bgateway.db"
    # PostgreSQL connections per process: pool + overflow. Every serve worker and every worker
    # process holds up to their sum, and all of them share the server's max_connections.
    database_pool_size: int = Field(default=20, ge=1, le=200)
    database_max_overflow: int = Field(default=0, ge=0, le=200)
    public_url: AnyHttpUrl = AnyHttpUrl(
        "http://127.0.0.1:8000"
    )  # how processors and browsers reach us
    disabled_plugins: list[str] = Field(default_factory=list)
    metrics_token: SecretStr | None = Field(default=None, min_length=16)  # /metrics' Bearer
    totp_keys: list[SecretStr] = Field(default_factory=list)  # b2bgateway.totp.use_keys
    failed_auth: FailedAuthSettings = Field(default_factory=FailedAuthSettings)
    merchants: dict[str, MerchantSettings] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if init_settings.init_kwargs:  # type: ignore[attr-defined]
            # Settings(...) in code and tests: exactly what is given, nothing from the machine.
            return (init_settings,)
        return (env_settings, _TomlSource(settings_cls, config_path()))

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "sqlite+pysqlite:", "postgresql")):
            raise ValueError("use sqlite:///path.db or postgresql+psycopg://user@host/db")
        return value


def store_options(settings: Settings) -> dict[str, Any]:
    """The engine options the settings ask for (PostgreSQL's pool; SQLite has one writer)."""
    if settings.database_url.startswith("postgresql"):
        return {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
        }
    return {}


def config_path() -> Path | None:
    """The configuration file: ``$B2BGATEWAY_CONFIG``, else ``./b2bgateway.toml`` if present."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def _problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in error["loc"])
        problems.append((f"{prefix}{key}" if key else prefix.rstrip("."), error["msg"]))
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from file and environment (or from ``overrides`` alone, for tests).

    :raises ConfigurationError: naming each offending key; values are never shown.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_problems(exc)) from None


@dataclass(frozen=True, slots=True)
class MerchantConfig:
    """A merchant ready to serve: its settings, its processor and that processor's settings."""

    id: str
    settings: MerchantSettings
    processor: Processor | None
    processor_settings: BaseModel | None
    #: every installed processor's validated settings for this merchant, so payments made with a
    #: previous processor can still be refunded and reconciled after the merchant switches.
    all_processor_settings: Mapping[str, BaseModel] = field(default_factory=dict)

    def settings_for(self, processor: str) -> BaseModel | None:
        return self.all_processor_settings.get(processor)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)


def _webhook_secret_problems(
    base: str, processor: Processor, settings: BaseModel
) -> list[tuple[str, str]]:
    """A processor whose webhooks are verified with a secret must have one: unverifiable
    notifications would either be refused for ever or, worse, trusted."""
    if not processor.info.capabilities.requires_webhook_secret:
        return []
    fields = webhook_secret_fields(type(settings))  # the contract's rule (b2bgateway.plugins)
    if any(_is_set(getattr(settings, name)) for name in fields):
        return []
    key = f"{base}.processors.{processor.name}"
    return [
        (
            key,
            f"{processor.name} verifies webhooks with a secret: set "
            f"{' / '.join(fields) or 'its webhook secret'}",
        )
    ]


def _method_problems(
    base: str, processor: Processor, merchant: MerchantSettings, settings: BaseModel | None
) -> list[tuple[str, str]]:
    """Every method and MSI count the merchant offers must be one its processor can charge, with
    the processor settings it needs for that method (``Capabilities.method_settings``) set."""
    caps = processor.info.capabilities
    problems = []
    for method in merchant.payment_methods if settings is not None else ():
        needed = sorted(caps.method_settings.get(method, ()))
        if unset := [name for name in needed if not _is_set(getattr(settings, name, None))]:
            key = f"{base}.processors.{processor.name}"
            problems.append((key, f"set {' and '.join(unset)} to offer {method}"))
    missing = [m for m in merchant.payment_methods if m not in caps.payment_methods]
    if missing:
        can = ", ".join(sorted(caps.payment_methods))
        problems.append(
            (
                f"{base}.payment_methods",
                f"{processor.name} cannot charge {', '.join(missing)} (it can: {can})",
            )
        )
    if merchant.installments and "card" not in merchant.payment_methods:
        problems.append((f"{base}.installments", "installments (MSI) need the card method"))
    extra = sorted(set(merchant.installments) - caps.installments)
    if extra:
        can = ", ".join(str(n) for n in sorted(caps.installments)) or "none"
        problems.append(
            (
                f"{base}.installments",
                f"{processor.name} cannot charge {extra} installments (it can: {can})",
            )
        )
    return problems


def _is_set(value: Any) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


def resolve_merchants(settings: Settings, plugins: Plugins) -> Mapping[str, MerchantConfig]:
    """Check every merchant against the installed processors and validate their settings.

    Fails at start-up, not on the first charge: an unknown processor, settings the plugin's model
    rejects (a processor that needs a webhook secret makes it a required field), or an API key
    two merchants share.

    :raises ConfigurationError: listing every problem by key.
    """
    problems: list[tuple[str, str]] = []
    resolved: dict[str, MerchantConfig] = {}
    seen_keys: dict[str, str] = {}
    for merchant_id, merchant in settings.merchants.items():
        base = f"merchants.{merchant_id}"
        for key in merchant.api_keys:
            other = seen_keys.setdefault(key.get_secret_value(), merchant_id)
            if other != merchant_id:
                problems.append((f"{base}.api_keys", f"a key is also used by merchant {other!r}"))
        validated: dict[str, BaseModel] = {}
        for name, raw in merchant.processors.items():
            if name not in plugins.processor_names:
                if name == merchant.processor:
                    continue  # reported below
                continue  # settings kept for a plugin not installed here: harmless
            try:
                validated[name] = plugins.processor(name).validate_settings(raw)
            except ValidationError as exc:
                problems.extend(_problems(exc, f"{base}.processors.{name}."))
        processor = None
        if merchant.processor:
            if merchant.processor not in plugins.processor_names:
                installed = ", ".join(plugins.processor_names) or "none"
                problems.append(
                    (
                        f"{base}.processor",
                        f"no processor plugin {merchant.processor!r} is "
                        f"installed (installed: {installed})",
                    )
                )
            else:
                processor = plugins.processor(merchant.processor)
                if merchant.processor not in merchant.processors:
                    try:
                        validated[merchant.processor] = processor.validate_settings({})
                    except ValidationError as exc:
                        problems.extend(_problems(exc, f"{base}.processors.{merchant.processor}."))
        chosen = validated.get(merchant.processor)
        if processor is not None and chosen is not None:
            problems.extend(_webhook_secret_problems(base, processor, chosen))
        if processor is not None:
            problems.extend(_method_problems(base, processor, merchant, chosen))
        resolved[merchant_id] = MerchantConfig(
            id=merchant_id,
            settings=merchant,
            processor=processor,
            processor_settings=validated.get(merchant.processor),
            all_processor_settings=validated,
        )
    if problems:
        raise ConfigurationError(problems)
    return resolved
