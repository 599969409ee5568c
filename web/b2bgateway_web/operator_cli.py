"""Operators' commands that need little of the rest: ``b2bgateway keys generate``,
``b2bgateway outbox list|replay`` and ``b2bgateway mail list|replay`` (customers' e-mails). The
outbox and mail groups are built with the command line's way to open the gateway, as
:mod:`b2bgateway_web.users_cli` is, so nothing here imports :mod:`b2bgateway_web.cli`."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager

import click

from b2bgateway.gateway import Gateway

__all__ = ["keys_group", "mail_commands", "outbox_commands"]


@click.group("keys")
def keys_group() -> None:
    """Merchants' API keys."""


@keys_group.command("generate")
@click.option(
    "--prefix",
    default="sk_live_",
    show_default=True,
    help="Text before the random part (letters, digits and _, at most 32).",
)
def keys_generate(prefix: str) -> None:
    """Print a new API key: the prefix and 32 random letters and digits (about 190 bits). Add
    it to the merchant's api_keys beside the old one, move the portal to it, then remove the
    old one (docs/operations.md, API keys)."""
    from b2bgateway.keys import generate

    try:
        click.echo(generate(prefix))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--prefix") from None


def outbox_commands(gateway: Callable[[], AbstractContextManager[Gateway]]) -> click.Group:
    """``b2bgateway outbox``: outbound events to merchants' notification_url."""

    @click.group("outbox")
    def outbox_group() -> None:
        """Outbound events to merchants' notification_url."""

    @outbox_group.command("list")
    @click.option(
        "--state",
        type=click.Choice(["pending", "delivered", "dead"]),
        default="dead",
        show_default=True,
    )
    @click.option("--limit", default=50, show_default=True)
    def outbox_list(state: str, limit: int) -> None:
        """Events in a state (dead letters by default), newest first."""
        from b2bgateway.outbox import list_messages

        with gateway() as gw:
            for message in list_messages(gw.store, state, limit):
                click.echo(json.dumps(message))

    @outbox_group.command("replay")
    @click.option("--id", "ids", multiple=True, type=int, help="Outbox row id (repeatable).")
    @click.option("--merchant", "merchant_id", default=None)
    def outbox_replay(ids: tuple[int, ...], merchant_id: str | None) -> None:
        """Send dead letters again (all, one merchant's, or the given ids)."""
        from b2bgateway.notifications import replay

        with gateway() as gw:
            count = replay(gw.store, message_ids=list(ids) or None, merchant_id=merchant_id)
        click.echo(f"{count} dead letter(s) queued again")

    return outbox_group


def mail_commands(gateway: Callable[[], AbstractContextManager[Gateway]]) -> click.Group:
    """``b2bgateway mail``: customers' e-mails (receipts, instructions, payment links)."""

    @click.group("mail")
    def mail_group() -> None:
        """Customers' e-mails: receipts, SPEI and cash instructions, payment links."""

    @mail_group.command("list")
    @click.option(
        "--state",
        type=click.Choice(["pending", "sent", "dead", "skipped"]),
        default="dead",
        show_default=True,
    )
    @click.option("--merchant", "merchant_id", default=None)
    @click.option("--limit", default=50, show_default=True)
    def mail_list(state: str, merchant_id: str | None, limit: int) -> None:
        """E-mails in a state (dead letters by default), newest first."""
        from b2bgateway.mail import list_messages

        with gateway() as gw, gw.store.read() as session:
            for message in list_messages(session, state, limit, merchant_id):
                click.echo(json.dumps(message, ensure_ascii=False))

    @mail_group.command("replay")
    @click.option("--id", "ids", multiple=True, type=int, help="E-mail row id (repeatable).")
    @click.option("--merchant", "merchant_id", default=None)
    def mail_replay(ids: tuple[int, ...], merchant_id: str | None) -> None:
        """Send dead e-mails again (all, one merchant's, or the given ids)."""
        from b2bgateway.mail import replay

        with gateway() as gw, gw.store.write() as session:
            count = replay(session, message_ids=list(ids) or None, merchant_id=merchant_id)
        click.echo(f"{count} dead e-mail(s) queued again")

    return mail_group
