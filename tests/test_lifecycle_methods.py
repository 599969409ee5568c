"""The payment lifecycle of real processors (v1.1), end to end through the core, against a
scripted processor: attempts on a hosted page, SPEI and OXXO payments that wait days, expiry per
payment, a processor that cannot cancel, funding that does not match, disputes, and the method
details the ERP needs for the CFDI payment receipt.

The scripted processor answers what each test tells it to, exactly as a plugin maps a real
processor's answers; the sandbox's own simulation of the same flows is tested in
``test_sandbox_methods.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from b2bgateway import reconcile, service, webhooks
from b2bgateway.errors import (
    InstallmentsNotAvailable,
    PaymentMethodNotAvailable,
    RequiredByProcessor,
)
from b2bgateway.gateway import Gateway
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    BankTransferInstructions,
    Capabilities,
    CashVoucher,
    ChargeRequest,
    ChargeResult,
    Dispute,
    DisputeStatus,
    EventKind,
    Failure,
    MethodDetails,
    NextAction,
    Outcome,
    ProcessorInfo,
    WebhookEvent,
)
from b2bgateway.money import Money
from b2bgateway.payability import check_invoices, statement
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.representation import payment_json, statement_json
from b2bgateway.settings import Settings
from b2bgateway.store.models import OutboxMessage, Payment, PaymentAttempt
from tests.conftest import API_KEY
from tests.support.seeding import seed_customer

CLABE = "646180157000000004"
MXN = "MXN"


class ScriptedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scripted:
    """A processor plugin whose answers the test scripts."""

    def __init__(self, required: dict[str, frozenset[str]] | None = None) -> None:
        self.required = required or {}
        self.requests: list[ChargeRequest] = []
        self.answer: Any = None  # ChargeResult, or a callable(request) -> ChargeResult
        self.current: dict[str, ChargeResult] = {}  # payment id -> what retrieve says
        self.can_cancel = True
        self.canceled: list[str] = []
        self.events: dict[str, WebhookEvent] = {}

    @hookimpl
    def b2bgateway_processor_info(self) -> ProcessorInfo:
        return ProcessorInfo(
            "Scripted",
            ScriptedSettings,
            Capabilities(
                currencies=frozenset({MXN}),
                hosted_checkout=True,
                requires_webhook_secret=False,
                payment_methods=frozenset({"card", "bank_transfer", "cash"}),
                installments=frozenset({3, 6, 12}),
                required=self.required,
            ),
        )

    @hookimpl
    def b2bgateway_create_charge(self, request: ChargeRequest, settings: Any) -> ChargeResult:
        self.requests.append(request)
        answer = self.answer(request) if callable(self.answer) else self.answer
        self.current[request.payment_id] = answer
        return answer

    @hookimpl
    def b2bgateway_retrieve_payment(self, request: Any, settings: Any) -> ChargeResult:
        return self.current[request.payment_id]

    @hookimpl
    def b2bgateway_cancel_payment(self, request: Any, settings: Any) -> ChargeResult | None:
        if not self.can_cancel:
            return None
        self.canceled.append(request.payment_id)
        return ChargeResult(Outcome.FAILED, failure=Failure("canceled", "canceled"))

    @hookimpl
    def b2bgateway_parse_webhook(self, request: Any, settings: Any) -> WebhookEvent:
        return self.events[request.body.decode()]


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "scripted",
                "order_payments": True,
                "invoice_payments": True,
                "payment_methods": ["card", "bank_transfer", "cash"],
                "installments": [3, 6],
                "notification_url": "https://erp.example/b2bgateway",
                "notification_secret": "nsec_0123456789abcdef",
                "expiry": {"card": 3600, "bank_transfer": "P3D", "cash": "P3D", "grace": "P1D"},
            }
        },
    )


@pytest.fixture
def gateway(settings: Settings, scripted: Scripted, store: Any) -> Gateway:
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(scripted, name="scripted")
    return Gateway.build(settings, Plugins(pm), store)


@pytest.fixture
def acme(gateway: Gateway) -> Any:
    return gateway.merchants["acme"]


@pytest.fixture(autouse=True)
def seeded(store: Any) -> None:
    seed_customer(store, "acme", (("F-1", "1000.00"), ("F-2", "1000.00")), credit_limit="0.00")


def pay_invoices(gw: Gateway, acme: Any, key: str, **kwargs: Any) -> Payment:
    return service.checkout(
        gw,
        acme,
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key=key,
            **{"invoice_ids": ("F-1",), **kwargs},
        ),
    )


def deliver(gw: Gateway, scripted: Scripted, event: WebhookEvent) -> str:
    scripted.events[event.event_id] = event
    return webhooks.receive(gw, "acme", "scripted", event.event_id.encode(), {}, {}).outcome


def reasons_of(gw: Gateway, acme: Any, invoice_id: str = "F-1") -> tuple[str, ...]:
    with gw.store.read() as session:
        decision = check_invoices(gw.plugins, session, acme, "C-1", [invoice_id])
        return decision.invoices[0][1].reasons


def payment_of(gw: Gateway, payment_id: str) -> dict[str, Any]:
    with gw.store.read() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment_json(payment)


def outbound(gw: Gateway) -> list[str]:
    with gw.store.read() as session:
        return list(session.scalars(select(OutboxMessage.event_type).order_by(OutboxMessage.id)))


def hosted(request: ChargeRequest) -> ChargeResult:
    return ChargeResult(
        Outcome.PENDING,
        processor_reference=f"cs_{request.payment_id}",
        next_action=NextAction(type="redirect", url="https://pay.example/cs"),
    )


def spei(request: ChargeRequest) -> ChargeResult:
    return ChargeResult(
        Outcome.PENDING,
        processor_reference=f"ch_{request.payment_id}",
        next_action=NextAction(
            type="display_bank_transfer_instructions",
            bank_transfer=BankTransferInstructions(
                clabe=CLABE,
                bank="STP",
                beneficiary="Distribuidora SA de CV",
                amount=request.amount,
                reference="1234567",
                expires_at=request.expires_at,
            ),
        ),
    )


def voucher(request: ChargeRequest) -> ChargeResult:
    return ChargeResult(
        Outcome.PENDING,
        processor_reference=f"ch_{request.payment_id}",
        next_action=NextAction(
            type="display_cash_voucher",
            cash_voucher=CashVoucher(
                reference="98000012345678",
                amount=request.amount,
                voucher_url="https://pay.example/v/1",
                expires_at=request.expires_at,
            ),
        ),
    )


def event(
    event_id: str, payment: Payment, outcome: Outcome | None = None, **kwargs: Any
) -> WebhookEvent:
    kind = kwargs.pop("kind", EventKind.PAYMENT)
    return WebhookEvent(
        event_id, kind, payment_id=payment.id, outcome=outcome, amount=payment.amount, **kwargs
    )


# -- attempts --------------------------------------------------------------------------------


def test_a_declined_card_on_a_hosted_page_is_an_attempt_and_the_retry_pays_the_same_payment(
    gateway, acme, scripted
):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1")
    assert payment.status == "requires_action"
    declined = event(
        "ev1",
        payment,
        Outcome.FAILED,
        failure=Failure("card_declined", "La tarjeta fue rechazada."),
        final=False,
        attempt_reference="pi_1",
    )
    assert deliver(gateway, scripted, declined) == "attempt_failed"
    body = payment_of(gateway, payment.id)
    assert body["status"] == "requires_action"
    assert body["failure"] is None
    assert reasons_of(gateway, acme) == ("payment_registered",)  # still held: no double payment
    card = MethodDetails("card", "visa", "4242", "credit", "123456", paid_at=None)
    paid = event("ev2", payment, Outcome.SUCCEEDED, attempt_reference="pi_2", method_details=card)
    assert deliver(gateway, scripted, paid) == "applied"
    body = payment_of(gateway, payment.id)
    assert body["status"] == "succeeded"
    assert body["flags"] == []
    assert body["method_details"]["forma_pago"] == "04"
    with gateway.store.read() as session:
        attempts = session.scalars(
            select(PaymentAttempt).where(PaymentAttempt.payment_id == payment.id)
        ).all()
        assert {(a.reference, a.outcome, a.final) for a in attempts} == {
            ("cs_" + payment.id, "pending", False),
            ("pi_1", "failed", False),
            ("pi_2", "succeeded", True),
        }
    # A later notification that names only an attempt's reference finds the payment (alias).
    dispute = WebhookEvent(
        "ev3",
        EventKind.DISPUTE,
        processor_reference="pi_2",
        dispute=Dispute(DisputeStatus.OPEN, reason="fraudulent", reference="dp_1"),
    )
    assert deliver(gateway, scripted, dispute) == "applied"
    assert payment_of(gateway, payment.id)["status"] == "disputed"


def test_a_final_failure_ends_the_payment_and_frees_the_invoices(gateway, acme, scripted):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1")
    failed = event("ev1", payment, Outcome.FAILED, failure=Failure("card_declined", "no"))
    assert deliver(gateway, scripted, failed) == "applied"
    assert payment_of(gateway, payment.id)["status"] == "failed"
    assert reasons_of(gateway, acme) == ()


# -- payment methods -------------------------------------------------------------------------


def test_what_the_processor_requires_is_checked_before_any_payment(settings, store):
    scripted = Scripted(
        {
            "card_token": frozenset({"customer.email", "device_session_id"}),
            "card_hosted": frozenset({"customer.email", "return_url"}),
        }
    )
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(scripted, name="scripted")
    gw = Gateway.build(settings, Plugins(pm), store)
    acme = gw.merchants["acme"]  # C-1 has no email in the ERP's record
    with pytest.raises(RequiredByProcessor) as refused:
        pay_invoices(gw, acme, "k1", token="tok")
    assert refused.value.code == "required_by_processor" and refused.value.status == 422
    assert refused.value.extra == {"missing": ["customer.email", "device_session_id"]}
    seed_customer(store, "acme", (), email="cxp@ferreteria.example")
    with pytest.raises(RequiredByProcessor) as refused:
        pay_invoices(gw, acme, "k2")  # the hosted page: no return_url
    assert refused.value.extra == {"missing": ["return_url"]}
    assert scripted.requests == []
    with gw.store.read() as session:
        assert session.scalars(select(Payment)).all() == []
    scripted.answer = spei  # SPEI: nothing required
    assert pay_invoices(gw, acme, "k3", payment_method="bank_transfer").status == "requires_action"
    scripted.answer = ChargeResult(Outcome.SUCCEEDED, processor_reference="ch_1")
    paid = pay_invoices(gw, acme, "k4", token="tok", device_session_id="dev1", invoice_ids=["F-2"])
    assert paid.status == "succeeded"


def test_a_method_or_msi_count_not_offered_is_refused_before_any_payment(gateway, acme, scripted):
    scripted.answer = spei
    with pytest.raises(PaymentMethodNotAvailable) as refused:
        pay_invoices(gateway, acme, "k1", payment_method="paypal")
    assert refused.value.code == "payment_method_not_available"
    with pytest.raises(InstallmentsNotAvailable):
        pay_invoices(gateway, acme, "k2", token="tok", installments=12)  # merchant: 3 and 6
    with pytest.raises(InstallmentsNotAvailable):
        pay_invoices(gateway, acme, "k3", payment_method="cash", installments=3)
    assert scripted.requests == []
    with gateway.store.read() as session:
        assert session.scalars(select(Payment)).all() == []


def test_msi_reaches_the_processor_and_the_receipt(gateway, acme, scripted):
    scripted.answer = lambda request: ChargeResult(
        Outcome.SUCCEEDED,
        processor_reference="ch_1",
        method_details=MethodDetails(
            "card", "mastercard", "5556", "debit", "654321", installments=request.installments
        ),
    )
    payment = pay_invoices(gateway, acme, "k1", token="tok", installments=6)
    assert scripted.requests[0].installments == 6
    assert scripted.requests[0].payment_method == "card"
    body = payment_of(gateway, payment.id)
    assert body["payment_method"] == {"type": "card", "installments": 6}
    details = body["method_details"]
    assert details["installments"] == 6
    assert details["funding"] == "debit"
    assert details["forma_pago"] == "28"
    assert details["authorization_code"] == "654321"
    assert details["paid_at"].endswith("Z")


def test_an_oxxo_voucher_pending_three_days_then_paid_is_applied(gateway, acme, scripted):
    scripted.answer = voucher
    payment = pay_invoices(gateway, acme, "k1", payment_method="cash")
    body = payment_of(gateway, payment.id)
    assert body["status"] == "requires_action"
    assert body["next_action"]["type"] == "display_cash_voucher"
    assert body["next_action"]["reference"] == "98000012345678"
    assert body["next_action"]["amount"] == "1000.00"
    expires = datetime.fromisoformat(body["expires_at"])
    created = datetime.fromisoformat(body["created_at"])
    assert timedelta(days=3) - timedelta(seconds=5) < expires - created <= timedelta(days=3)
    assert scripted.requests[0].expires_at is not None
    assert reasons_of(gateway, acme) == ("payment_pending",)
    with gateway.store.read() as session:
        shown = statement_json(statement(gateway.plugins, session, acme, "C-1"))
    assert shown["pending_balance"] == "1000.00"
    assert shown["total_balance"] == "2000.00"  # the ERP's balances until the money arrives
    # Two days later reconciliation asks, and the voucher is still unpaid: nothing expires.
    counts = reconcile.reconcile(gateway, now=created + timedelta(days=2))
    assert counts.expired == 0
    assert payment_of(gateway, payment.id)["status"] == "requires_action"
    paid = event(
        "ev1", payment, Outcome.SUCCEEDED, method_details=MethodDetails("cash"), final=True
    )
    assert deliver(gateway, scripted, paid) == "applied"
    body = payment_of(gateway, payment.id)
    assert body["status"] == "succeeded"
    assert body["method_details"]["forma_pago"] == "01"
    assert reasons_of(gateway, acme) == ("payment_registered",)


@pytest.mark.parametrize(
    ("received", "status", "flags"),
    [
        ("400.00", "requires_action", []),
        ("1000.00", "succeeded", []),
        ("1200.00", "succeeded", ["overpaid"]),
    ],
)
def test_spei_under_exact_and_over_payment(gateway, acme, scripted, received, status, flags):
    scripted.answer = spei
    payment = pay_invoices(gateway, acme, "k1", payment_method="bank_transfer")
    body = payment_of(gateway, payment.id)
    assert body["next_action"]["type"] == "display_bank_transfer_instructions"
    assert body["next_action"]["clabe"] == CLABE
    assert body["received_amount"] is None
    funded = Money(received, MXN)
    outcome = Outcome.SUCCEEDED if funded >= payment.amount else Outcome.PENDING
    details = MethodDetails(
        "bank_transfer", tracking_key="MBAN01002612040012345", payer_bank="BBVA"
    )
    deliver(
        gateway,
        scripted,
        event("ev1", payment, outcome, received=funded, method_details=details),
    )
    body = payment_of(gateway, payment.id)
    assert body["status"] == status
    assert body["received_amount"] == received
    assert body["flags"] == flags
    if status == "succeeded":
        assert body["method_details"]["forma_pago"] == "03"
        assert body["method_details"]["tracking_key"] == "MBAN01002612040012345"
        assert body["next_action"] is None
    else:  # still waiting for the rest: the instructions stand, the invoice is still pending
        assert body["next_action"]["clabe"] == CLABE
        assert reasons_of(gateway, acme) == ("payment_pending",)


def test_a_short_transfer_s_new_instructions_ask_for_what_is_still_due(gateway, acme, scripted):
    """A notification of a transfer that fell short may carry new instructions (the amount
    still due): they replace the payment's, so the buyer does not send the whole amount again."""
    scripted.answer = spei
    payment = pay_invoices(gateway, acme, "k1", payment_method="bank_transfer")
    due = BankTransferInstructions(CLABE, "STP", "Distribuidora SA de CV", Money("600.00", MXN))
    action = NextAction(type="display_bank_transfer_instructions", bank_transfer=due)
    short = event(
        "ev1", payment, Outcome.PENDING, received=Money("400.00", MXN), next_action=action
    )

    assert deliver(gateway, scripted, short) == "unchanged"

    body = payment_of(gateway, payment.id)
    assert (body["status"], body["received_amount"]) == ("requires_action", "400.00")
    assert (body["next_action"]["clabe"], body["next_action"]["amount"]) == (CLABE, "600.00")


# -- expiry ----------------------------------------------------------------------------------


def test_an_unpaid_transfer_is_canceled_at_its_own_expiry_not_after_two_hours(
    gateway, acme, scripted
):
    scripted.answer = spei
    payment = pay_invoices(gateway, acme, "k1", payment_method="bank_transfer")
    created = payment.created_at
    assert reconcile.reconcile(gateway, now=created + timedelta(hours=3)).expired == 0
    counts = reconcile.reconcile(gateway, now=created + timedelta(days=3, minutes=10))
    assert counts.expired == 1
    assert scripted.canceled == [payment.id]
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["failure"]["code"]) == ("canceled", "expired")
    assert reasons_of(gateway, acme) == ()
    assert "payment.expired" in outbound(gateway)


def test_a_processor_that_cannot_cancel_never_blocks_the_invoices_forever(gateway, acme, scripted):
    scripted.answer = voucher
    scripted.can_cancel = False
    payment = pay_invoices(gateway, acme, "k1", payment_method="cash")
    created = payment.created_at
    # Past its expiry, within the grace: still held (the store may still take the cash).
    reconcile.reconcile(gateway, now=created + timedelta(days=3, hours=1))
    assert payment_of(gateway, payment.id)["status"] == "requires_action"
    counts = reconcile.reconcile(gateway, now=created + timedelta(days=4, hours=1))
    assert counts.expired == 1
    assert payment_of(gateway, payment.id)["status"] == "canceled"
    assert reasons_of(gateway, acme) == ()
    # The invoice is paid again, by card; then the voucher's cash arrives after all.
    scripted.answer = ChargeResult(Outcome.SUCCEEDED, processor_reference="ch_card")
    again = pay_invoices(gateway, acme, "k2", token="tok")
    assert again.status == "succeeded"
    late = event("ev1", payment, Outcome.SUCCEEDED, method_details=MethodDetails("cash"))
    assert deliver(gateway, scripted, late) == "late_success"
    body = payment_of(gateway, payment.id)
    assert body["status"] == "canceled"  # it cannot hold an invoice another payment paid
    assert set(body["flags"]) == {"late_success", "overpaid"}
    assert body["method_details"]["forma_pago"] == "01"  # recorded, never lost
    assert "payment.late_success" in outbound(gateway)
    assert deliver(gateway, scripted, event("ev2", payment, Outcome.SUCCEEDED)) == "unchanged"


def test_a_late_success_on_free_invoices_pays_them(gateway, acme, scripted, caplog):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1")
    reconcile.reconcile(gateway, now=payment.created_at + timedelta(hours=2))
    assert payment_of(gateway, payment.id)["status"] == "canceled"
    late = event("ev1", payment, Outcome.SUCCEEDED)
    assert deliver(gateway, scripted, late) == "late_success"
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["flags"], body["failure"]) == ("succeeded", ["late_success"], None)
    assert reasons_of(gateway, acme) == ("payment_registered",)
    assert "payment.late_success" in outbound(gateway)
    assert any(r.message.startswith("ALERT") for r in caplog.records)


# -- disputes --------------------------------------------------------------------------------


def _dispute(event_id: str, payment: Payment, status: DisputeStatus) -> WebhookEvent:
    return WebhookEvent(
        event_id,
        EventKind.DISPUTE,
        payment_id=payment.id,
        dispute=Dispute(status, Money("1000.00", MXN), "fraudulent", "dp_1"),
        occurred_at=datetime(2026, 12, 10, tzinfo=UTC),
    )


@pytest.fixture
def paid(gateway, acme, scripted) -> Payment:
    scripted.answer = ChargeResult(Outcome.SUCCEEDED, processor_reference="ch_1")
    return pay_invoices(gateway, acme, "k1", token="tok")


def test_a_lost_dispute_reopens_the_invoices(gateway, acme, scripted, paid):
    assert deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN)) == "applied"
    body = payment_of(gateway, paid.id)
    assert body["status"] == "disputed"
    assert body["dispute"]["status"] == "open"
    assert reasons_of(gateway, acme) == ("payment_registered",)  # held while the bank decides
    assert deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST)) == "applied"
    body = payment_of(gateway, paid.id)
    assert body["status"] == "disputed"
    assert body["dispute"] == {
        "status": "lost",
        "amount": "1000.00",
        "reason": "fraudulent",
        "opened_at": body["dispute"]["opened_at"],
        "closed_at": "2026-12-10T00:00:00Z",
    }
    assert reasons_of(gateway, acme) == ()  # open again: the customer owes it
    assert deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST)) == "duplicate"
    assert deliver(gateway, scripted, _dispute("d3", paid, DisputeStatus.LOST)) == "unchanged"
    events = outbound(gateway)
    assert "payment.dispute_opened" in events
    assert "payment.dispute_closed" in events


def test_a_won_dispute_returns_to_paid(gateway, acme, scripted, paid):
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))
    assert deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.WON)) == "applied"
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"]) == ("succeeded", "won")
    assert reasons_of(gateway, acme) == ("payment_registered",)


def test_a_lost_dispute_won_after_all_holds_its_free_invoices_again(
    gateway, acme, scripted, paid, caplog
):
    """An appeal won, or the processor's protection reimbursing the merchant: paid again."""
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))
    deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST))
    assert reasons_of(gateway, acme) == ()
    assert deliver(gateway, scripted, _dispute("d3", paid, DisputeStatus.WON)) == "applied"
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"], body["flags"]) == ("succeeded", "won", [])
    assert reasons_of(gateway, acme) == ("payment_registered",)  # held again
    assert outbound(gateway).count("payment.dispute_closed") == 2
    assert any(r.message.startswith("ALERT") and "won" in r.message for r in caplog.records)
    assert deliver(gateway, scripted, _dispute("d4", paid, DisputeStatus.WON)) == "unchanged"


def test_without_observers_the_invoices_are_still_released_and_held_again(
    gateway, acme, scripted, paid
):
    """No notification_url, no observer: the webhook locks the payment without its allocations
    (no JSON to build); a lost dispute still frees its invoices, a late success takes them."""
    gateway.plugins.merchants_with_notification_url = frozenset()
    before = outbound(gateway)  # the paid payment's, when acme still had its URL
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))
    assert deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST)) == "applied"
    assert reasons_of(gateway, acme) == ()
    assert deliver(gateway, scripted, _dispute("d3", paid, DisputeStatus.WON)) == "applied"
    assert reasons_of(gateway, acme) == ("payment_registered",)
    scripted.answer = hosted
    late = pay_invoices(gateway, acme, "k2", invoice_ids=("F-2",))
    reconcile.reconcile(gateway, now=late.created_at + timedelta(hours=2))
    assert payment_of(gateway, late.id)["status"] == "canceled"
    assert deliver(gateway, scripted, event("ev1", late, Outcome.SUCCEEDED)) == "late_success"
    assert payment_of(gateway, late.id)["status"] == "succeeded"
    assert reasons_of(gateway, acme, "F-2") == ("payment_registered",)
    assert outbound(gateway) == before


def test_a_lost_dispute_won_after_its_invoices_were_paid_again_is_overpaid(
    gateway, acme, scripted, paid, caplog
):
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))
    deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST))
    scripted.answer = ChargeResult(Outcome.SUCCEEDED, processor_reference="ch_2")
    again = pay_invoices(gateway, acme, "k2", token="tok")  # the customer paid F-1 again
    assert again.status == "succeeded"
    assert deliver(gateway, scripted, _dispute("d3", paid, DisputeStatus.WON)) == "applied"
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"]) == ("disputed", "lost")  # holds nothing
    assert body["flags"] == ["overpaid"]
    assert payment_of(gateway, again.id)["status"] == "succeeded"  # the other keeps F-1
    assert any("overpaid, refund one" in r.message for r in caplog.records)


def test_a_dispute_before_the_payment_is_known_paid_is_delivered_again_later(
    gateway, acme, scripted
):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1")
    from b2bgateway.errors import EventOutOfOrder

    with pytest.raises(EventOutOfOrder):
        deliver(gateway, scripted, _dispute("d1", payment, DisputeStatus.OPEN))


def test_a_payment_for_another_amount_is_flagged_and_never_applied(gateway, acme, scripted):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1")
    wrong = WebhookEvent(
        "ev1",
        EventKind.PAYMENT,
        payment_id=payment.id,
        outcome=Outcome.SUCCEEDED,
        amount=Money("1.00", MXN),
    )
    assert deliver(gateway, scripted, wrong) == "mismatch"
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["flags"]) == ("requires_action", ["amount_mismatch"])


def test_a_refund_during_a_dispute_is_recorded_and_the_won_dispute_returns_to_it(
    gateway, acme, scripted, paid
):
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))
    refund = WebhookEvent(
        "r1",
        EventKind.REFUND,
        payment_id=paid.id,
        outcome=Outcome.SUCCEEDED,
        amount=Money("400.00", MXN),
        refund_reference="re_1",
    )
    assert deliver(gateway, scripted, refund) == "applied"
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["refunded_amount"]) == ("disputed", "400.00")
    deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.WON))
    assert payment_of(gateway, paid.id)["status"] == "partially_refunded"


def test_a_dispute_event_from_a_plugin_that_gives_no_state_is_only_recorded(
    gateway, acme, scripted, paid
):
    """Plugins written before disputes had a state keep working: the event is kept, the payment
    does not move."""
    bare = WebhookEvent("d1", EventKind.DISPUTE, payment_id=paid.id)
    assert deliver(gateway, scripted, bare) == "recorded"
    assert payment_of(gateway, paid.id)["status"] == "succeeded"


def test_a_late_success_that_loses_the_race_for_its_invoices_is_kept_and_flagged(
    gateway, acme, scripted, monkeypatch
):
    """Between the check that the invoices are free and taking them, a checkout took them: the
    unique index refuses the late success's hold, and what it recorded stays."""
    from b2bgateway import lifecycle

    scripted.answer = voucher
    payment = pay_invoices(gateway, acme, "k1", payment_method="cash")
    # A voucher is held until its expiry (3 days) plus the grace (24 h) for the store's word.
    reconcile.reconcile(gateway, now=payment.created_at + timedelta(days=4, minutes=10))
    scripted.answer = ChargeResult(Outcome.SUCCEEDED, processor_reference="ch_card")
    assert pay_invoices(gateway, acme, "k2", token="tok").status == "succeeded"
    monkeypatch.setattr(lifecycle, "free_again", lambda session, payment: True)
    late = event("ev1", payment, Outcome.SUCCEEDED, method_details=MethodDetails("cash"))
    assert deliver(gateway, scripted, late) == "late_success"
    body = payment_of(gateway, payment.id)
    assert body["status"] == "canceled"
    assert body["failure"]["code"] == "expired"
    assert set(body["flags"]) == {"late_success", "overpaid"}
    assert body["method_details"]["forma_pago"] == "01"
    assert reasons_of(gateway, acme) == ("payment_registered",)  # held by the card payment


# -- what the review found -------------------------------------------------------------------


def test_a_success_event_never_moves_a_disputed_payment(gateway, acme, scripted, paid):
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))
    again = event("ev9", paid, Outcome.SUCCEEDED)
    assert deliver(gateway, scripted, again) == "unchanged"
    deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST))
    assert deliver(gateway, scripted, event("ev10", paid, Outcome.SUCCEEDED)) == "unchanged"
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"]) == ("disputed", "lost")
    assert reasons_of(gateway, acme) == ()
    another = WebhookEvent(
        "d3",
        EventKind.DISPUTE,
        payment_id=paid.id,
        dispute=Dispute(DisputeStatus.OPEN, reason="duplicate", reference="dp_2"),
    )
    assert deliver(gateway, scripted, another) == "recorded"


def test_a_dispute_of_a_refunded_payment_is_recorded_without_taking_the_invoices(
    gateway, acme, scripted, paid
):
    refund = WebhookEvent(
        "r1",
        EventKind.REFUND,
        payment_id=paid.id,
        outcome=Outcome.SUCCEEDED,
        amount=Money("1000.00", MXN),
        refund_reference="re_1",
    )
    assert deliver(gateway, scripted, refund) == "applied"
    assert reasons_of(gateway, acme) == ()
    assert deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN)) == "applied"
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"]) == ("refunded", "open")
    assert reasons_of(gateway, acme) == ()  # the money went back: nothing is held again
    assert deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST)) == "applied"
    assert payment_of(gateway, paid.id)["status"] == "refunded"
    assert "payment.dispute_closed" in outbound(gateway)


# -- a dispute that ends by the payment's new state (Mercado Pago's mediations) ---------------

MEDIATION = "mediation:1319876541"


def _mediation(event_id: str, payment: Payment) -> WebhookEvent:
    dispute = Dispute(DisputeStatus.OPEN, reason="mediation", reference=MEDIATION)
    return WebhookEvent(event_id, EventKind.DISPUTE, payment_id=payment.id, dispute=dispute)


def test_a_payment_paid_again_ends_its_open_mediation_won(gateway, acme, scripted, paid):
    assert deliver(gateway, scripted, _mediation("m1", paid)) == "applied"
    assert payment_of(gateway, paid.id)["status"] == "disputed"
    won = Dispute(DisputeStatus.WON, reason="mediation", reference=MEDIATION)
    assert deliver(gateway, scripted, event("m2", paid, Outcome.SUCCEEDED, dispute=won)) == (
        "applied"
    )
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"]) == ("succeeded", "won")
    assert reasons_of(gateway, acme) == ("payment_registered",)
    assert outbound(gateway).count("payment.dispute_closed") == 1


def test_a_refund_that_ends_the_open_mediation_closes_it_lost(gateway, acme, scripted, paid):
    deliver(gateway, scripted, _mediation("m1", paid))
    lost = Dispute(DisputeStatus.LOST, Money("1000.00", MXN), "mediation", MEDIATION)
    refund = WebhookEvent(
        "m2",
        EventKind.REFUND,
        payment_id=paid.id,
        outcome=Outcome.SUCCEEDED,
        amount=Money("1000.00", MXN),
        refund_reference="re_bpp",
        dispute=lost,
    )
    assert deliver(gateway, scripted, refund) == "applied"
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"]) == ("disputed", "lost")
    assert body["refunded_amount"] == "1000.00"  # the refund is recorded too
    assert reasons_of(gateway, acme) == ()  # the buyer got the money back: open again


def test_a_dispute_ending_carried_by_an_event_touches_no_other_dispute(
    gateway, acme, scripted, paid
):
    """On a payment not in that dispute, the event is only a payment or refund event."""
    won = Dispute(DisputeStatus.WON, reason="mediation", reference=MEDIATION)
    assert deliver(gateway, scripted, event("e1", paid, Outcome.SUCCEEDED, dispute=won)) == (
        "unchanged"
    )
    assert payment_of(gateway, paid.id)["dispute"] is None
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))  # a chargeback, dp_1
    lost = Dispute(DisputeStatus.LOST, reason="mediation", reference=MEDIATION)
    assert deliver(gateway, scripted, event("e2", paid, Outcome.SUCCEEDED, dispute=lost)) == (
        "unchanged"
    )
    body = payment_of(gateway, paid.id)
    assert (body["status"], body["dispute"]["status"]) == ("disputed", "open")
    assert reasons_of(gateway, acme) == ("payment_registered",)


@pytest.mark.parametrize(
    "received", [Money("100.00", MXN), Money("1000.00", "USD")], ids=["short", "currency"]
)
def test_a_success_with_funds_that_do_not_match_is_never_applied(gateway, acme, scripted, received):
    scripted.answer = spei
    payment = pay_invoices(gateway, acme, "k1", payment_method="bank_transfer")
    paid_short = event("ev1", payment, Outcome.SUCCEEDED, received=received)
    assert deliver(gateway, scripted, paid_short) == "mismatch"
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["flags"]) == ("requires_action", ["amount_mismatch"])
    assert reasons_of(gateway, acme) == ("payment_pending",)


def test_a_transfer_after_the_payment_succeeded_is_flagged_overpaid(gateway, acme, scripted):
    scripted.answer = spei
    payment = pay_invoices(gateway, acme, "k1", payment_method="bank_transfer")
    exact = Money("1000.00", MXN)
    deliver(gateway, scripted, event("ev1", payment, Outcome.SUCCEEDED, received=exact))
    more = Money("1500.00", MXN)
    assert deliver(gateway, scripted, event("ev2", payment, Outcome.SUCCEEDED, received=more))
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["received_amount"]) == ("succeeded", "1500.00")
    assert body["flags"] == ["overpaid"]
    assert "payment.overpaid" in outbound(gateway)


def test_a_second_paid_attempt_is_flagged_overpaid(gateway, acme, scripted):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1")
    deliver(gateway, scripted, event("ev1", payment, Outcome.SUCCEEDED, attempt_reference="p1"))
    second = event("ev2", payment, Outcome.SUCCEEDED, attempt_reference="p2")
    assert deliver(gateway, scripted, second) == "overpaid"
    assert (
        deliver(gateway, scripted, event("ev3", payment, Outcome.SUCCEEDED, attempt_reference="p2"))
        == "unchanged"
    )
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["flags"]) == ("succeeded", ["overpaid"])
    assert "payment.overpaid" in outbound(gateway)


def test_observers_hear_news_and_status_changes_apart(gateway, acme, scripted, paid):
    """A status change is heard once by b2bgateway_payment_status_changed; news beyond a status
    (a dispute opened, an amount mismatch) by b2bgateway_payment_updated."""
    deliver(gateway, scripted, _dispute("d1", paid, DisputeStatus.OPEN))
    deliver(gateway, scripted, _dispute("d2", paid, DisputeStatus.LOST))
    events = outbound(gateway)
    assert events.count("payment.succeeded") == 1
    assert events.count("payment.disputed") == 1
    assert events[-3:] == ["payment.disputed", "payment.dispute_opened", "payment.dispute_closed"]


def test_a_closed_late_success_can_be_refunded_and_disputed(gateway, acme, scripted):
    """The merchant refunds the duplicate money at the processor: its refund is recorded, not
    refused for ever; so is a chargeback of it."""
    scripted.answer = voucher
    payment = pay_invoices(gateway, acme, "k1", payment_method="cash")
    # A voucher is held until its expiry (3 days) plus the grace (24 h) for the store's word.
    reconcile.reconcile(gateway, now=payment.created_at + timedelta(days=4, minutes=10))
    scripted.answer = ChargeResult(Outcome.SUCCEEDED, processor_reference="ch_card")
    pay_invoices(gateway, acme, "k2", token="tok")
    deliver(gateway, scripted, event("ev1", payment, Outcome.SUCCEEDED))
    refund = WebhookEvent(
        "r1",
        EventKind.REFUND,
        payment_id=payment.id,
        outcome=Outcome.SUCCEEDED,
        amount=Money("1000.00", MXN),
        refund_reference="re_1",
    )
    assert deliver(gateway, scripted, refund) == "applied"
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["refunded_amount"]) == ("canceled", "1000.00")
    assert "payment.refund_recorded" in outbound(gateway)
    assert deliver(gateway, scripted, _dispute("d1", payment, DisputeStatus.OPEN)) == "applied"
    assert payment_of(gateway, payment.id)["dispute"]["status"] == "open"
    assert reasons_of(gateway, acme) == ("payment_registered",)  # still the card payment's


def test_an_expired_transfer_with_money_received_is_flagged_for_a_refund(gateway, acme, scripted):
    scripted.answer = spei
    payment = pay_invoices(gateway, acme, "k1", payment_method="bank_transfer")
    short = event("ev1", payment, Outcome.PENDING, received=Money("300.00", MXN))
    deliver(gateway, scripted, short)
    reconcile.reconcile(gateway, now=payment.created_at + timedelta(days=3, minutes=10))
    body = payment_of(gateway, payment.id)
    assert (body["status"], body["received_amount"]) == ("canceled", "300.00")
    assert body["flags"] == ["partially_funded"]


def test_reconciliation_is_due_at_the_expiry_whatever_its_back_off(gateway, acme, scripted):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1")
    with gateway.store.write() as session:
        session.get(Payment, payment.id).reconcile_attempts = 10  # backing off an hour a pass
    reconcile.reconcile(gateway, now=payment.created_at + timedelta(minutes=50))
    with gateway.store.read() as session:
        assert session.get(Payment, payment.id).reconcile_after == payment.expires_at
    counts = reconcile.reconcile(gateway, now=payment.expires_at + timedelta(seconds=1))
    assert counts.expired == 1


def test_a_processor_that_cannot_cancel_holds_until_its_own_later_expiry(gateway, acme, scripted):
    """The plugin reports the processor's expiry (later than ours: it ignored the one we sent):
    the invoices are held until then plus the grace, since the store still takes the cash."""

    def late_voucher(request):
        result = voucher(request)
        return replace(result, expires_at=request.expires_at + timedelta(days=2))

    scripted.answer = late_voucher
    scripted.can_cancel = False
    payment = pay_invoices(gateway, acme, "k1", payment_method="cash")
    created = payment.created_at
    reconcile.reconcile(gateway, now=created + timedelta(days=5, hours=1))  # ours + 2 d grace
    assert payment_of(gateway, payment.id)["status"] == "requires_action"
    reconcile.reconcile(gateway, now=created + timedelta(days=6, hours=1))
    assert payment_of(gateway, payment.id)["status"] == "canceled"


@pytest.mark.parametrize(("charged", "recorded"), [(None, None), (1, None), (3, 3)])
def test_msi_as_charged_on_a_hosted_page_is_the_truth_and_a_change_is_flagged(
    gateway, acme, scripted, charged, recorded
):
    """A hosted page lets the customer pick another plan than the one asked, or none: the ERP
    and the CFDI must follow what the card was charged (1 payment is no plan)."""
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1", installments=6)
    card = MethodDetails("card", "visa", "4242", "credit", "123456", installments=charged)
    paid = event("ev1", payment, Outcome.SUCCEEDED, attempt_reference="pi_1", method_details=card)

    assert deliver(gateway, scripted, paid) == "applied"

    body = payment_of(gateway, payment.id)
    assert body["status"] == "succeeded"
    assert body["flags"] == ["installments_changed"]
    assert body["payment_method"].get("installments") == recorded
    assert body["method_details"]["installments"] == charged


def test_msi_charged_as_asked_is_not_flagged(gateway, acme, scripted):
    scripted.answer = hosted
    payment = pay_invoices(gateway, acme, "k1", installments=6)
    card = MethodDetails("card", "visa", "4242", "credit", "123456", installments=6)
    paid = event("ev1", payment, Outcome.SUCCEEDED, attempt_reference="pi_1", method_details=card)

    assert deliver(gateway, scripted, paid) == "applied"
    assert payment_of(gateway, payment.id)["flags"] == []
