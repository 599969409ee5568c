"""What the customer's bank, the store and the card issuer do, for a person or a command to play.

The sandbox page's buttons and ``b2bgateway sandbox pay`` call these: each changes the ledger
as :class:`~b2bgateway.sandbox.ledger.Ledger` does, then sends the webhook events it owes in the
background, like the page does after a button. The returned thread is the delivery: a
command-line process joins it before exiting (a daemon thread dies with its process), a web
request does not wait.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Literal

from b2bgateway.errors import ProcessorPaymentNotFound
from b2bgateway.money import Money
from b2bgateway.sandbox import delivery
from b2bgateway.sandbox.disputes import DisputeRecord
from b2bgateway.sandbox.ledger import Charge, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings

__all__ = ["dispute_and_notify", "expire_and_notify", "pay_and_notify"]


def pay_and_notify(
    settings: SandboxSettings,
    merchant_id: str,
    reference: str,
    amount: Money | Decimal | str | None = None,
    *,
    tracking_key: str | None = None,
    payer_bank: str | None = None,
    send: delivery.Sender | None = None,
) -> tuple[Charge, threading.Thread]:
    """Pay the waiting SPEI transfer or cash voucher ``reference`` names (a charge id or the
    gateway's payment id), then deliver its events in the background.

    :param amount: what arrives; a bare number is in the charge's currency; None: what is still
      owed (a transfer may fall short or exceed it; a voucher is paid in full).
    :param send: the webhook transport (tests pass a fake), :func:`delivery.http_post` if None.
    :return: the charge after the payment, and the delivery thread (join it before exiting).
    :raises ProcessorPaymentNotFound: no charge for ``reference`` at this merchant.
    :raises LedgerRefusal: the payment is refused (expired, canceled, already paid, a card
      charge, cash for another amount...); nothing is recorded.
    :raises InvalidAmount: ``amount`` is not a valid amount in the charge's currency.
    """
    ledger = open_ledger(settings)
    money: Money | None = None
    if isinstance(amount, Money):
        money = amount
    elif amount is not None:
        charge = ledger.lookup(merchant_id, reference)
        if charge is None:
            raise ProcessorPaymentNotFound(f"the sandbox has no charge for {reference}")
        money = Money(amount, charge.amount.currency)
    paid = ledger.pay(
        merchant_id, reference, money, tracking_key=tracking_key, payer_bank=payer_bank
    )
    thread = delivery.deliver_in_background(settings, merchant_id, charge_id=paid.id, send=send)
    return paid, thread


def dispute_and_notify(
    settings: SandboxSettings,
    merchant_id: str,
    reference: str,
    status: Literal["open", "won", "lost"],
    *,
    reason: str = "fraudulent",
    amount: Money | None = None,
    send: delivery.Sender | None = None,
) -> tuple[DisputeRecord, threading.Thread]:
    """Open (``open``) or close (``won``/``lost``) a dispute on the succeeded charge
    ``reference`` names, then deliver its events in the background.

    :return: the dispute, and the delivery thread (join it before exiting).
    :raises ProcessorPaymentNotFound: no charge for ``reference`` at this merchant.
    :raises LedgerRefusal: not a succeeded charge, a dispute already open, a bad amount.
    """
    record = open_ledger(settings).dispute(merchant_id, reference, status, reason, amount)
    thread = delivery.deliver_in_background(
        settings, merchant_id, charge_id=record.charge_id, send=send
    )
    return record, thread


def expire_and_notify(
    settings: SandboxSettings, merchant_id: str, *, send: delivery.Sender | None = None
) -> tuple[list[Charge], threading.Thread]:
    """Expire the merchant's waiting charges past their ``expires_at`` (``charge.expired``
    events, as a processor sends when a voucher or page runs out), then deliver the merchant's
    owed events in the background.

    :return: the charges expired now, and the delivery thread (join it before exiting).
    """
    expired = open_ledger(settings).expire_due(merchant_id)
    return expired, delivery.deliver_in_background(settings, merchant_id, send=send)
