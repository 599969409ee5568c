"""The ``x-signature`` manifest, checked against the documentation and the SDK's validator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mercadopago.webhook import WebhookSignatureValidator

from b2bgateway import WebhookSignatureInvalid
from b2bgateway_mercadopago import signature

SECRET = "your_secret_signature"
NOW = datetime(2024, 1, 10, 17, 33, 30, tzinfo=UTC)
TS = "1704908010"  # the documentation's example, 2024-01-10T17:33:30Z


def test_manifest_as_documented() -> None:
    assert (
        signature.manifest("123456", "bb56a2f1-6aae-46ac-982e-9dcd3581d08e", TS)
        == "id:123456;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1704908010;"
    )


@pytest.mark.parametrize(
    ("data_id", "request_id", "expected"),
    [
        (None, "r-1", "request-id:r-1;ts:1704908010;"),
        ("123", None, "id:123;ts:1704908010;"),
        ("", "", "ts:1704908010;"),
        (
            "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3",
            "r-1",
            "id:ord01jq4s4ky8hwq6na5pxb65b3d3;request-id:r-1;ts:1704908010;",
        ),
        ("ABC-123", "r-1", "id:ABC-123;request-id:r-1;ts:1704908010;"),  # not alphanumeric
    ],
)
def test_manifest_drops_absent_pairs_and_lowercases(
    data_id: str | None, request_id: str | None, expected: str
) -> None:
    assert signature.manifest(data_id, request_id, TS) == expected


def test_our_signature_is_the_sdks() -> None:
    """For a numeric id and a seconds timestamp, the SDK's own validator agrees."""
    header = signature.sign(SECRET, "123456", "req-1", TS)

    WebhookSignatureValidator.validate(header, "req-1", "123456", SECRET)  # raises if not


def test_verify_accepts_its_signature() -> None:
    header = signature.sign(SECRET, "123456", "req-1", TS)
    headers = {"x-signature": header, "x-request-id": "req-1"}

    signature.verify(
        headers, {"data.id": "123456"}, SECRET, tolerance_seconds=300, max_age_seconds=3600, now=NOW
    )


def test_verify_accepts_any_of_several_v1() -> None:
    good = signature.sign(SECRET, "123456", "req-1", TS).split(",")[1]
    headers = {"x-signature": f"ts={TS},v1={'0' * 64},{good}", "x-request-id": "req-1"}

    signature.verify(
        headers, {"data.id": "123456"}, SECRET, tolerance_seconds=300, max_age_seconds=3600, now=NOW
    )


def test_verify_takes_naive_now_as_utc() -> None:
    header = signature.sign(SECRET, "123456", "req-1", TS)
    headers = {"x-signature": header, "x-request-id": "req-1"}
    naive = NOW.replace(tzinfo=None)

    signature.verify(
        headers,
        {"data.id": "123456"},
        SECRET,
        tolerance_seconds=300,
        max_age_seconds=3600,
        now=naive,
    )


def test_verify_refuses_the_body_id_alone() -> None:
    """``data.id`` is read from the query string only: a signature over another id fails."""
    header = signature.sign(SECRET, "123456", "req-1", TS)
    headers = {"x-signature": header, "x-request-id": "req-1"}

    with pytest.raises(WebhookSignatureInvalid):
        signature.verify(headers, {}, SECRET, tolerance_seconds=300, max_age_seconds=3600, now=NOW)


def _verify_at(moment: datetime) -> None:
    header = signature.sign(SECRET, "123456", "req-1", TS)
    headers = {"x-signature": header, "x-request-id": "req-1"}
    signature.verify(
        headers,
        {"data.id": "123456"},
        SECRET,
        tolerance_seconds=300,
        max_age_seconds=3600,
        now=moment,
    )


def test_redeliveries_with_the_same_ts_are_accepted_until_the_max_age() -> None:
    """Mercado Pago redelivers about every 15 minutes with the ts it signed the first time."""
    for minutes in (15, 30, 45, 60):
        _verify_at(NOW + timedelta(minutes=minutes))
    with pytest.raises(WebhookSignatureInvalid, match="too old"):
        _verify_at(NOW + timedelta(minutes=60, seconds=1))


def test_a_ts_ahead_of_our_clock_is_refused_beyond_the_tolerance() -> None:
    _verify_at(NOW - timedelta(seconds=300))
    with pytest.raises(WebhookSignatureInvalid, match="future"):
        _verify_at(NOW - timedelta(seconds=301))


@given(st.integers(min_value=-2 * 3600, max_value=3 * 3600))
def test_the_window_is_tolerance_ahead_and_max_age_behind(age: int) -> None:
    """A genuine signature is accepted exactly when its ts is at most 300 s ahead of our clock
    and at most 3600 s old; outside, refused (never the other way round)."""
    moment = NOW + timedelta(seconds=age)
    if -300 <= age <= 3600:
        _verify_at(moment)
    else:
        with pytest.raises(WebhookSignatureInvalid):
            _verify_at(moment)
