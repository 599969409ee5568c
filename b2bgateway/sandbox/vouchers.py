"""The cash voucher's printable parts: finding a voucher by its charge id alone, and its barcode.

A voucher's URL (``/sandbox/vouchers/<charge_id>``) names no merchant, as a store's voucher
link does not, so the page looks the charge up in each sandbox ledger by id with
:func:`find_voucher`. The barcode is ITF (Interleaved 2 of 5), the symbology stores scan on
numeric references; the sandbox's references have 14 digits, an even count as ITF needs.
"""

from __future__ import annotations

from b2bgateway.sandbox import records
from b2bgateway.sandbox.records import Charge

__all__ = ["ITF_PATTERNS", "barcode_svg", "find_voucher", "itf_bars"]

#: Each digit as five elements, narrow (n) or wide (w).
ITF_PATTERNS = {
    "0": "nnwwn",
    "1": "wnnnw",
    "2": "nwnnw",
    "3": "wwnnn",
    "4": "nnwnw",
    "5": "wnwnn",
    "6": "nwwnn",
    "7": "nnnww",
    "8": "wnnwn",
    "9": "nwnwn",
}
_NARROW, _WIDE, _QUIET = 2, 5, 20  # widths in SVG units


def find_voucher(path: str, charge_id: str) -> Charge | None:
    """The cash charge ``charge_id`` in the ledger at ``path``, whatever its merchant, or None
    (also for a charge that is not a cash voucher)."""
    with records.connect(path) as conn:
        row = conn.execute(
            "SELECT * FROM charges WHERE id = ? AND method = 'cash'", (charge_id,)
        ).fetchone()
    return None if row is None else records.charge_from_row(row)


def itf_bars(digits: str) -> list[tuple[bool, int]]:
    """``digits`` as ITF elements, left to right: (is a bar, width), start and stop included.

    :raises ValueError: not an even number of digits.
    """
    if not digits.isdigit() or len(digits) % 2:
        raise ValueError("ITF encodes an even number of digits")
    width = {"n": _NARROW, "w": _WIDE}
    elements = [(True, _NARROW), (False, _NARROW), (True, _NARROW), (False, _NARROW)]  # start
    for i in range(0, len(digits), 2):
        bars, spaces = ITF_PATTERNS[digits[i]], ITF_PATTERNS[digits[i + 1]]
        for bar, space in zip(bars, spaces, strict=True):
            elements += [(True, width[bar]), (False, width[space])]
    return [*elements, (True, _WIDE), (False, _NARROW), (True, _NARROW)]  # stop


def barcode_svg(digits: str, *, height: int = 80) -> str:
    """A standalone SVG image of ``digits`` as an ITF barcode, with quiet zones and the digits
    printed under it (serve it as ``image/svg+xml``)."""
    x, rects = _QUIET, []
    for is_bar, width in itf_bars(digits):
        if is_bar:
            rects.append(f'<rect x="{x}" y="0" width="{width}" height="{height}"/>')
        x += width
    total = x + _QUIET
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height + 24}"'
        f' viewBox="0 0 {total} {height + 24}" role="img" aria-label="{digits}">'
        f'<rect width="{total}" height="{height + 24}" fill="#fff"/><g fill="#000">'
        + "".join(rects)
        + f'</g><text x="{total // 2}" y="{height + 18}" font-family="monospace" font-size="16"'
        f' text-anchor="middle">{digits}</text></svg>'
    )
