"""``b2bgateway users add|list|disable|reset-password``: the payments module's staff users.

Built by :func:`users_commands` with the command line's way to open the gateway, so this module
needs nothing of :mod:`b2bgateway_web.cli`. Every change is in the audit log, by ``cli:<user>``.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from contextlib import AbstractContextManager

import click

from b2bgateway import staff
from b2bgateway import totp as second_factor
from b2bgateway.audit import Actor
from b2bgateway.errors import GatewayError
from b2bgateway.gateway import Gateway

__all__ = ["users_commands"]

_PASSWORD = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help=f"At least {staff.MIN_PASSWORD_LENGTH} characters (asked for when not given).",
)


def _actor(merchant_id: str) -> Actor:
    return Actor(merchant_id, f"cli:{getpass.getuser()}", "local")


def _merchant(gw: Gateway, merchant_id: str) -> str:
    if merchant_id not in gw.merchants:
        raise click.ClickException(f"no merchant {merchant_id!r} in the configuration")
    return merchant_id


def _totp_option(help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option("--totp", is_flag=True, help=help_text)


_TICKET = click.option(
    "--totp-ticket",
    "ticket",
    is_flag=True,
    help="Print a one-time ticket (valid 72 h) to enrol a second factor at sign-in.",
)


def _ticket_line(ticket: str | None) -> None:
    if ticket is not None:
        click.echo(f"second factor enrolment ticket (one use, 72 h): {ticket}")


def _totp_line(secret: str | None, user: staff.StaffUser) -> None:
    """A new secret, shown this once (it is kept encrypted and never shown again)."""
    if secret is not None:
        uri = second_factor.provisioning_uri(secret, user.email)
        click.echo(f"second factor: add this to an authenticator app: {uri}")


def users_commands(open_gateway: Callable[[], AbstractContextManager[Gateway]]) -> click.Group:
    """The ``users`` group, opening the gateway with ``open_gateway`` for each command."""

    @click.group("users")
    def users() -> None:
        """Staff users of the payments module (/panel)."""

    @users.command("list")
    @click.option("--merchant", "merchant_id", default=None)
    def list_(merchant_id: str | None) -> None:
        """Users, one a line: merchant, e-mail, role, state, second factor."""
        with open_gateway() as gw, gw.store.read() as session:
            for user in staff.list_users(session, merchant_id):
                state = "active" if user.active else "disabled"
                factor = "totp" if user.totp_ciphertext else "-"
                click.echo(f"{user.merchant_id}\t{user.email}\t{user.role}\t{state}\t{factor}")

    @users.command("disable")
    @click.option("--merchant", "merchant_id", required=True)
    @click.argument("email")
    def disable(merchant_id: str, email: str) -> None:
        """Disable a user (its sessions end at once)."""
        with open_gateway() as gw, _refusals(), gw.store.write() as session:
            staff.disable_user(session, _actor(merchant_id), merchant_id, email)
        click.echo(f"{email} is disabled")

    _password_commands(users, open_gateway)

    @users.command("rotate-totp-key")
    def rotate() -> None:
        """Encrypt every TOTP secret again with the first key of totp_keys."""
        with open_gateway() as gw, gw.store.write() as session:
            count = second_factor.rotate(session)
        click.echo(f"{count} second factors encrypted with the first key")

    return users


def _password_commands(
    users: click.Group, open_gateway: Callable[[], AbstractContextManager[Gateway]]
) -> None:
    """``users add`` and ``users reset-password`` (each may issue a second factor or a ticket)."""

    @users.command("add")
    @click.option("--merchant", "merchant_id", required=True)
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", type=click.Choice(staff.ROLES), required=True)
    @_totp_option("With a TOTP second factor (prints its URI once).")
    @_TICKET
    @_PASSWORD
    def add(
        merchant_id: str, email: str, name: str, role: str, totp: bool, ticket: bool, password: str
    ) -> None:
        """Create a user."""
        with open_gateway() as gw, _refusals(), gw.store.write() as session:
            merchant = _merchant(gw, merchant_id)
            actor = _actor(merchant)
            user = staff.add_user(session, actor, merchant, email, name, role, password)
            secret = second_factor.issue(session, actor, user) if totp else None
            issued = second_factor.issue_ticket(session, actor, user) if ticket else None
        click.echo(f"{user.email} ({user.role}) can sign in at /panel/")
        _totp_line(secret, user)
        _ticket_line(issued)

    @users.command("reset-password")
    @click.option("--merchant", "merchant_id", required=True)
    @_totp_option("Also give it a new TOTP second factor (prints its URI once).")
    @_TICKET
    @click.argument("email")
    @_PASSWORD
    def reset(merchant_id: str, email: str, totp: bool, ticket: bool, password: str) -> None:
        """Set a new password (unlocks the account, ends its sessions)."""
        with open_gateway() as gw, _refusals(), gw.store.write() as session:
            actor = _actor(merchant_id)
            user = staff.reset_password(session, actor, merchant_id, email, password)
            secret = second_factor.issue(session, actor, user) if totp else None
            issued = second_factor.issue_ticket(session, actor, user) if ticket else None
        click.echo(f"{user.email}: new password set")
        _totp_line(secret, user)
        _ticket_line(issued)


class _refusals(AbstractContextManager[None]):
    """A refusal of the core (a short password, an unknown user) is a clean command error."""

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, GatewayError):
            raise click.ClickException(exc.detail) from None
