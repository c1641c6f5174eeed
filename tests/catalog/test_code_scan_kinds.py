"""The code kinds a scanner delivers beyond item codes: the store's receipt, the e-voucher, the e-prescription QR.
One classification for the serial and the keyboard-wedge paths (catalog.codes.classify_code)."""

from __future__ import annotations

import pytest

from catalog.codes import VOUCHER_PREFIXES, CodeKind, classify_code, receipt_number


def test_the_stores_receipt_barcode_is_the_sale_number() -> None:
    c = classify_code("20261123-0042\r")
    assert (c.kind, c.code) == (CodeKind.RECEIPT, "20261123-0042")
    assert receipt_number("20261123-12345") == "20261123-12345"


@pytest.mark.parametrize("text", ["20261341-0001", "2026112-0001", "20261123-01", "20261123_0001"])
def test_a_receipt_number_needs_a_real_date_and_a_day_number(text: str) -> None:
    assert classify_code(text).kind is not CodeKind.RECEIPT
    assert receipt_number(text) is None


def test_a_voucher_token_is_recognised_and_never_shown_in_a_repr_or_log_form() -> None:
    token = f"{VOUCHER_PREFIXES[0]}7f3a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"
    c = classify_code(token + "\r\n")
    assert c.kind is CodeKind.VOUCHER
    assert c.code == token  # passed on whole
    assert token not in repr(c) and token not in c.loggable
    assert c.gtin is None and c.violations == ()


def test_a_prescription_qr_is_27_letters_and_digits() -> None:
    c = classify_code("a1B2c3D4e5F6g7H8i9J0k1L2m3N")
    assert (c.kind, c.code) == (CodeKind.RX_QR, "a1B2c3D4e5F6g7H8i9J0k1L2m3N")


def test_a_27_character_nhsa_code_stays_a_nhsa_code() -> None:
    assert classify_code("XA02BCA211A012010100154ABCD").kind is CodeKind.NHSA


def test_gs1_datamatrix_keeps_its_separators() -> None:
    c = classify_code("]d20106901234567892\x1d10LOT42\x1d17261231")
    assert c.kind is CodeKind.GS1 and c.code.count("\x1d") == 2 and c.gtin == "06901234567892"
