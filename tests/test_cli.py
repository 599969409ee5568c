import json

import pytest
from click.testing import CliRunner

from b2bgateway_web.cli import main


@pytest.fixture
def config(tmp_path, monkeypatch, database_url, store):
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
database_url = "{database_url}"

[merchants.demo]
api_keys = ["sk_demo_123"]
processor = "sandbox"
order_payments = true
invoice_payments = true

[merchants.demo.processors.sandbox]
webhook_secret = "whsec_demo_secret"
ledger_path = "{tmp_path / "ledger.db"}"
""")
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(path))
    return path


@pytest.fixture
def runner():
    return CliRunner()


def test_plugins_lists_the_sandbox_found_through_its_entry_point(runner):
    result = runner.invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    sandbox = rows["sandbox"]
    assert sandbox["processor"] is True
    assert sandbox["version"] == "0.1.0"
    assert "MXN" in sandbox["capabilities"]["currencies"]
    text = runner.invoke(main, ["plugins"]).output
    assert "sandbox" in text and "processor" in text


def test_config_check_accepts_a_good_configuration(runner, config):
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output
    assert "merchant demo: processor sandbox" in result.output
    # The default public_url is local: processors on the internet cannot deliver there.
    assert "webhooks: http://127.0.0.1:8000/v1/webhooks/demo/sandbox (not https" in result.output


def test_config_check_shows_a_public_https_webhook_url_plainly(runner, config, monkeypatch):
    monkeypatch.setenv("B2BGATEWAY_PUBLIC_URL", "https://pagos.example.com")
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    line = "    webhooks: https://pagos.example.com/v1/webhooks/demo/sandbox\n"
    assert line in result.output


def test_config_check_names_the_bad_key_and_hides_secrets(runner, config, monkeypatch):
    monkeypatch.setenv("B2BGATEWAY_MERCHANTS__DEMO__PROCESSORS__SANDBOX__WEBHOOK_SECRET", "short")
    monkeypatch.setenv("B2BGATEWAY_MERCHANTS__DEMO__TIMEZONE", "sk_live_hidden")
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 1
    assert "merchants.demo.timezone" in result.output
    assert "sk_live_hidden" not in result.output
    # Once the gateway's own settings are valid, the plugin's model checks its table.
    monkeypatch.delenv("B2BGATEWAY_MERCHANTS__DEMO__TIMEZONE")
    result = runner.invoke(main, ["config", "check"])
    assert result.exit_code == 1
    assert "merchants.demo.processors.sandbox.webhook_secret" in result.output


def test_db_upgrade_and_demo(runner, config):
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "customers" in result.output
    again = runner.invoke(main, ["demo"])  # idempotent
    assert again.exit_code == 0, again.output
    # a demo admin of the payments module, with a new password each time, printed
    import re

    found = re.search(r"/panel/  \(correo (\S+), contraseña (\S+)\)", again.output)
    assert found is not None, again.output
    assert found.group(1) == "admin@demo.demo"
    assert found.group(2) not in result.output


def test_demo_refuses_an_unknown_merchant(runner, config):
    result = runner.invoke(main, ["demo", "--merchant", "nobody"])
    assert result.exit_code == 1
    assert "nobody" in result.output


def test_serve_refuses_an_unmigrated_database(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("B2BGATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv(
        "B2BGATEWAY_MERCHANTS__DEMO__PROCESSORS__SANDBOX__LEDGER_PATH", str(tmp_path / "l.db")
    )
    result = runner.invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "db upgrade" in result.output


def test_the_worker_goes_again_at_once_while_batches_come_back_full(runner, config, monkeypatch):
    """A full batch of outbound events means more are waiting: no sleep until one is not full."""
    import time

    from b2bgateway import notifications
    from b2bgateway_web import cli

    batches = [cli.WORKER_BATCH, cli.WORKER_BATCH, 3]
    passes: list[int] = []

    def deliver(store, endpoints, *, limit):
        assert limit == cli.WORKER_BATCH
        passes.append(batches[len(passes)])
        return notifications.Delivered(delivered=passes[-1])

    class Slept(Exception):
        pass

    def sleep(seconds):
        raise Slept  # the first sleep ends the test

    monkeypatch.setattr(notifications, "deliver_due", deliver)
    monkeypatch.setattr(time, "sleep", sleep)
    result = runner.invoke(main, ["worker", "--interval", "5"])
    assert isinstance(result.exception, Slept), result.output
    assert passes == batches  # two full passes back to back, then the sleep


WILDCARD = "0.0.0.0"  # noqa: S104 (where a server would listen; nothing binds here)


def test_links_follow_the_port_serve_listens_on_unless_public_url_is_set(
    runner, config, monkeypatch
):
    """`make run PORT=18630`: the printed link, the hosted page and webhooks point there."""
    monkeypatch.delenv("B2BGATEWAY_PUBLIC_URL", raising=False)  # restored after the test
    result = runner.invoke(main, ["demo", "--host", WILDCARD, "--port", "18630"])
    assert result.exit_code == 0, result.output
    assert "Portal de ejemplo: http://127.0.0.1:18630/portal/" in result.output

    monkeypatch.delenv("B2BGATEWAY_PUBLIC_URL")
    config.write_text('public_url = "https://pagos.example.mx"\n' + config.read_text())
    result = runner.invoke(main, ["demo", "--host", WILDCARD, "--port", "18630"])
    assert result.exit_code == 0, result.output
    assert "Portal de ejemplo: https://pagos.example.mx/portal/" in result.output


def test_the_listening_url_of_an_ipv6_or_wildcard_address():
    from b2bgateway_web.cli import _listening_url

    assert _listening_url(WILDCARD, 8000) == "http://127.0.0.1:8000"
    assert _listening_url("::1", 9000) == "http://[::1]:9000"
    assert _listening_url("gw.local", 80) == "http://gw.local:80"


def test_db_upgrade_says_what_it_ran_and_nothing_else(runner, tmp_path, monkeypatch):
    import logging

    class Seen(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    seen = Seen()
    monkeypatch.setenv("B2BGATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    loggers = [
        logging.getLogger(n) for n in ("alembic.runtime.migration", "alembic.runtime.plugins")
    ]
    for logger in loggers:
        monkeypatch.setattr(logger, "level", logging.NOTSET)
        logger.addHandler(seen)
    try:
        result = runner.invoke(main, ["db", "upgrade"])
    finally:
        for logger in loggers:
            logger.removeHandler(seen)
    assert result.exit_code == 0, result.output
    assert seen.messages, "no migration was logged"
    assert all(m.startswith("Running upgrade") for m in seen.messages), seen.messages
