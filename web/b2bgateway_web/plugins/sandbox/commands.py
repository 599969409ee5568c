"""``b2bgateway sandbox``: play the customer's bank, the store and the card issuer.

``pay`` sends a SPEI transfer (the exact amount, less or more) or pays a cash voucher; ``dispute``
opens or closes a chargeback; ``expire`` runs out the charges past their expiry. Each changes the
sandbox's books (:mod:`b2bgateway.sandbox.simulate`), then delivers the webhooks that owes to the
gateway (its ``public_url``, so the server must be running to hear them; undelivered events stay
owed and are sent with the next ones) and prints one line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import click

from b2bgateway.errors import ConfigurationError, InvalidAmount, ProcessorPaymentNotFound
from b2bgateway.money import Money
from b2bgateway.sandbox import simulate
from b2bgateway.sandbox.ledger import Charge, LedgerRefusal, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings

__all__ = ["sandbox"]

#: How long a command waits for its webhooks (3 tries with their timeouts fit).
DELIVERY_WAIT = 30.0


def _sandbox_merchants() -> dict[str, SandboxSettings]:
    """Every configured merchant with sandbox settings (its processor now, or before), with them.

    :raises click.ClickException: an invalid configuration.
    """
    from b2bgateway.gateway import Gateway

    try:
        gw = Gateway.build()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    gw.store.dispose()  # the sandbox's books are its own: the gateway's database is not used
    found = {m.id: m.settings_for("sandbox") for m in gw.merchants.values()}
    return {m: s for m, s in found.items() if isinstance(s, SandboxSettings)}


def _settings(merchant_id: str) -> SandboxSettings:
    """The merchant's sandbox settings.

    :raises click.ClickException: no such merchant, or one that does not use the sandbox.
    """
    merchants = _sandbox_merchants()
    if merchant_id not in merchants:
        raise click.ClickException(f"merchant {merchant_id!r} does not use the sandbox")
    return merchants[merchant_id]


@contextmanager
def _refusals(merchant_id: str, reference: str) -> Iterator[None]:
    """The sandbox's refusals as a clear message and exit code 1."""
    try:
        yield
    except ProcessorPaymentNotFound:
        raise click.ClickException(
            f"the sandbox has no charge {reference!r} at merchant {merchant_id!r}"
        ) from None
    except LedgerRefusal as refusal:
        raise click.ClickException(f"refused ({refusal.code}): {refusal.message}") from None
    except InvalidAmount as exc:
        raise click.ClickException(f"invalid amount: {exc}") from None


def _deliver(thread: threading.Thread) -> None:
    """Wait for the webhooks (a daemon thread dies with this process)."""
    thread.join(timeout=DELIVERY_WAIT)


def _names(charge: Charge) -> str:
    return f"{charge.id} (payment {charge.payment_id})"


@click.group("sandbox")
def sandbox() -> None:
    """Simulate the sandbox's customers: transfers, store payments, disputes, expiry."""


@sandbox.command("pay")
@click.argument("reference")
@click.option("--merchant", "merchant_id", default="demo", show_default=True)
@click.option(
    "--amount",
    default=None,
    help="What arrives, e.g. 1000.00 [default: what is still owed]. A transfer may fall short "
    "(the payment keeps waiting) or exceed it (flagged overpaid); a voucher is paid in full.",
)
@click.option("--tracking-key", default=None, help="SPEI clave de rastreo [default: a new one].")
@click.option("--payer-bank", default=None, help="The sending bank [default: BBVA MEXICO].")
def pay(
    reference: str,
    merchant_id: str,
    amount: str | None,
    tracking_key: str | None,
    payer_bank: str | None,
) -> None:
    """Pay the waiting SPEI transfer or cash voucher REFERENCE (a payment id or a charge id)."""
    settings = _settings(merchant_id)
    with _refusals(merchant_id, reference):
        charge, thread = simulate.pay_and_notify(
            settings,
            merchant_id,
            reference,
            amount,
            tracking_key=tracking_key,
            payer_bank=payer_bank,
        )
    _deliver(thread)
    received = charge.received or Money.zero(charge.amount.currency)
    line = f"{_names(charge)}: received {received} of {charge.amount}"
    if received < charge.amount:
        line += f", {charge.amount - received} still owed"
    elif received > charge.amount:
        line += f", {received - charge.amount} over (overpaid)"
    click.echo(f"{line}; {charge.status}")


@sandbox.command("dispute")
@click.argument("reference")
@click.argument("status", type=click.Choice(["open", "won", "lost"]))
@click.option("--merchant", "merchant_id", default="demo", show_default=True)
@click.option("--reason", default="fraudulent", show_default=True)
@click.option("--amount", default=None, help="What is disputed [default: the whole charge].")
def dispute(
    reference: str,
    status: Literal["open", "won", "lost"],
    merchant_id: str,
    reason: str,
    amount: str | None,
) -> None:
    """Open a chargeback on the succeeded payment REFERENCE, or close it won or lost."""
    settings = _settings(merchant_id)
    with _refusals(merchant_id, reference):
        disputed: Money | None = None
        if amount is not None:
            charge = open_ledger(settings).lookup(merchant_id, reference)
            if charge is None:
                raise ProcessorPaymentNotFound(reference)
            disputed = Money(amount, charge.amount.currency)
        record, thread = simulate.dispute_and_notify(
            settings, merchant_id, reference, status, reason=reason, amount=disputed
        )
    _deliver(thread)
    click.echo(
        f"dispute {record.id} on {record.charge_id}: {record.status}, {record.amount}, "
        f"reason {record.reason}"
    )


@sandbox.command("expire")
@click.option(
    "--merchant",
    "merchant_id",
    default=None,
    help="Only this merchant's charges [default: every merchant that uses the sandbox].",
)
def expire(merchant_id: str | None) -> None:
    """Expire the waiting charges past their expiry date (``charge.expired`` webhooks)."""
    merchants = _sandbox_merchants()
    if merchant_id is not None:
        if merchant_id not in merchants:
            raise click.ClickException(f"merchant {merchant_id!r} does not use the sandbox")
        merchants = {merchant_id: merchants[merchant_id]}
    expired: list[Charge] = []
    for merchant, settings in merchants.items():
        charges, thread = simulate.expire_and_notify(settings, merchant)
        _deliver(thread)
        expired += charges
    names = ", ".join(_names(charge) for charge in expired) or "none past their expiry"
    click.echo(f"{len(expired)} charge(s) expired: {names}")
