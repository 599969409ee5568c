import pytest
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from b2bgateway.errors import ConfigurationError
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import Capabilities, ProcessorInfo
from b2bgateway.settings import Settings, load_settings, resolve_merchants

TOML = """
database_url = "sqlite:///from-file.db"

[merchants.acme]
api_keys = ["sk_acme_12345"]
processor = "sandbox"
timezone = "America/Monterrey"
currency = "MXN"
order_payments = true
invoice_payments = false
customers_see_orders = true
customers_see_invoices = false
notification_url = "https://portal.example/b2bgateway-events"
notification_secret = "nsec_0123456789abcdef"

[merchants.acme.processors.sandbox]
webhook_secret = "whsec_from_file"

[merchants.globex]
api_keys = ["sk_globex_12345"]
processor = ""
"""


def write_config(tmp_path, monkeypatch, text=TOML):
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(path))
    return path


def test_without_file_or_environment_runs_the_demo_merchant():
    settings = load_settings()
    assert settings.database_url == "sqlite:///b2bgateway.db"
    demo = settings.merchants["demo"]
    assert demo.processor == "sandbox"
    assert [k.get_secret_value() for k in demo.api_keys] == ["sk_demo_123"]
    assert demo.timezone == "America/Mexico_City"
    assert demo.processors["sandbox"]["webhook_secret"] == "whsec_demo"
    # Every method the sandbox simulates, and MSI, so `make run` can try them all.
    assert demo.payment_methods == ["card", "bank_transfer", "cash"]
    assert demo.installments == [3, 6, 9, 12]


def test_environment_merges_into_the_demo_merchant(monkeypatch):
    monkeypatch.setenv("B2BGATEWAY_MERCHANTS__DEMO__CURRENCY", "USD")
    settings = load_settings()
    assert settings.merchants["demo"].currency == "USD"
    assert settings.merchants["demo"].processor == "sandbox"  # kept from the defaults


def test_reads_the_toml_file_named_by_the_environment(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch)
    settings = load_settings()
    assert settings.database_url == "sqlite:///from-file.db"
    assert set(settings.merchants) == {"acme", "globex"}
    acme = settings.merchants["acme"]
    assert acme.timezone == "America/Monterrey"
    assert acme.invoice_payments is False
    assert acme.customers_see_invoices is False
    assert str(acme.notification_url) == "https://portal.example/b2bgateway-events"
    assert settings.merchants["globex"].processor == ""


def test_reads_b2bgateway_toml_in_the_working_directory(tmp_path):
    (tmp_path / "b2bgateway.toml").write_text(TOML)
    assert set(load_settings().merchants) == {"acme", "globex"}


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch)
    monkeypatch.setenv("B2BGATEWAY_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("B2BGATEWAY_MERCHANTS__ACME__PROCESSOR", "stripe")
    monkeypatch.setenv("B2BGATEWAY_MERCHANTS__ACME__API_KEYS", '["sk_env_key_1"]')
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    acme = settings.merchants["acme"]
    assert acme.processor == "stripe"
    assert [k.get_secret_value() for k in acme.api_keys] == ["sk_env_key_1"]
    assert acme.timezone == "America/Monterrey"  # the rest of the file stays


def test_merchant_flags_default_to_off_for_payments():
    settings = Settings(merchants={"m": {"api_keys": ["sk_12345678"]}})
    merchant = settings.merchants["m"]
    assert merchant.order_payments is False
    assert merchant.invoice_payments is False
    assert merchant.customers_see_orders is True
    assert merchant.processor == ""


@pytest.mark.parametrize(
    ("merchant", "key"),
    [
        ({"timezone": "Mars/Olympus"}, "merchants.m.timezone"),
        ({"currency": "mxn"}, "merchants.m.currency"),
        ({"order_payments": "perhaps"}, "merchants.m.order_payments"),
        ({"notification_url": "not a url"}, "merchants.m.notification_url"),
        ({"api_keys": ["short"]}, "merchants.m.api_keys"),
        ({"notification_url": "https://portal.example/events"}, "merchants.m"),
        ({"procesor": "sandbox"}, "merchants.m.procesor"),
    ],
)
def test_errors_name_the_key(merchant, key):
    with pytest.raises(ConfigurationError) as info:
        load_settings(merchants={"m": merchant})
    assert key in [k for k, _ in info.value.problems]
    assert key in str(info.value)


def test_errors_never_show_values(tmp_path, monkeypatch):
    write_config(
        tmp_path, monkeypatch, TOML.replace('currency = "MXN"', 'currency = "sk_live_SECRET"')
    )
    monkeypatch.setenv("B2BGATEWAY_MERCHANTS__ACME__TIMEZONE", "whsec_VERY_SECRET")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert "merchants.acme.currency" in message
    assert "merchants.acme.timezone" in message
    assert "SECRET" not in message


def test_unknown_top_level_key_is_named(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, "databse_url = 'sqlite://'\n")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "databse_url" in str(info.value)


def test_missing_or_broken_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings()
    write_config(tmp_path, monkeypatch, "[merchants.x\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings()


def test_processor_settings_are_validated_by_the_plugins_model(plugins):
    settings = Settings(
        merchants={"m": {"processor": "sandbox", "processors": {"sandbox": {"latency_ms": -5}}}}
    )
    with pytest.raises(ConfigurationError) as info:
        resolve_merchants(settings, plugins)
    keys = [k for k, _ in info.value.problems]
    assert "merchants.m.processors.sandbox.webhook_secret" in keys  # required, missing
    assert "merchants.m.processors.sandbox.latency_ms" in keys


def test_a_processor_that_is_not_installed_fails_at_start(plugins):
    settings = Settings(merchants={"m": {"processor": "stirpe"}})
    with pytest.raises(ConfigurationError) as info:
        resolve_merchants(settings, plugins)
    assert info.value.problems[0][0] == "merchants.m.processor"
    assert "stirpe" in info.value.problems[0][1]
    assert "sandbox" in info.value.problems[0][1]


def test_the_validated_processor_settings_are_the_plugins_model(plugins, tmp_path):
    settings = Settings(
        merchants={
            "m": {
                "processor": "sandbox",
                "processors": {
                    "sandbox": {
                        "webhook_secret": "whsec_12345678",
                        "ledger_path": str(tmp_path / "l.db"),
                    }
                },
            }
        }
    )
    merchant = resolve_merchants(settings, plugins)["m"]
    assert merchant.processor is not None and merchant.processor.name == "sandbox"
    assert isinstance(merchant.processor_settings.webhook_secret, SecretStr)
    assert "whsec_12345678" not in repr(merchant.processor_settings)


def test_api_keys_are_secret_and_unique_across_merchants(plugins):
    settings = Settings(
        merchants={"a": {"api_keys": ["sk_shared_key"]}, "b": {"api_keys": ["sk_shared_key"]}}
    )
    assert "sk_shared_key" not in repr(settings)
    with pytest.raises(ConfigurationError) as info:
        resolve_merchants(settings, plugins)
    assert info.value.problems[0][0] == "merchants.b.api_keys"
    assert "sk_shared_key" not in str(info.value)


class StrictSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: SecretStr


class StrictProcessor:
    @hookimpl
    def b2bgateway_processor_info(self):
        return ProcessorInfo("Strict", StrictSettings, Capabilities(frozenset({"MXN"})))


def test_every_installed_processors_settings_are_checked(pm, plugins):
    pm.register(StrictProcessor(), name="strict")
    from b2bgateway.plugins import Plugins

    settings = Settings(
        merchants={"m": {"processor": "", "processors": {"strict": {"api_kee": "x"}}}}
    )
    with pytest.raises(ConfigurationError) as info:
        resolve_merchants(settings, Plugins(pm))
    keys = {k for k, _ in info.value.problems}
    assert keys == {
        "merchants.m.processors.strict.api_key",
        "merchants.m.processors.strict.api_kee",
    }


def test_gateway_finds_the_merchant_by_api_key(gateway):
    assert gateway.merchant_for_api_key("sk_test_merchant_a").id == "acme"
    assert gateway.merchant_for_api_key("sk_test_merchant_b").id == "globex"
    assert gateway.merchant_for_api_key("sk_test_merchant_") is None
    assert gateway.merchant_for_api_key("") is None


def test_settings_are_not_built_at_import(tmp_path):
    import subprocess
    import sys

    env = {"B2BGATEWAY_CONFIG": str(tmp_path / "missing.toml"), "PATH": "/usr/bin:/bin"}
    code = "import b2bgateway, b2bgateway.settings, b2bgateway.gateway, b2bgateway_web"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


class OptionalSecretSettings(BaseModel):
    webhook_secret: SecretStr | None = None


class NeedsSecret:
    @hookimpl
    def b2bgateway_processor_info(self):
        return ProcessorInfo(
            "Needs secret",
            OptionalSecretSettings,
            Capabilities(frozenset({"MXN"}), requires_webhook_secret=True),
        )


def test_a_processor_that_verifies_webhooks_needs_its_secret(pm):
    from b2bgateway.plugins import Plugins

    pm.register(NeedsSecret(), name="needs")
    settings = Settings(merchants={"m": {"processor": "needs"}})
    with pytest.raises(ConfigurationError) as info:
        resolve_merchants(settings, Plugins(pm))
    assert info.value.problems[0][0] == "merchants.m.processors.needs"
    assert "webhook_secret" in info.value.problems[0][1]
    ok = Settings(
        merchants={
            "m": {"processor": "needs", "processors": {"needs": {"webhook_secret": "whsec_123456"}}}
        }
    )
    assert resolve_merchants(ok, Plugins(pm))["m"].processor.name == "needs"


class _CardOnly:
    """A processor that charges cards only, without MSI."""

    @hookimpl
    def b2bgateway_processor_info(self):
        from b2bgateway.interface import Capabilities, ProcessorInfo
        from b2bgateway.sandbox.settings import SandboxSettings

        return ProcessorInfo("Card only", SandboxSettings, Capabilities(frozenset({"MXN"})))


def test_a_payment_method_or_msi_the_processor_cannot_charge_stops_start_up():
    from b2bgateway.plugins import Plugins, get_plugin_manager
    from b2bgateway.settings import resolve_merchants

    with pytest.raises(ValidationError, match="installment counts"):
        Settings(merchants={"m": {"installments": [3, 7]}})
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(_CardOnly(), name="cardonly")
    settings = Settings(
        merchants={
            "m": {
                "processor": "cardonly",
                "payment_methods": ["card", "cash"],
                "installments": [3],
                "processors": {"cardonly": {"webhook_secret": "whsec_0123456789"}},
            }
        },
    )
    with pytest.raises(ConfigurationError) as refused:
        resolve_merchants(settings, Plugins(pm))
    keys = [key for key, _ in refused.value.problems]
    assert keys == ["merchants.m.payment_methods", "merchants.m.installments"]
    assert "cannot charge cash" in str(refused.value.problems)
