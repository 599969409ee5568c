"""The ``b2bgateway`` command: serve, db upgrade, plugins, config check, demo, and the commands
of the loaded web plugins (``b2bgateway_web_register_commands``, e.g. ``b2bgateway sandbox``)."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from b2bgateway import database as db
from b2bgateway.email_settings import email_check
from b2bgateway.errors import ConfigurationError
from b2bgateway.gateway import Gateway
from b2bgateway.keys import weak_key_warnings
from b2bgateway.settings import config_path
from b2bgateway_web.operator_cli import keys_group, mail_commands, outbox_commands
from b2bgateway_web.users_cli import users_commands
from b2bgateway_web.web_plugins import PluginCommands

log = logging.getLogger("b2bgateway")


def _build() -> Gateway:
    try:
        return Gateway.build()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _gateway() -> Iterator[Gateway]:
    """The gateway for one command; its database connections are closed when the command ends."""
    gw = _build()
    try:
        yield gw
    finally:
        gw.store.dispose()


@click.group(cls=PluginCommands, help="b2bgateway: payment gateway for B2B customer portals.")
def main() -> None:
    from b2bgateway_web import logs

    logs.configure()


def _check_ready(gw: Gateway) -> None:
    """Refuse an unmigrated database; warn about the demo merchant."""
    if db.current_revision(gw.store) != db.head_revision():
        raise click.ClickException(
            "the database schema is not current: run `b2bgateway db upgrade`"
        )
    if "demo" in gw.merchants and any(
        k.get_secret_value() == "sk_demo_123" for k in gw.merchants["demo"].settings.api_keys
    ):
        log.warning("running the built-in demo merchant (key sk_demo_123): not for production")
    for line in weak_key_warnings(gw.settings):
        log.warning("%s", line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes (gunicorn workers).",
)
@click.option(
    "--threads",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Threads per worker: requests waiting on a processor each hold one.",
)
@click.option(
    "--timeout",
    default=120,
    show_default=True,
    type=int,
    help="Seconds a request may take before its worker is restarted.",
)
def serve(host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Run the HTTP service under gunicorn with threaded workers (not Flask's dev server)."""
    from b2bgateway_web.server import run

    with _gateway() as gw:  # fail here, in the master, on bad configuration
        _check_ready(gw)
        url = _follow_listening_address(gw, host, port)
    click.echo(f"b2bgateway listening on http://{host}:{port}  (public: {url})")
    run(host, port, workers=workers, threads=threads, timeout=timeout)


def _listening_url(host: str, port: int) -> str:
    """How a browser on this machine reaches a server listening on ``host:port``."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 (a comparison)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _follow_listening_address(gw: Gateway, host: str, port: int) -> str:
    """``public_url``, or, when the configuration does not set it, where this server listens
    (the workers read it from the environment): links, redirects and webhooks then work on any
    port. Behind a proxy or on another host, set ``public_url``."""
    if "public_url" in gw.settings.model_fields_set:
        return str(gw.settings.public_url).rstrip("/")
    url = _listening_url(host, port)
    os.environ["B2BGATEWAY_PUBLIC_URL"] = url
    return url


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (creates the database on first run)."""
    # Each migration run is worth a line; Alembic's chatter is not (logs.quiet_alembic).
    with _gateway() as gw:
        db.upgrade(gw.store)
        click.echo(f"database at revision {db.current_revision(gw.store)}")


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """Installed plugins, their versions and, for processors, their capabilities."""
    from b2bgateway.plugins import load_plugins
    from b2bgateway.settings import load_settings

    try:
        blocked = load_settings().disabled_plugins
    except ConfigurationError:
        blocked = []  # list what is installed even while the configuration is being fixed
    try:
        plugins = load_plugins(blocked=blocked)
    except (
        ConfigurationError
    ) as exc:  # a plugin that fails to import: say which, and how to skip it
        raise click.ClickException(str(exc)) from None
    rows = plugins.plugin_list()
    for row in rows:
        if row["processor"]:
            info = plugins.processor(row["name"]).info
            caps = info.capabilities
            row["display_name"] = info.display_name
            row["capabilities"] = {
                "currencies": sorted(caps.currencies),
                "token_charge": caps.token_charge,
                "hosted_checkout": caps.hosted_checkout,
                "partial_refund": caps.partial_refund,
                "three_d_secure": caps.three_d_secure,
            }
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        kind = "processor" if row["processor"] else "plugin"
        click.echo(f"{row['name']:<16} {row['version'] or '-':<10} {kind}")
        if "capabilities" in row:
            caps = row["capabilities"]
            flags = [
                name
                for name in ("token_charge", "hosted_checkout", "partial_refund", "three_d_secure")
                if caps[name]
            ]
            click.echo(
                f"    {row['display_name']}; currencies {', '.join(caps['currencies'])}; "
                f"{', '.join(flags)}"
            )


@main.group("config")
def config_group() -> None:
    """Configuration."""


@config_group.command("check")
def config_check() -> None:
    """Validate the configuration (file, environment, every merchant's processor settings)."""
    with _gateway() as gw:
        merchants = list(gw.merchants.values())
        dialect = gw.store.dialect
        webhooks = {
            m.id: gw.webhook_url(m.id, m.settings.processor)
            for m in merchants
            if m.settings.processor
        }
        warnings = weak_key_warnings(gw.settings)
    source = config_path() or "built-in demo defaults"
    click.echo(f"configuration OK ({source}); database {dialect}")
    for merchant in merchants:
        processor = merchant.settings.processor or "none"
        click.echo(
            f"  merchant {merchant.id}: processor {processor}, "
            f"{len(merchant.settings.api_keys)} API key(s), currency {merchant.settings.currency}, "
            f"time zone {merchant.settings.timezone}"
        )
        note, warning = email_check(merchant.id, merchant.settings.email)
        click.echo(f"    e-mail: {note}")
        warnings += [warning] if warning else []
        if merchant.id in webhooks:
            click.echo(
                f"    webhooks: {webhooks[merchant.id]}{_webhook_note(webhooks[merchant.id])}"
            )
    for line in warnings:
        click.echo(f"  warning: {line}")


def _webhook_note(url: str) -> str:
    """What ``config check`` says of a webhook URL a processor on the internet cannot reach."""
    if url.startswith("https://"):
        return ""
    return (
        " (not https: a processor on the internet cannot deliver notifications there, and some "
        "refuse a payment that names it; set public_url to the gateway's public https address, "
        "and see the processor plugin's README for its dashboard webhook setting)"
    )


@main.command()
@click.option("--merchant", "merchant_id", default="demo", show_default=True)
@click.option("--host", default=None, help="Where serve will listen (for the printed link).")
@click.option("--port", default=None, type=int, help="Where serve will listen.")
def demo(merchant_id: str, host: str | None, port: int | None) -> None:
    """Load demo customers and invoices for a merchant (safe to run again), and print a link to
    one customer's payment page (valid 30 minutes: run the command again for a new one). Without
    ``public_url`` configured, the link points where ``--host``/``--port`` say serve listens."""
    if host is not None or port is not None:
        with _gateway() as gw:
            _follow_listening_address(gw, host or "127.0.0.1", port or 8000)
    from b2bgateway.demo import DEMO_ORDER, DEMO_PORTAL_CUSTOMER, load_demo
    from b2bgateway.money import Money
    from b2bgateway_web.tokens import PortalOrder, TokenInvalid, create_link

    with _gateway() as gw:
        if merchant_id not in gw.merchants:
            raise click.ClickException(f"no merchant {merchant_id!r} in the configuration")
        merchant = gw.merchants[merchant_id]
        counts = load_demo(gw.store, merchant)
        reference, amount = DEMO_ORDER
        order = PortalOrder(reference, Money(amount, merchant.settings.currency))
        links: tuple[str, str] | None
        try:
            links = (
                create_link(gw, merchant, DEMO_PORTAL_CUSTOMER)[0],
                create_link(gw, merchant, DEMO_PORTAL_CUSTOMER, order=order)[0],
            )
        except TokenInvalid:  # a merchant without API keys cannot sign links
            links = None
    click.echo(
        f"demo data for {merchant_id}: {counts['customers']} customers, "
        f"{counts['invoices']} invoices"
    )
    with _gateway() as gw, gw.store.write() as session:
        from b2bgateway.staff import demo_user

        email, password = demo_user(session, merchant_id)
    base = str(gw.settings.public_url).rstrip("/")
    click.echo(f"Módulo de pagos: {base}/panel/  (correo {email}, contraseña {password})")
    if links is not None:
        click.echo(f"Portal de ejemplo: {links[0]}")
        click.echo(f"Pedido de ejemplo: {links[1]}")


#: Outbound events one worker pass delivers, and payments one reconciliation pass examines.
WORKER_BATCH = 100
RECONCILE_BATCH = 200
MAIL_BATCH = 50  # customers' e-mails per pass (each a connection to an SMTP server)


def _reconcile_once(gw: Gateway, older_than: int, expire_after: int) -> dict[str, int]:
    from dataclasses import asdict
    from datetime import timedelta

    from b2bgateway.reconcile import reconcile

    counts = reconcile(
        gw,
        older_than=timedelta(seconds=older_than),
        expire_after=timedelta(seconds=expire_after),
        limit=RECONCILE_BATCH,
    )
    return asdict(counts)


@main.command("reconcile")
@click.option(
    "--older-than",
    default=300,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seconds a payment must have been unchanged (longer than a request can take).",
)
@click.option(
    "--expire-after",
    default=7200,
    show_default=True,
    type=click.IntRange(min=60),
    help="Seconds after which an unfinished requires_action payment is canceled.",
)
def reconcile_command(older_than: int, expire_after: int) -> None:
    """One reconciliation pass: settle processing / requires_action payments with the processor."""
    with _gateway() as gw:
        counts = _reconcile_once(gw, older_than, expire_after)
    click.echo(json.dumps(counts))


@main.command("worker")
@click.option(
    "--interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between passes.",
)
@click.option("--older-than", default=300, show_default=True, type=click.IntRange(min=0))
@click.option("--expire-after", default=7200, show_default=True, type=click.IntRange(min=60))
@click.option("--once", is_flag=True, help="One pass of everything, then exit.")
def worker(interval: float, older_than: int, expire_after: int, once: bool) -> None:
    """Background work, forever: reconciliation, outbound events, customers' e-mails, key expiry.

    Run as many as you like: they claim work with leases (FOR UPDATE SKIP LOCKED on PostgreSQL).
    """
    import time

    from b2bgateway import idempotency, signin, throttle
    from b2bgateway.notifications import deliver_due
    from b2bgateway_web import metrics
    from b2bgateway_web.portal import emails

    with _gateway() as gw:
        metrics.observe_worker(gw)
        render = emails.renderer(gw)
        last_purge = 0.0
        while True:
            started = time.monotonic()
            try:
                counts = _reconcile_once(gw, older_than, expire_after)
                if counts["examined"]:
                    log.info("reconciled %s", json.dumps(counts))
                sent = deliver_due(gw.store, gw.notification_endpoints(), limit=WORKER_BATCH)
                metrics.record_worker_pass(counts, sent.delivered, sent.retried, sent.dead)
                mailed = emails.send_due(gw, render, MAIL_BATCH)
                # A full batch means more may be waiting: go again at once instead of sleeping
                # (a pass every 10 s of 100 events each would cap delivery at 10 events/s).
                busy = (
                    sent.delivered + sent.retried + sent.dead >= WORKER_BATCH
                    or counts["examined"] >= RECONCILE_BATCH
                    or mailed >= MAIL_BATCH
                )
                if sent.delivered or sent.retried or sent.dead:
                    log.info(
                        "outbound events: %d delivered, %d to retry, %d dead",
                        sent.delivered,
                        sent.retried,
                        sent.dead,
                    )
                if started - last_purge > 3600:
                    throttle.purge(gw.store, gw.settings.failed_auth, longer=signin.PURGE_WINDOWS)
                    purged = idempotency.purge(gw.store)
                    last_purge = started
                    if purged:
                        log.info("purged %d idempotency keys older than 30 days", purged)
            except Exception:  # keep the worker alive; the next pass retries
                log.exception("worker pass failed")
            else:
                if busy and not once:
                    continue
            if once:
                return
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


main.add_command(keys_group)  # b2bgateway keys generate
main.add_command(outbox_commands(_gateway))  # b2bgateway outbox list|replay
main.add_command(mail_commands(_gateway))  # b2bgateway mail list|replay
main.add_command(users_commands(_gateway))  # b2bgateway users add|list|disable|reset-password


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
