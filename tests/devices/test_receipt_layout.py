"""The receipt as the printer receives it: GBK text in Chinese mode, columns counted in printed bytes,
unprintable characters mapped, the sale-number barcode, the card section (CARD-05), the 重打 mark —
and the plain-text preview coming from the same layout."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from devices.printer import gbk
from devices.printer.documents import (
    CardSettlement,
    ReceiptDoc,
    ReceiptLine,
    RxReviewSlip,
    RxSlipLine,
    StoreHeader,
    TenderLine,
    ZReportDoc,
    from_json,
    to_json,
)
from devices.printer.render import escpos_bytes, preview
from tests.devices.escpos_reader import read

STORE = StoreHeader("丁点大药房（示范店）", "P44030000001")


def receipt(**changes: Any) -> ReceiptDoc:
    doc = ReceiptDoc(
        store=STORE, till_code="T01", sale_no="20261123-0042", completed_at="2026-11-23 10:30:00",
        cashier="张收银", pharmacist="李药师",
        lines=[ReceiptLine("阿莫西林胶囊", "0.25g*24粒", 2, "盒", 1250, 2500, "rx", "处方药", "甲"),
               ReceiptLine("医用外科口罩（¥特价）", "10只", 3, "包", 990, 2970, "device", "医疗器械", ""),
               ReceiptLine("维生素C片", "0.1g×100片 µg", 1, "瓶", 350, 350, "otc_a", "甲类非处方药", "乙")],
        total_fen=5820, tenders=[TenderLine("cash", "现金", 5820, 10000)], change_fen=4180,
        footer="谢谢惠顾\n凭小票七日内退换")
    return replace(doc, **changes)


@pytest.mark.parametrize("columns", [32, 42, 48])
def test_every_line_fits_the_paper_in_printed_bytes(columns: int) -> None:
    doc = read(escpos_bytes(receipt(), columns))
    assert doc.raw_lines, "nothing printed"
    for raw in doc.raw_lines:
        assert len(raw) <= columns, f"{raw.decode('gbk')!r} is {len(raw)} columns on {columns}-column paper"


def test_chinese_mode_is_selected_and_no_western_code_page_is_used() -> None:
    data = escpos_bytes(receipt(), 32)
    assert data.startswith(b"\x1b@\x1c&")  # reset, then FS & (Chinese mode) before any text
    doc = read(data)
    assert not doc.commands("ESC t")  # python-escpos's text() would switch code pages: never used


def test_amounts_line_up_in_their_columns_whatever_the_names() -> None:
    doc = read(escpos_bytes(receipt(), 32))
    rows = [raw for raw in doc.raw_lines if raw.rstrip().endswith((b"25.00 \xbc\xd7", b"29.70", b"3.50 \xd2\xd2"))]
    assert len(rows) == 3
    # the amount always ends at column 29 (32 minus the 3-column 甲/乙 field), the mark right after it
    ends = {raw.rindex(amount) + len(amount) for raw in rows for amount in (b"25.00", b"29.70", b"3.50")
            if amount in raw}
    assert ends == {29}
    assert {raw.index(price) + len(price) for raw in rows for price in (b"12.50", b"9.90", b"3.50")
            if price in raw} == {19}  # and the unit price ends at 19
    assert any(raw.decode("gbk").endswith("甲") for raw in rows) and any(raw.decode("gbk").endswith("乙") for raw in rows)


def test_the_receipt_content() -> None:
    doc = read(escpos_bytes(receipt(), 42))
    text = "\n".join(doc.lines)
    for expected in ("丁点大药房（示范店）", "定点编号 P44030000001", "小票号 20261123-0042", "收款机 T01",
                     "收银员 张收银", "药师 李药师", "2026-11-23 10:30:00", "【处方药】", "【医疗器械】",
                     "【甲类非处方药】", "阿莫西林胶囊 0.25g*24粒", "合计（3 种 6 件）", "￥58.20", "￥100.00",
                     "找零", "￥41.80", "谢谢惠顾", "凭小票七日内退换"):
        assert expected in text, expected
    assert "重打" not in text and "医保结算" not in text
    # lines grouped by class, in the order the classes first appear
    assert text.index("【处方药】") < text.index("阿莫西林") < text.index("【医疗器械】") < text.index("口罩")
    assert [b.data for b in doc.barcodes] == ["{B20261123-0042"]  # CODE128 set B: the sale number for returns
    assert len(doc.cuts) == 1


def test_characters_the_printer_cannot_print_are_mapped_never_junk() -> None:
    text = "\n".join(read(escpos_bytes(receipt(), 42)).lines)
    assert "（￥特价）" in text and "¥" not in text  # ¥ (4-byte GB18030) → ￥ (two-byte GBK)
    assert "μg" in text and "×" in text  # µ → μ; × stays (two-byte)
    assert gbk.normalise("龦€™\x1b@") == "?EURTM @"  # a rare hanzi is a visible ?, ESC never reaches the printer
    assert gbk.width("×μ℃°") == 8  # double-width on paper although Unicode calls some of them narrow


def test_the_card_section_with_masked_id_and_signature_line() -> None:
    """CARD-05: a card sale's receipt shows the settlement split, the insured person (ID masked), a signature line."""
    card = CardSettlement(fund_fen=2000, personal_account_fen=1000, cash_fen=2820, balance_after_fen=12345,
                          insured_name="张三", insured_id_masked="4403**********1234", setl_id="S0001")
    text = "\n".join(read(escpos_bytes(receipt(card=card), 32)).lines)
    for expected in ("医保结算", "参保人", "张三", "4403**********1234", "统筹基金支付", "￥20.00", "个人账户支付",
                     "￥10.00", "现金支付", "￥28.20", "个人账户余额", "￥123.45", "购药人签名："):
        assert expected in text, expected


def test_a_reprint_carries_the_mark() -> None:
    lines = read(escpos_bytes(receipt(reprint=True), 32)).lines
    assert "重打" in lines[0]


@pytest.mark.parametrize("columns", [32, 42])
def test_the_preview_is_the_same_layout_as_the_paper(columns: int) -> None:
    paper = [ln.rstrip() for ln in read(escpos_bytes(receipt(), columns)).lines]
    shown = preview(receipt(), columns).splitlines()
    # the store's title (double width when it fits) and the barcode are drawn differently; the rest is the same
    title = ("丁 点", "丁点")
    assert [ln for ln in shown if not ln.lstrip().startswith(title) and "|||" not in ln and "(切纸)" not in ln] \
        == [ln for ln in paper if not ln.lstrip().startswith(title)]


def test_documents_survive_their_json_form() -> None:
    doc = receipt(card=CardSettlement(1, 2, 3, None, "张三", "1101****1234"))
    assert from_json(ReceiptDoc, to_json(doc)) == doc


def test_z_report_and_review_slip_print_the_same_way() -> None:
    z = ZReportDoc(STORE, "T01", 7, "2026-11-23", "2026-11-23 08:00:00", "2026-11-23 20:00:00", 20000, 12, 58200,
                   {"cash": 50000, "other": 8200}, 1, 350, 1, 990, {"cash": 990}, 69010, 69000, -10,
                   [{"name": "李药师", "on_at": "08:00", "off_at": "20:00"}], "2026-11-23 20:01:00", reprint=True)
    text = "\n".join(read(escpos_bytes(z, 32)).lines)
    for expected in ("重打", "交班报表", "班次 #7", "销售 12 笔", "￥582.00", "现金", "￥500.00", "应有现金",
                     "￥690.10", "实点现金", "￥690.00", "差额", "-￥0.10", "在岗药师 李药师"):
        assert expected in text, expected
    slip = RxReviewSlip(STORE, "T01", "RX20261123001", "王五", "4403**********5678", "赵医生", "深圳市人民医院",
                        "2026-11-23", [RxSlipLine("阿莫西林胶囊", "0.25g*24粒", 2, "盒", "口服 一次2粒 一日3次")],
                        "李药师", "通过", "2026-11-23 10:20:00", "剂量适宜")
    lines = read(escpos_bytes(slip, 32)).lines
    assert "处方审核单" in "\n".join(lines) and "4403**********5678" in "\n".join(lines)
    assert all(len(ln.encode("gbk")) <= 32 for ln in lines)
