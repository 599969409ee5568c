"""The tables and classifications that the cassette tests do not each go through."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest
import requests
import stripe
import urllib3.exceptions
from hypothesis import given
from hypothesis import strategies as st
from stripe_factories import charge_request

from b2bgateway import Outcome, ProcessorContractError
from b2bgateway.testing import MAX_EXPIRY_EXCESS
from b2bgateway_stripe import mapping, params


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("succeeded", Outcome.SUCCEEDED),
        ("processing", Outcome.PENDING),
        ("requires_capture", Outcome.PENDING),
        ("requires_payment_method", Outcome.FAILED),
        ("canceled", Outcome.FAILED),
        ("a_status_from_the_future", Outcome.UNKNOWN),
    ],
)
def test_payment_intent_statuses(status, outcome):
    intent = {"id": "pi_1", "amount": 100, "currency": "usd", "status": status}

    assert mapping.intent_result(intent, "pk_test_fake").outcome is outcome


@pytest.mark.parametrize("decline", ["lost_card", "stolen_card", "fraudulent", "do_not_honor"])
def test_declines_the_customer_is_not_told_about(decline):
    failure = mapping.failure_from({"code": "card_declined", "decline_code": decline})

    assert failure.message == "La tarjeta fue rechazada."
    assert failure.processor_code == decline  # support still sees Stripe's reason


def test_a_decline_code_we_do_not_know_falls_back_to_stripe_code():
    failure = mapping.failure_from({"code": "expired_card", "decline_code": "new_reason"})

    assert failure.code == "expired_card"
    assert failure.processor_code == "new_reason"


@pytest.mark.parametrize("amount", [None, "100", 1.5, True])
def test_amounts_that_are_not_minor_units_are_refused(amount):
    with pytest.raises(ProcessorContractError):
        mapping.money(amount, "mxn")


def test_minor_units_use_the_currency_exponent():
    assert str(mapping.money(123456, "usd")) == "1234.56 USD"


def _connection_error(cause: Exception) -> stripe.APIConnectionError:
    try:
        raise stripe.APIConnectionError("network") from cause
    except stripe.APIConnectionError as exc:
        return exc


def test_only_a_failed_connection_proves_nothing_was_sent():
    refused = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    retry = urllib3.exceptions.MaxRetryError(None, "/v1/payment_intents", refused)  # type: ignore[arg-type]
    assert mapping.nothing_sent(_connection_error(requests.ConnectionError(retry)), 0)
    assert mapping.nothing_sent(_connection_error(requests.ConnectTimeout()), 0)
    assert not mapping.nothing_sent(_connection_error(requests.ConnectTimeout()), 1)
    assert not mapping.nothing_sent(_connection_error(requests.ReadTimeout()), 0)
    dropped = requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted."))
    assert not mapping.nothing_sent(_connection_error(dropped), 0)
    assert not mapping.nothing_sent(_connection_error(ValueError("vcr")), 0)


def test_return_url_carries_our_payment_id():
    url = "https://portal.example.com/pagos?t=abc&payment_id=old"

    assert params.return_to(url, "pay_01") == (
        "https://portal.example.com/pagos?t=abc&payment_id=pay_01"
    )


def test_metadata_is_only_what_the_contract_names():
    request = charge_request(
        metadata={"payment_id": "forged", "customer_id": "C-1", "note": "x", "card_holder": "y"}
    )

    assert params.metadata(request) == {
        "payment_id": "pay_01",
        "merchant_id": "acme",
        "customer_id": "C-1",
    }


def test_a_checkout_page_never_charges_in_another_currency():
    session = params.checkout_session(charge_request(token=None), "https://portal.example.com/r")

    assert session["adaptive_pricing"] == {"enabled": False}
    assert session["payment_intent_data"]["metadata"]["flow"] == "checkout"


@pytest.mark.parametrize(
    ("hours", "days"), [(None, 3), (1, 1), (47.9, 2), (72, 3), (72.5, 4), (24 * 30, 7)]
)
def test_a_voucher_lasts_the_payment_s_expiry_in_whole_days(hours, days):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    expires = None if hours is None else now + timedelta(hours=hours)

    assert params.voucher_days(expires, now) == days


#: Mexico City's time (UTC-6 all year since Mexico dropped daylight saving time in 2022).
MEXICO_CITY = timezone(timedelta(hours=-6))


def printed_expiry(created: datetime, days: int) -> datetime:
    """Where Stripe's OXXO voucher expires: 23:59:59 Mexico City time, ``days`` calendar days
    after the day it was created there (``expires_after_days``)."""
    day = created.astimezone(MEXICO_CITY).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59, 59), MEXICO_CITY).astimezone(UTC)


def test_the_printed_expiry_is_stripe_s_end_of_day_in_mexico_city():
    created = datetime.fromtimestamp(1767225600, UTC)  # the e2e voucher: 18:00 on Dec 31 there

    assert printed_expiry(created, 3) == datetime(2026, 1, 4, 5, 59, 59, tzinfo=UTC)


@given(
    created=st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
    minutes=st.integers(min_value=-60, max_value=60 * 24 * 30),
)
def test_a_voucher_covers_the_payment_s_wait_and_ends_within_the_kit_s_excess(created, minutes):
    """The gateway holds a voucher until its printed expiry (plus grace), so the printed date
    must cover our whole wait (nobody who pays before it is refused), and end within what the
    conformance kit allows (MAX_EXPIRY_EXCESS) after ours, in OXXO's range of 1 to 7 days."""
    ours = created + timedelta(minutes=minutes)
    days = params.voucher_days(ours, created)
    printed = printed_expiry(created, days)

    assert 1 <= days <= 7
    if 0 < minutes <= 7 * 24 * 60:
        assert ours <= printed < ours + MAX_EXPIRY_EXCESS
