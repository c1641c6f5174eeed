"""Scan routing: what a code scanned or typed at the till is, and where it goes. Pure functions.

A code reaches the till two ways — typed or keyboard-wedge-scanned into the sale's input, or read by the serial
scanner and sent through the service's event stream — and both end in `route()`:

- a 医保电子凭证 (e-voucher) → the card flow (F3), which identifies the insured person with it at once. The token
  is a live credential: passed on whole, never shown (`shown`), never logged;
- a receipt's sale number (小票号, 20261122-0001: the receipt's barcode, or typed) → the return screen (F11);
- a 药品追溯码 (drug trace code) → the box of a traced line of the sale (`trace_target` picks the line);
- a barcode (all digits, a GTIN's length) → a line added by barcode; the service checks the digits;
- anything else → the item search (pinyin initials, a name, an item code).

The screen on top decides what it does with a code (the sale screen follows `route`; the return screen takes any
code as a receipt number; the card screen only a voucher). The code checks are catalog.codes': a pure package the
service's scanner driver uses too, so the two scan paths agree on what a voucher and a trace code are. The till
imports catalog's pure code rules and nothing of the service (DESIGN, "Who imports whom").

The code arrives read as ASCII (pos.format.halfwidth: a full-width barcode typed with a Chinese IME on is the same
barcode), so each rule below sees what a scanner would have sent.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from catalog.codes import CodeKind, classify_code

GTIN_LENGTHS = {8, 12, 13, 14}
# A receipt's sale number (YYYYMMDD-NNNN), typed or scanned from the receipt's barcode: a return.
SALE_NO = re.compile(r"^\d{8}-\d{4,6}$")
VOUCHER_SHOWN = "医保电子凭证"  # what a notice shows in place of a voucher's token
# The patient's electronic 外配处方 code (epc_qrcd, 27 characters; the sandbox platform's begin EPRX): scanned at
# the sale or typed in F4, it downloads the prescription (7201/7203) into the sale.
RX_CODE = re.compile(r"^EPRX[0-9A-Z]{23}$")


def is_rx_code(code: str) -> bool:
    """Whether a scanned or typed code is a prescription code the platform decodes (7201)."""
    return bool(RX_CODE.match(code.strip().upper()))


class Scan(StrEnum):
    """What a code scanned or typed into the sale is; the sale screen sends each kind where it goes."""

    VOUCHER = "voucher"  # 医保电子凭证 → the card flow (F3), identified with it
    PRESCRIPTION = "prescription"  # the patient's electronic 外配处方 code → F4, the prescription downloaded
    RECEIPT = "receipt"  # a receipt's sale number → the return screen (F11) with the sale found
    TRACE = "trace"  # 药品追溯码 → the traced line that still needs it (trace_target)
    BARCODE = "barcode"  # → a line added by barcode
    SEARCH = "search"  # anything else → the item search, with the text as the query


# What each kind does at the sale screen, in the cashier's words: the help (F1) shows these.
SCAN_HELP: dict[Scan, str] = {
    Scan.BARCODE: "扫码或输入编码后回车：加入商品",
    Scan.SEARCH: "输入拼音首字母/品名回车：查询",
    Scan.RECEIPT: "扫小票条码：退货",
    Scan.VOUCHER: "扫医保电子凭证：医保结算",
    Scan.PRESCRIPTION: "扫电子处方码：下载外配处方",
    Scan.TRACE: "扫药品追溯码：记入需扫码的药品行",
}


def route(code: str) -> Scan:
    """Where a code scanned or typed into the sale goes (the first rule that holds, in this order)."""
    if is_voucher(code):
        return Scan.VOUCHER
    if is_rx_code(code):
        return Scan.PRESCRIPTION
    if is_sale_no(code):
        return Scan.RECEIPT
    if is_trace_code(code):
        return Scan.TRACE
    if is_barcode(code):
        return Scan.BARCODE
    return Scan.SEARCH


def is_voucher(code: str) -> bool:
    """A 医保电子凭证 token (catalog.codes: its prefix, full-width letters folded): it goes to the card flow."""
    return classify_code(code).kind is CodeKind.VOUCHER


def is_sale_no(code: str) -> bool:
    return bool(SALE_NO.match(code))


def is_trace_code(code: str) -> bool:
    """药品追溯码 (20 digits from 8, catalog.codes): it belongs to a box of a traced line, not to the search."""
    return classify_code(code).kind is CodeKind.TRACE


def is_barcode(code: str) -> bool:
    """All digits of a GTIN length goes straight to the service as a barcode; anything else is a search."""
    return code.isdigit() and len(code) in GTIN_LENGTHS


def shown(code: str) -> str:
    """The code as a notice may show it: a voucher's token never is."""
    return VOUCHER_SHOWN if is_voucher(code) else code


def codes_needed(line: dict[str, Any]) -> int:
    """追溯码 a traced line carries: one per box; a split line, its opened box's one; an untraced line none."""
    return (1 if line["split"] else int(line["qty"])) if line.get("traced") else 0


def trace_target(sale: dict[str, Any] | None, selected: dict[str, Any] | None) -> dict[str, Any] | None:
    """The line a scanned trace code goes to: the selected line if it still needs codes, else the last one that
    does. The service decides whether the code may be sold; this only picks the line."""
    def needs(line: dict[str, Any]) -> bool:
        return len(line.get("trace_codes", [])) < codes_needed(line)
    if sale is None:
        return None
    if selected is not None and needs(selected):
        return selected
    return next((ln for ln in reversed(sale["lines"]) if needs(ln)), None)
