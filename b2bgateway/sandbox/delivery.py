"""Sending the sandbox's webhooks: sign, POST, retry, mark.

Every event the ledger records is POSTed as JSON to its charge's ``webhook_url`` with the
:data:`~b2bgateway.sandbox.signing.HEADER` signature, signed afresh on every try so its
timestamp is current. A run claims each owed event (a lease, so two workers do not send it at
the same time), tries it up to :data:`ATTEMPTS` times with a short backoff, and marks it delivered
or failed. Failed events wait for the next run: :func:`deliver_pending` is what a worker or a
command calls to retry them. Events of a charge without a ``webhook_url`` stay recorded, unsent.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from email.message import Message
from typing import IO
from urllib.error import HTTPError
from urllib.parse import urlsplit

from b2bgateway.sandbox.events import Event, claim_event, list_events, mark_delivered, mark_failed
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.sandbox.signing import HEADER, sign

__all__ = ["ATTEMPTS", "Sender", "deliver_in_background", "deliver_pending", "http_post"]

log = logging.getLogger(__name__)

#: ``send(url, body, headers)``: POST and return, or raise when the receiver did not accept.
Sender = Callable[[str, bytes, Mapping[str, str]], None]
TIMEOUT = 5.0  # seconds, per try
ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the second try, doubled before each next one
LEASE_SECONDS = 60.0  # longer than ATTEMPTS tries with their timeouts and backoff
USER_AGENT = "b2bgateway-sandbox/0.1"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A webhook endpoint that redirects has not accepted the event; never re-send it elsewhere.
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_post(url: str, body: bytes, headers: Mapping[str, str]) -> None:
    """The default :data:`Sender`: POST with urllib, :data:`TIMEOUT` seconds, no redirects.

    :raises urllib.error.URLError: no connection, or an answer that is not 2xx.
    :raises ValueError: a URL that is not http(s) (urllib would also open ``file:`` URLs).
    """
    if urlsplit(url).scheme not in {"http", "https"}:
        raise ValueError("webhook URLs must be http or https")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 (scheme checked above)
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            response.read(1024)
    except HTTPError as exc:
        exc.close()
        raise


def _try(
    event: Event, url: str, settings: SandboxSettings, send: Sender, attempts: int, backoff: float
) -> tuple[bool, int, str]:
    error = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            HEADER: sign(settings.webhook_secret, event.body),
        }
        try:
            send(url, event.body, headers)
        except Exception as exc:  # whatever the receiver or the network did, this try failed
            error = f"{type(exc).__name__}: {exc}"
        else:
            return True, attempt + 1, ""
    return False, attempts, error


def deliver_pending(
    settings: SandboxSettings,
    merchant_id: str,
    *,
    charge_id: str | None = None,
    send: Sender | None = None,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF,
) -> int:
    """Send every event still owed to the merchant's gateway (only ``charge_id``'s when given),
    oldest first, signed with ``settings.webhook_secret``.

    :param merchant_id: whose events: they are signed with this merchant's secret, so
      ``settings`` must be this merchant's sandbox settings.
    :param send: the transport, :func:`http_post` by default (tests pass a fake).
    :return: how many events were delivered by this run.
    """
    ledger = open_ledger(settings)
    sender = send or http_post  # looked up now, so the default can be swapped in tests
    delivered = 0
    for owed in list_events(ledger.path, merchant_id, charge_id=charge_id, undelivered=True):
        event = claim_event(ledger.path, owed.id, lease_seconds=LEASE_SECONDS)
        if event is None or event.webhook_url is None:
            continue  # delivered or being delivered by another worker meanwhile
        ok, tries, error = _try(event, event.webhook_url, settings, sender, attempts, backoff)
        if ok:
            mark_delivered(ledger.path, event.id, attempts=tries)
            delivered += 1
        else:
            mark_failed(ledger.path, event.id, attempts=tries, error=error)
            log.warning(
                "sandbox webhook %s not delivered after %d tries: %s", event.id, tries, error
            )
    return delivered


def deliver_in_background(
    settings: SandboxSettings,
    merchant_id: str,
    *,
    charge_id: str | None = None,
    send: Sender | None = None,
) -> threading.Thread:
    """Run :func:`deliver_pending` in a daemon thread, so the request that caused the events
    (an approval, a refund) answers without waiting for the gateway to accept them.

    :return: the started thread (tests join it).
    """

    def run() -> None:
        try:
            deliver_pending(settings, merchant_id, charge_id=charge_id, send=send)
        except Exception:  # a thread's exception would vanish; the events stay owed
            log.exception("sandbox webhook delivery failed")

    thread = threading.Thread(target=run, name="b2bgateway-sandbox-webhooks", daemon=True)
    thread.start()
    return thread
