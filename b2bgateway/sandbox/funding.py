"""Money arriving for a charge that waits for it: SPEI transfers to its CLABE, cash at a store.

This is what the customer's bank or the store does, simulated: a person (the sandbox page's
button, the ``b2bgateway sandbox pay`` command, a test) calls :func:`pay`. Transfers add up; one
that falls short leaves the charge waiting (``charge.partially_funded``), and the one that
reaches the amount, or passes it, completes it (``charge.succeeded``, with ``received`` telling
an over-payment). Cash is all or nothing: a store collects the voucher's exact amount.
"""

from __future__ import annotations

from b2bgateway.money import Money
from b2bgateway.sandbox import instruments, records
from b2bgateway.sandbox.events import record_event
from b2bgateway.sandbox.records import Charge, LedgerRefusal

__all__ = ["DEFAULT_PAYER_BANK", "pay"]

#: The bank a simulated SPEI transfer comes from when none is named.
DEFAULT_PAYER_BANK = "BBVA MEXICO"


def _payable(charge: Charge, amount: Money | None) -> Money:
    """What this payment brings: ``amount``, or what is still owed. Refuses what no bank or
    store would accept.

    :raises LedgerRefusal: ``charge_not_payable`` (a card charge), ``charge_expired``,
      ``charge_not_pending`` (already paid or canceled), ``currency_mismatch``,
      ``invalid_amount`` or ``amount_mismatch`` (cash for other than the voucher's amount).
    """
    if charge.method not in ("bank_transfer", "cash") or charge.received is None:
        raise LedgerRefusal("charge_not_payable", "only transfers and vouchers are paid this way")
    if charge.status == "expired":
        raise LedgerRefusal("charge_expired", f"the charge expired at {charge.expires_at}")
    if charge.status != "requires_action":
        raise LedgerRefusal("charge_not_pending", f"the charge is {charge.status}")
    owed = charge.amount - charge.received
    paid = owed if amount is None else amount
    if paid.currency != owed.currency:
        raise LedgerRefusal("currency_mismatch", f"the charge is in {owed.currency}")
    if not paid.is_positive():
        raise LedgerRefusal("invalid_amount", "the amount must be positive")
    if charge.method == "cash" and paid != charge.amount:
        raise LedgerRefusal("amount_mismatch", f"a voucher is paid in full: {charge.amount}")
    return paid


def pay(
    path: str,
    merchant_id: str,
    reference: str,
    amount: Money | None = None,
    *,
    tracking_key: str | None = None,
    payer_bank: str | None = None,
) -> Charge:
    """Receive ``amount`` (None: what is still owed) for the waiting transfer or voucher
    ``reference`` names (the charge id, or the gateway's payment id), and record its event.

    A transfer gets ``tracking_key`` (``SANDBOX`` + 20 digits when None) and ``payer_bank``
    (:data:`DEFAULT_PAYER_BANK`); the one completing the charge is reported in its method
    details.

    :return: the charge after the payment.
    :raises ProcessorPaymentNotFound: no such charge for this merchant.
    :raises LedgerRefusal: see :func:`_payable`; nothing is recorded then.
    """
    with records.transaction(path) as conn:
        charge = records.lookup_charge(conn, merchant_id, reference)
        paid = _payable(charge, amount)
        transfer = charge.method == "bank_transfer"
        key = (tracking_key or instruments.tracking_key()) if transfer else None
        bank = (payer_bank or DEFAULT_PAYER_BANK) if transfer else payer_bank
        moment = records.now()
        stamp = records.iso(moment)
        records.insert(
            conn,
            "transfers",
            dict(
                id=records.new_id("sbx_tr"),
                merchant_id=merchant_id,
                charge_id=charge.id,
                amount_minor=paid.to_minor_units(),
                currency=paid.currency,
                tracking_key=key,
                payer_bank=bank,
                created_at=stamp,
            ),
        )
        received = paid + (charge.received or Money.zero(paid.currency))
        changes: dict[str, object] = {"received_minor": received.to_minor_units()}
        funded = received >= charge.amount
        if funded:
            changes.update(status="succeeded", tracking_key=key, payer_bank=bank, paid_at=stamp)
        records.update_charge(conn, charge.id, changes, stamp)
        charge = records.get_charge(conn, merchant_id, charge.id)
        record_event(conn, "charge.succeeded" if funded else "charge.partially_funded", charge)
    return charge
