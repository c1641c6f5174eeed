"""Scan routing at the till (pos/codes.py): what a scanned or typed code is and where it goes, as pure functions.

Pinned as the till has always routed: the classification of vouchers and trace codes is catalog.codes' (full-width
input folded), the receipt number and the barcode are the till's own looser checks (the service judges the rest),
and the code goes on as it was typed.
"""

from __future__ import annotations

import pytest

from catalog.codes import gtin_check_digit
from pos.codes import SCAN_HELP, VOUCHER_SHOWN, Scan, is_trace_code, route, shown, trace_target

GTIN13 = "690123456789" + str(gtin_check_digit("690123456789"))
TRACE = "81234567890123456789"
VOUCHER = "ECQR" + "9F8E7D6C5B4A39281706F5E4"


def full_width(text: str) -> str:
    """As a Chinese IME in full-width mode types it (ASCII letters and digits → U+FF01..)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(("code", "where"), [
    # barcodes: all digits of a GTIN length; the check digit is the service's to judge
    (GTIN13, Scan.BARCODE),
    ("69012345", Scan.BARCODE),
    ("690123456780", Scan.BARCODE),
    ("16901234567899", Scan.BARCODE),
    (GTIN13[:-1] + str((int(GTIN13[-1]) + 1) % 10), Scan.BARCODE),  # a wrong check digit: the service refuses it
    ("12345678901", Scan.SEARCH),  # 11 digits: no GTIN length
    # 药品追溯码: 20 digits from 8
    (TRACE, Scan.TRACE),
    ("71234567890123456789", Scan.SEARCH),
    ("8123456789012345678", Scan.SEARCH),  # 19 digits
    ("812345678901234567890", Scan.SEARCH),  # 21 digits
    # a receipt's sale number: 8 digits, a hyphen, 4 to 6 digits (the service says whether the sale exists)
    ("20261122-0001", Scan.RECEIPT),
    ("20261122-000123", Scan.RECEIPT),
    ("20261399-0001", Scan.RECEIPT),  # no such date: not found by the service, not a search
    ("20261122-001", Scan.SEARCH),
    ("20261122-0000001", Scan.SEARCH),
    ("2026112-0001", Scan.SEARCH),
    # 医保电子凭证
    (VOUCHER, Scan.VOUCHER),
    ("ecqr9f8e7d6c5b4a39281706f5e4", Scan.SEARCH),  # the prefix is upper case
    ("ECQR" + "A" * 300, Scan.SEARCH),  # longer than any token
    # the patient's electronic prescription code: F4 downloads it
    ("EPRX44030020260101000000001", Scan.PRESCRIPTION),
    ("eprx44030020260101000000001", Scan.PRESCRIPTION),  # typed in lower case: the platform's codes are upper
    ("EPRX4403002026010100000001", Scan.SEARCH),  # 26 characters
    ("EPRX440300202601010000000012", Scan.SEARCH),  # 28
    # everything else is a search
    ("wss", Scan.SEARCH),
    ("维生素C", Scan.SEARCH),
    ("YP0001", Scan.SEARCH),
    ("", Scan.SEARCH),
    ("690123456789X", Scan.SEARCH),
    (GTIN13 + "\x1d", Scan.SEARCH),
    ("]d20106901234567892", Scan.SEARCH),  # a GS1 DataMatrix typed by a wedge scanner: not routed by its GTIN
    (" " + GTIN13, Scan.SEARCH),  # callers trim: the scan input and the serial path both strip the code
])
def test_each_code_goes_where_it_belongs(code: str, where: Scan) -> None:
    assert route(code) is where


@pytest.mark.parametrize(("code", "where"), [
    (full_width(GTIN13), Scan.BARCODE),  # str.isdigit holds for full-width digits: sent as typed
    (full_width(TRACE), Scan.TRACE),  # catalog.codes folds full-width (NFKC)
    (full_width(VOUCHER), Scan.VOUCHER),
    (full_width("20261122") + "-" + full_width("0001"), Scan.RECEIPT),  # \d matches full-width digits
    (full_width("20261122-0001"), Scan.SEARCH),  # a full-width hyphen is not the receipt's hyphen
    (TRACE[:-1] + full_width("9"), Scan.TRACE),
    (full_width("wss"), Scan.SEARCH),
])
def test_full_width_input_from_a_chinese_ime(code: str, where: Scan) -> None:
    assert route(code) is where


@pytest.mark.parametrize("code", ["①②③④⑤⑥⑦⑧", "¹²³⁴⁵⁶⁷⁸", "٠١٢٣٤٥٦٧"])
def test_other_unicode_digits_count_as_digits_as_they_always_did(code: str) -> None:
    assert route(code) is Scan.BARCODE  # str.isdigit: the service finds no such barcode and says so


def test_a_voucher_is_never_shown() -> None:
    assert shown(VOUCHER) == VOUCHER_SHOWN and shown(full_width(VOUCHER)) == VOUCHER_SHOWN
    assert shown(GTIN13) == GTIN13 and shown("20261122-0001") == "20261122-0001"


def test_the_help_says_what_every_kind_of_code_does() -> None:
    assert set(SCAN_HELP) == set(Scan)


def line(n: int, qty: int, traced: bool, codes: int = 0, split: bool = False) -> dict:
    return {"id": n, "qty": qty, "split": split, "traced": traced, "trace_codes": ["8" * 20] * codes}


def test_a_trace_code_goes_to_the_selected_line_or_the_last_that_still_needs_one() -> None:
    a, b, c = line(1, 2, True, codes=1), line(2, 1, False), line(3, 1, True, codes=1)
    sale = {"lines": [a, b, c]}
    assert trace_target(sale, c) is a  # c has its code: the last line still short of one
    assert trace_target(sale, a) is a
    assert trace_target(sale, b) is a  # an untraced line takes no code
    split = line(4, 6, True, codes=0, split=True)
    assert trace_target({"lines": [a, split]}, None) is split  # a split line needs its box's one code
    assert trace_target({"lines": [line(5, 1, True, codes=1)]}, None) is None
    assert trace_target(None, None) is None


def test_only_twenty_digits_from_8_are_trace_codes() -> None:
    assert is_trace_code("81234567890123456789")
    assert not is_trace_code("6901234567892") and not is_trace_code("71234567890123456789")
