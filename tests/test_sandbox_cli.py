"""``b2bgateway sandbox pay | dispute | expire`` (the web hook ``b2bgateway_web_register_commands``),
end to end: a checkout through the HTTP API, the command playing the customer's bank, the store
or the card issuer, the webhook the sandbox sends POSTed to the gateway, and the payment after.

The command and the app read the same configuration file (``B2BGATEWAY_CONFIG``), as
``b2bgateway serve`` and ``b2bgateway sandbox`` do on a machine.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.sandbox import records
from b2bgateway.settings import Settings, load_settings
from b2bgateway_web import hookimpl, web_plugins
from b2bgateway_web.cli import main
from tests.support.seeding import seed_customer
from tests.support.web import SandboxOutbox, deliver_sandbox, get_payment

API_KEY = "sk_demo_test_123"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
PUBLIC_URL = "http://127.0.0.1:8000"
TODAY = date.today()


def _write_config(path: Path, database_url: str, ledger: Path, extra: str = "") -> Path:
    path.write_text(f"""
database_url = "{database_url}"
{extra}

[merchants.demo]
api_keys = ["{API_KEY}"]
processor = "sandbox"
invoice_payments = true
payment_methods = ["card", "bank_transfer", "cash"]
installments = [3, 6, 9, 12]

[merchants.demo.processors.sandbox]
webhook_secret = "whsec_demo_secret"
ledger_path = "{ledger}"
""")
    return path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    """A demo-like merchant in a configuration file the app and the command both read."""
    path = _write_config(tmp_path / "gateway.toml", database_url, tmp_path / "ledger.db")
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(path))
    return load_settings()


@pytest.fixture
def invoices(gateway: Gateway) -> None:
    """C-1 owes F-1 (1,000.00) and F-2 (234.50): 1,234.50 together."""
    seed_customer(gateway.store, "demo", (("F-1", "1000.00"), ("F-2", "234.50")), name="Cliente 1")


@pytest.fixture
def outbox(sandbox_outbox: SandboxOutbox) -> SandboxOutbox:
    return sandbox_outbox


def sandbox(*args: str) -> Any:
    return CliRunner().invoke(main, ["sandbox", *args])


def checkout(client: Any, method: dict[str, Any]) -> dict[str, Any]:
    body = {
        "customer_id": "C-1",
        "purpose": "invoices",
        "invoice_ids": ["F-1", "F-2"],
        "payment_method": method,
        "return_url": "https://portal.example/return",
    }
    headers = {**AUTH, "Idempotency-Key": f"k-{method}"}
    response = client.post("/v1/checkouts", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.json)


def reasons(client: Any) -> list[list[str]]:
    body = {"customer_id": "C-1", "invoice_ids": ["F-1", "F-2"]}
    response = client.post("/v1/payability/invoices", json=body, headers=AUTH)
    assert response.status_code == 200
    return [line["reasons"] for line in response.json["invoices"]]


def payment(client: Any, payment_id: str) -> dict[str, Any]:
    return get_payment(client, payment_id, AUTH)


def deliver(client: Any, outbox: SandboxOutbox) -> list[str]:
    return deliver_sandbox(client, outbox, f"{PUBLIC_URL}/v1/webhooks/demo/sandbox")


# -- end to end ----------------------------------------------------------------------------------


def test_spei_paid_short_then_in_full_from_the_command_line(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    assert body["status"] == "requires_action"
    action = body["next_action"]
    assert action["type"] == "display_bank_transfer_instructions"
    assert re.fullmatch(r"[0-9]{18}", action["clabe"])
    assert reasons(client) == [["payment_pending"], ["payment_pending"]]

    short = sandbox("pay", body["id"], "--amount", "1000.00")
    assert short.exit_code == 0, short.output
    assert short.output.strip() == (
        f"{body['processor_reference']} (payment {body['id']}): received 1000.00 MXN of "
        "1234.50 MXN, 234.50 MXN still owed; requires_action"
    )
    assert deliver(client, outbox) == ["charge.partially_funded"]
    waiting = payment(client, body["id"])
    assert (waiting["status"], waiting["received_amount"]) == ("requires_action", "1000.00")

    rest = sandbox(
        "pay", body["id"], "--tracking-key", "BNET01002612040000001", "--payer-bank", "BANORTE"
    )
    assert rest.exit_code == 0, rest.output
    assert rest.output.strip().endswith("received 1234.50 MXN of 1234.50 MXN; succeeded")
    assert deliver(client, outbox) == ["charge.succeeded"]
    paid = payment(client, body["id"])
    assert paid["status"] == "succeeded" and paid["received_amount"] == "1234.50"
    details = paid["method_details"]
    assert details["forma_pago"] == "03" and details["type"] == "bank_transfer"
    assert (details["tracking_key"], details["payer_bank"]) == ("BNET01002612040000001", "BANORTE")
    assert reasons(client) == [["payment_registered"], ["payment_registered"]]

    again = sandbox("pay", body["id"])  # nothing more is owed
    assert again.exit_code == 1
    assert "refused (charge_not_pending)" in again.output
    assert outbox.sent == []


def test_spei_overpaid_from_the_command_line(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "bank_transfer"})
    result = sandbox("pay", body["processor_reference"], "--amount", "1500")  # by charge id
    assert result.exit_code == 0, result.output
    assert "received 1500.00 MXN of 1234.50 MXN, 265.50 MXN over (overpaid); succeeded" in (
        result.output
    )
    deliver(client, outbox)
    paid = payment(client, body["id"])
    assert paid["status"] == "succeeded" and "overpaid" in paid["flags"]


def test_cash_voucher_paid_at_the_store_from_the_command_line(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "cash"})
    assert body["status"] == "requires_action"
    assert body["next_action"]["type"] == "display_cash_voucher"
    assert re.fullmatch(r"[0-9]{14}", body["next_action"]["reference"])

    wrong = sandbox("pay", body["id"], "--amount", "100.00")  # a store takes the exact amount
    assert wrong.exit_code == 1 and "refused (amount_mismatch)" in wrong.output

    result = sandbox("pay", body["id"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("succeeded")
    assert deliver(client, outbox) == ["charge.succeeded"]
    paid = payment(client, body["id"])
    assert paid["status"] == "succeeded"
    assert paid["method_details"]["forma_pago"] == "01"


def test_msi_card_then_a_dispute_lost_reopens_the_invoices(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "card", "token": "tok_approved", "installments": 3})
    assert body["status"] == "succeeded"
    assert body["payment_method"] == {"type": "card", "installments": 3}
    details = body["method_details"]
    assert details["installments"] == 3 and details["forma_pago"] == "04"
    assert details["funding"] == "credit"

    opened = sandbox("dispute", body["id"], "open", "--reason", "product_not_received")
    assert opened.exit_code == 0, opened.output
    assert re.fullmatch(
        rf"dispute dp_\w+ on {body['processor_reference']}: open, 1234.50 MXN, "
        r"reason product_not_received",
        opened.output.strip(),
    )
    assert deliver(client, outbox) == ["charge.dispute.created"]
    disputed = payment(client, body["id"])
    assert disputed["status"] == "disputed" and disputed["dispute"]["status"] == "open"
    assert reasons(client) == [["payment_registered"], ["payment_registered"]]

    lost = sandbox("dispute", body["id"], "lost")
    assert lost.exit_code == 0, lost.output
    assert ": lost, 1234.50 MXN" in lost.output
    assert deliver(client, outbox) == ["charge.dispute.closed"]
    assert payment(client, body["id"])["dispute"]["status"] == "lost"
    assert reasons(client) == [[], []]  # open again: the customer owes them


def test_a_dispute_won_and_a_partial_amount(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    body = checkout(client, {"type": "card", "token": "tok_approved"})
    opened = sandbox("dispute", body["id"], "open", "--amount", "200")
    assert opened.exit_code == 0, opened.output
    assert ": open, 200.00 MXN, reason fraudulent" in opened.output
    assert sandbox("dispute", body["id"], "won").exit_code == 0
    assert deliver(client, outbox) == ["charge.dispute.created", "charge.dispute.closed"]
    paid = payment(client, body["id"])
    assert (paid["status"], paid["dispute"]["status"]) == ("succeeded", "won")


def test_expire_from_the_command_line(
    client: Any, invoices: None, outbox: SandboxOutbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = checkout(client, {"type": "cash"})
    none = sandbox("expire")
    assert (
        none.exit_code == 0 and none.output.strip() == "0 charge(s) expired: none past their expiry"
    )
    later = records.now() + timedelta(hours=73)
    monkeypatch.setattr(records, "now", lambda: later)

    result = sandbox("expire", "--merchant", "demo")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"1 charge(s) expired: {body['processor_reference']} (payment {body['id']})"
    )
    assert deliver(client, outbox) == ["charge.expired"]
    expired = payment(client, body["id"])
    assert expired["status"] not in ("requires_action", "succeeded")
    assert expired["failure"]["code"] == "expired"
    assert reasons(client) == [[], []]  # released
    paid = sandbox("pay", body["id"])
    assert paid.exit_code == 1 and "refused (charge_expired)" in paid.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pay", "pay_unknown"], "the sandbox has no charge 'pay_unknown' at merchant 'demo'"),
        (["pay", "pay_1", "--merchant", "nobody"], "merchant 'nobody' does not use the sandbox"),
        (["dispute", "pay_unknown", "open"], "the sandbox has no charge 'pay_unknown'"),
        (["dispute", "pay_unknown", "open", "--amount", "1"], "the sandbox has no charge"),
        (["expire", "--merchant", "nobody"], "merchant 'nobody' does not use the sandbox"),
    ],
)
def test_unknown_ids_and_merchants_are_refused(
    settings: Settings, args: list[str], message: str
) -> None:
    result = sandbox(*args)
    assert result.exit_code == 1
    assert f"Error: {message}" in result.output


def test_a_bad_amount_and_a_dispute_on_a_waiting_transfer_are_refused(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    transfer = checkout(client, {"type": "bank_transfer"})
    bad = sandbox("pay", transfer["id"], "--amount", "mil")
    assert bad.exit_code == 1 and "invalid amount" in bad.output
    pending = sandbox("dispute", transfer["id"], "open")
    assert pending.exit_code == 1 and "refused (charge_not_disputable)" in pending.output
    assert outbox.sent == []
    assert payment(client, transfer["id"])["received_amount"] == "0.00"


def test_a_card_is_not_paid_from_the_command_line(
    client: Any, invoices: None, outbox: SandboxOutbox
) -> None:
    card = checkout(client, {"type": "card", "token": "tok_approved"})
    result = sandbox("pay", card["id"])
    assert result.exit_code == 1 and "refused (charge_not_payable)" in result.output
    assert outbox.sent == []


# -- the hook ------------------------------------------------------------------------------------


def test_the_commands_are_listed(settings: Settings) -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert re.search(r"^\s+sandbox\s", result.output, re.M)
    help_text = CliRunner().invoke(main, ["sandbox", "--help"]).output
    for name in ("pay", "dispute", "expire"):
        assert re.search(rf"^\s+{name}\s", help_text, re.M)


def test_a_blocked_sandbox_has_no_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    path = tmp_path / "blocked.toml"
    path.write_text(f"""
database_url = "{database_url}"
disabled_plugins = ["sandbox"]

[merchants.demo]
api_keys = ["{API_KEY}"]
processor = ""
""")
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(path))
    result = sandbox("pay", "pay_1")
    assert result.exit_code == 2
    assert "No such command 'sandbox'" in result.output
    assert not re.search(r"^\s+sandbox\s", CliRunner().invoke(main, ["--help"]).output, re.M)
    plugins = Plugins(get_plugin_manager(load_entrypoints=False, blocked=["sandbox"]))
    pm = web_plugins.get_plugin_manager(plugins, load_entrypoints=False)
    assert web_plugins.plugin_commands(pm) == {}


def test_the_gateways_own_commands_win_a_name_clash(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []

    class Clash:
        @hookimpl
        def b2bgateway_web_register_commands(self, cli: click.Group) -> None:
            @cli.command("plugins")
            def plugins() -> None:
                called.append("plugin's")

            @cli.command("hello")
            def hello() -> None:
                click.echo("hola")

    real = web_plugins.get_plugin_manager

    def with_clash(plugins: Plugins, **kwargs: Any) -> Any:
        pm = real(plugins, **kwargs)
        pm.register(Clash())
        return pm

    monkeypatch.setattr(web_plugins, "get_plugin_manager", with_clash)
    assert CliRunner().invoke(main, ["hello"]).output == "hola\n"
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0 and called == []
    assert "serve" in CliRunner().invoke(main, ["--help"]).output


def test_serve_does_not_load_the_plugins_commands(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("plugin commands loaded")

    monkeypatch.setattr(web_plugins, "plugin_commands", refuse)
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
