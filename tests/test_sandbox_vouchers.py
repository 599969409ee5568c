"""The cash voucher's barcode and lookup, and the sandbox's v1.1 settings."""

import pytest
from pydantic import ValidationError

from b2bgateway.interface import ChargeRequest, CustomerRef
from b2bgateway.money import Money
from b2bgateway.sandbox import hooks, vouchers
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.sandbox.settings import SandboxSettings

SECRET = "whsec_test_secret"


@pytest.fixture
def sandbox(tmp_path):
    return SandboxSettings(webhook_secret=SECRET, ledger_path=str(tmp_path / "ledger.db"))


def charge(settings, method, merchant_id="acme", token=None):
    request = ChargeRequest(
        payment_id=f"pay_{merchant_id}_{method}",
        merchant_id=merchant_id,
        amount=Money("99.90", "MXN"),
        customer=CustomerRef("C-1"),
        description="Factura",
        idempotency_key=f"{merchant_id}:{method}",
        token=token,
        gateway_url="https://gw.example",
        payment_method=method,
    )
    return hooks.b2bgateway_create_charge(request, settings)


def decode_itf(elements):
    """Read ITF elements back (the test's own decoder, from the symbology's definition)."""
    widths = ["w" if width > vouchers._NARROW else "n" for _, width in elements]
    assert widths[:4] == ["n"] * 4 and widths[-3:] == ["w", "n", "n"]
    assert [bar for bar, _ in elements] == [i % 2 == 0 for i in range(len(elements))]
    body, digit_of = widths[4:-3], {p: d for d, p in vouchers.ITF_PATTERNS.items()}
    digits = ""
    for i in range(0, len(body), 10):
        pair = body[i : i + 10]
        digits += digit_of["".join(pair[0::2])] + digit_of["".join(pair[1::2])]
    return digits


@pytest.mark.parametrize("digits", ["00", "1234567890", "98765432101234"])
def test_itf_round_trips(digits):
    assert decode_itf(vouchers.itf_bars(digits)) == digits


@pytest.mark.parametrize("digits", ["123", "12a4", ""])
def test_itf_needs_an_even_number_of_digits(digits):
    with pytest.raises(ValueError, match="even number of digits"):
        vouchers.itf_bars(digits)


def test_the_barcode_is_an_svg_of_the_voucher_reference(sandbox):
    reference = charge(sandbox, "cash").next_action.cash_voucher.reference
    svg = vouchers.barcode_svg(reference)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert f">{reference}</text>" in svg
    assert svg.count("<rect") == 1 + 2 + 7 * 5 + 2  # background, start, 7 pairs, stop


def test_a_voucher_is_found_by_its_charge_id_alone(sandbox):
    cash = charge(sandbox, "cash", merchant_id="globex").processor_reference
    transfer = charge(sandbox, "bank_transfer").processor_reference
    card = charge(sandbox, "card", token="tok_approved").processor_reference
    ledger = open_ledger(sandbox)
    found = ledger.voucher(cash)
    assert found is not None and found.merchant_id == "globex" and found.method == "cash"
    assert ledger.voucher(transfer) is None and ledger.voucher(card) is None
    assert ledger.voucher("sbx_ch_404") is None


def test_v11_settings_defaults():
    settings = SandboxSettings(webhook_secret=SECRET)
    assert settings.beneficiary == "Sandbox B2B SA de CV" and settings.can_cancel is True
    assert settings.card_expiry_minutes == 60
    assert settings.bank_transfer_expiry_hours == settings.cash_expiry_hours == 72


@pytest.mark.parametrize(
    "raw",
    [
        {"beneficiary": ""},
        {"card_expiry_minutes": 0},
        {"bank_transfer_expiry_hours": 0},
        {"cash_expiry_hours": 24 * 31},
        {"can_cancel": "maybe"},
    ],
)
def test_v11_settings_are_validated(raw):
    with pytest.raises(ValidationError) as info:
        SandboxSettings.model_validate({"webhook_secret": SECRET, **raw})
    assert SECRET not in str(info.value)
