"""The account the home page shows: balances with their pay buttons, invoices, other documents,
and the selection's total (view models; the data comes from the core)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from b2bgateway.accounts import Holder, Invoice, holders, invoice_folios, open_other_documents
from b2bgateway.database import Session
from b2bgateway.money import Money
from b2bgateway.payability import StatementLine, check_invoices, statement
from b2bgateway.rules import Reason
from b2bgateway.settings import MerchantConfig
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.i18n import ngettext
from b2bgateway_web.portal.base import MAX_SELECTED, date_text, money_text
from b2bgateway_web.portal.texts import REASONS, UNKNOWN_REASON, document_text, reason_texts
from b2bgateway_web.state import gateway


@dataclass(frozen=True, slots=True)
class Row:
    invoice_id: str
    folio: str
    document: str
    due: str
    balance: Money
    balance_text: str
    overdue: bool
    payable: bool
    reasons: tuple[str, ...]  # in Spanish
    holder: Holder | None = None  # the payment that holds it, if any
    issued: str = ""
    days_overdue: int = 0

    @property
    def minor(self) -> int:
        return self.balance.to_minor_units()

    @property
    def pending(self) -> bool:
        """A payment of it waits (for the customer or the processor)."""
        return self.holder is not None and self.holder.open

    @property
    def paid(self) -> Money | None:
        """Paid through the gateway, waiting for the supplier to apply it: how much."""
        return None if self.holder is None or self.holder.open else self.holder.allocated


@dataclass(frozen=True, slots=True)
class Group:
    """One balance ("Saldo vencido"...) and the payable invoices behind it."""

    key: str
    label: str
    button: str
    amount: Money
    payable: tuple[Row, ...]
    paid: Money | None = None  # "Pagado, por aplicar": paid here, not yet applied by the ERP

    @property
    def payable_amount(self) -> Money:
        total = Money.zero(self.amount.currency)
        for row in self.payable:
            total = total + row.balance
        return total

    @property
    def partial(self) -> bool:
        return bool(self.payable) and self.payable_amount != self.amount

    @property
    def too_many(self) -> bool:
        """More invoices than one payment takes: choose them in the list instead."""
        return len(self.payable) > MAX_SELECTED


@dataclass(frozen=True, slots=True)
class PendingPayment:
    """A payment of the customer that still waits: shown with "Continuar" and "Cancelar"."""

    payment_id: str
    amount: Money
    folios: tuple[str, ...]
    payment_method: str


@dataclass(frozen=True, slots=True)
class Account:
    currency: str
    groups: tuple[Group, ...]
    other_balances: tuple[tuple[str, str, str], ...]  # (currency, total, overdue) texts
    invoices: tuple[Row, ...]
    others: tuple[Row, ...]  # documents that are not facturas: never in the balances
    visible: bool  # customers_see_invoices
    pending: tuple[PendingPayment, ...] = ()

    @property
    def awaiting_erp(self) -> bool:
        """Some invoice has a payment registered: its balance stays until the ERP applies it."""
        registered = _(REASONS[Reason.PAYMENT_REGISTERED])
        return any(row.paid is not None or registered in row.reasons for row in self.invoices)


def other_documents(
    db: Session, merchant: MerchantConfig, customer_id: str, day: date
) -> list[Row]:
    """The customer's open documents that are not facturas (cargos, notas de crédito, ...): shown
    disabled with the reason, as the statement's balances leave them out."""
    found = open_other_documents(db, merchant.id, customer_id)
    if not found:
        return []
    decided = check_invoices(
        gateway().plugins, db, merchant, customer_id, [i.invoice_id for i in found], day
    )
    reasons = {facts.invoice_id: d.reasons for facts, d in decided.invoices}
    return [_other_row(invoice, reasons.get(invoice.invoice_id, ()), day) for invoice in found]


def _other_row(invoice: Invoice, codes: Sequence[str], day: date) -> Row:
    if invoice.document_type == "nota_credito":  # in the customer's favour: no debt, no due date
        return Row(
            invoice_id=invoice.invoice_id,
            folio=invoice.folio,
            document=document_text(invoice.document_type),
            due=_("No aplica"),
            balance=invoice.balance,
            balance_text=_("%(amount)s a tu favor") % {"amount": money_text(invoice.balance)},
            overdue=False,
            payable=False,
            reasons=(_("Saldo a tu favor: tu proveedor lo descuenta de tus facturas"),),
        )
    return Row(
        invoice_id=invoice.invoice_id,
        folio=invoice.folio,
        document=document_text(invoice.document_type),
        due=date_text(invoice.due_on),
        balance=invoice.balance,
        balance_text=money_text(invoice.balance),
        overdue=invoice.due_on < day,
        payable=False,  # the rules never let a non-factura be paid; shown, never selectable
        reasons=tuple(reason_texts(codes, invoice.source) or [_(UNKNOWN_REASON)]),
    )


def _paid(rows: Sequence[Row], currency: str) -> Money | None:
    total = Money.zero(currency)
    for row in rows:
        if row.paid is not None and row.paid.currency == currency:
            total = total + row.paid
    return total if total.is_positive() else None


def _pending(db: Session, merchant_id: str, held: dict[str, Holder]) -> tuple[PendingPayment, ...]:
    """The customer's open payments with the folios they hold, oldest first by id."""
    by_payment: dict[str, list[Holder]] = {}
    for holder in held.values():
        if holder.open:
            by_payment.setdefault(holder.payment_id, []).append(holder)
    folios = invoice_folios(db, merchant_id, [h.invoice_id for h in held.values() if h.open])
    found = []
    for payment_id, parts in sorted(by_payment.items()):
        amount = Money.zero(parts[0].allocated.currency)
        for part in parts:
            amount = amount + part.allocated
        names = tuple(sorted(folios.get(p.invoice_id, p.invoice_id) for p in parts))
        found.append(PendingPayment(payment_id, amount, names, parts[0].payment_method))
    return tuple(found)


def _row(line: StatementLine, holder: Holder | None, day: date) -> Row:
    reasons = tuple(reason_texts(line.decision.reasons, line.invoice.source))
    if holder is not None and holder.open:
        reasons = (_("Pago pendiente"),)
    elif holder is not None:
        reasons = (_("Pagado, por aplicar: %(amount)s") % {"amount": money_text(holder.allocated)},)
    issued = line.invoice.issued_on
    return Row(
        invoice_id=line.invoice.invoice_id,
        folio=line.invoice.folio,
        document=_("Factura"),
        issued="" if issued is None else date_text(issued),
        days_overdue=max((day - line.invoice.due_on).days, 0),
        due=date_text(line.invoice.due_on),
        balance=line.invoice.balance,
        balance_text=money_text(line.invoice.balance),
        overdue=line.overdue,
        payable=line.decision.payable,
        reasons=reasons,
        holder=holder,
    )


def load_account(merchant: MerchantConfig, customer_id: str) -> Account:
    gw = gateway()
    with gw.store.read() as db:
        result = statement(gw.plugins, db, merchant, customer_id)
        held = holders(db, merchant.id, customer_id)
        rows = tuple(
            _row(line, held.get(line.invoice.invoice_id), result.as_of) for line in result.lines
        )
        others = tuple(other_documents(db, merchant, customer_id, result.as_of))
        pending = _pending(db, merchant.id, held)
    own = tuple(row for row in rows if row.payable and row.balance.currency == result.currency)
    mine = tuple(row for row in rows if row.balance.currency == result.currency)
    overdue = tuple(r for r in mine if r.overdue)
    upcoming = tuple(r for r in mine if not r.overdue)
    b = result.balances
    cur = result.currency
    groups = (
        Group("total", _("Saldo total"), _("Pagar total"), b.total, own, _paid(mine, cur)),
        Group(
            "vencido",
            _("Saldo vencido"),
            _("Pagar vencido"),
            b.overdue,
            tuple(r for r in own if r.overdue),
            _paid(overdue, cur),
        ),
        Group(
            "por_vencer",
            _("Saldo por vencer"),
            _("Pagar por vencer"),
            b.upcoming,
            tuple(r for r in own if not r.overdue),
            _paid(upcoming, cur),
        ),
    )
    return Account(
        currency=result.currency,
        groups=groups,
        other_balances=tuple(
            (o.currency, money_text(o.total), money_text(o.overdue))
            for o in result.other_currencies
        ),
        invoices=rows,
        others=others,
        visible=merchant.settings.customers_see_invoices,
        pending=pending,
    )


@dataclass(frozen=True, slots=True)
class Selection:
    ids: tuple[str, ...]
    rows: tuple[Row, ...]
    total: Money | None  # None: nothing selected, or several currencies

    @property
    def text(self) -> str:
        """What the server knows of the selection: a sum only after "Calcular total" (the boxes
        a browser restores on its own are not known here, so no "nothing selected")."""
        if not self.rows:
            return _("Marca las facturas que quieres pagar.")
        if self.total is None:
            return _("Las facturas seleccionadas están en monedas distintas")
        count = len(self.rows)
        text = ngettext(
            "Total seleccionado: %(total)s (%(num)d factura)",
            "Total seleccionado: %(total)s (%(num)d facturas)",
            count,
        )
        return text % {"total": money_text(self.total), "num": count}

    @property
    def button(self) -> str:
        """Without JavaScript the button never shows an amount (it could be stale once the boxes
        change): the next page shows what will be charged, computed when it is sent."""
        return _("Pagar las facturas marcadas")


def make_selection(account: Account, ids: Sequence[str]) -> Selection:
    wanted = set(ids)
    rows = tuple(row for row in account.invoices if row.payable and row.invoice_id in wanted)
    total: Money | None = None
    currencies = {row.balance.currency for row in rows}
    if len(currencies) == 1:
        total = Money.zero(currencies.pop())
        for row in rows:
            total = total + row.balance
    return Selection(tuple(row.invoice_id for row in rows), rows, total)
