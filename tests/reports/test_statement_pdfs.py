"""The card-purchase statement (ST-03) and the 外配处方 statement (RX-09) as PDFs for the paper file and the agency:
built from the rows the ledger's queries give (reports.queries' shapes, made here), the files reopened with
pdftotext (one page rendered with pdftoppm), every total recomputed from those raw rows — never from the report —
and every page headed, numbered "第 x 页 共 y 页" and carrying the table's header. Identity numbers: masked here; whole only in the
card statement's copy for the agency (tests/reports/test_statements.py reads it, from the API that audits it); the
外配处方 statement masks the patient in every copy (rx_pdf says why)."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from catalog.codes import id_check_char, mask_ids_in
from reports import card_statement, rx_statement
from reports.export import card_pdf, rx_pdf
from tests.reports.pdf_check import embedded_font, inked, missing_glyphs, needs_poppler, text

TZ = ZoneInfo("Asia/Shanghai")
STORE, CODE = "丁点大药房", "P44010000001"
AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
WHOLE_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
# two insured persons with valid 居民身份证号 (the check character computed, as a real card carries)
IDS = [f"{p}{id_check_char(p)}" for p in ("11010519491231002", "44010619800101123")]
ROWS = 45  # enough rows for the detail table to run over pages


def _settled(n: int) -> SimpleNamespace:
    """A settlement as reports.queries.card_settlements reads it: the money booked and the centre's answer."""
    fund, acct, cash = 1000 + n * 7, 300 + n, 200 + n % 5
    return SimpleNamespace(
        id=n + 1, setl_id=f"SETL{n:08d}", resolved_at=AT, insuplc_admdvs="440100" if n % 3 else "110105",
        answer={"setl_time": f"2026-11-{1 + n % 28:02d} 10:{n % 60:02d}:00", "insutype": "310" if n % 2 else "390",
                "clr_type": "41", "clr_optins": "440100", "hifp_pay": f"{(fund - 100) / 100:.2f}",
                "psn_part_amt": f"{(acct + cash) / 100:.2f}"},
        medfee_sumamt_fen=fund + acct + cash, fund_pay_fen=fund, acct_pay_fen=acct, cash_pay_fen=cash,
        lines=[{"feedetl_sn": "", "med_list_codg": "XJ01CAA040A001010100001", "cnt": "2",
                "det_item_fee_sumamt_fen": fund + acct + cash}],
        sale_no=f"S{n:05d}", psn_no=f"P{n % 2}", psn_name="张三" if n % 2 else "李四", certno=IDS[n % 2],
        insutype="", psn_type="11", rx_no=f"RX{n:04d}" if n % 4 == 0 else "", rx_institution="")


def _cancelled(r: SimpleNamespace) -> SimpleNamespace:
    """Its 2103 on a later day, as reports.queries.card_cancellations reads it."""
    body = '{"output": {"setlinfo": {"setl_id": "C' + r.setl_id + '", "setl_time": "2026-11-29 09:00:00"}}}'
    return SimpleNamespace(**vars(r), cancel_body=body, cancel_at=AT)


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settled = [_settled(n) for n in range(ROWS)]
    cancelled = [_cancelled(settled[4])]
    st = card_statement.build(settled, cancelled, {}, 1, FIRST, LAST, TZ, "440100")
    out = tmp_path_factory.mktemp("card")
    # the agency's copy (identity numbers whole) is written and read in test_statements' busy store, through the
    # API that audits it: one PDF less here (a PDF costs the suite most of a second)
    return {"settled": settled, "cancelled": cancelled, "masked": card_pdf.write(st, out / "card.pdf", STORE, CODE, AT,
                                                                                 TZ)}


def _flat(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _yuan(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):,.2f}"


def _one_page_inked(pdf: Path) -> int:
    """Page 1 rendered (one page only: the suite's time) and its ink counted."""
    stem = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(stem)], check=True, timeout=60)
    return inked(Image.open(f"{stem}.png").convert("L"))


def _paged(pdf: Path, title: str) -> list[str]:
    """Each page's text, checked for the page header (title, store), the footer and "第 x 页 共 y 页"."""
    pages = [p for p in text(pdf).split("\f") if p.strip()]
    for n, page in enumerate(pages, start=1):
        flat = _flat(page)
        assert title in flat and STORE in flat and "2026-11-01至2026-11-30" in flat, n
        assert f"第{n}页共{len(pages)}页" in flat, (n, flat[-80:])
    return pages


@needs_poppler
def test_the_card_statement_pdf_carries_the_ledgers_totals_on_numbered_pages(card: dict[str, Any]) -> None:
    pages = _paged(card["masked"], "医保刷卡购药结算对账单")
    assert len(pages) >= 2
    for n, page in enumerate(pages, start=1):  # the table's header repeated on every page that has its rows
        if "SETL" in page:
            assert "结算时间" in page and "结算流水号" in _flat(page) and "医疗费" in page, n
    everything = _flat("".join(pages))
    assert all(r.setl_id in everything for r in card["settled"])
    # the totals, recomputed from the raw rows: each settlement, less what its 2103 took back
    back = card["cancelled"][0]
    medfee = sum(r.medfee_sumamt_fen for r in card["settled"]) - back.medfee_sumamt_fen
    fund = sum(r.fund_pay_fen for r in card["settled"]) - back.fund_pay_fen
    acct = sum(r.acct_pay_fen for r in card["settled"]) - back.acct_pay_fen
    cash = sum(r.cash_pay_fen for r in card["settled"]) - back.cash_pay_fen
    assert medfee == fund + acct + cash
    for label, fen in (("医疗费总额", medfee), ("基金支付", fund), ("个人账户", acct), ("现金", cash)):
        assert f"{label}：{_yuan(fen)}元" in everything, label
    assert f"结算笔数：{ROWS}笔（撤销1笔）" in everything and "逐笔核对：平" in everything
    assert f"C{back.setl_id}" in everything and f"-{_yuan(back.medfee_sumamt_fen)}" in everything  # its own row
    groups = _flat(pages[-1] if "清算分组汇总" in pages[-1] else "".join(pages))
    assert "清算分组汇总" in groups and "异地" in groups and "本地" in groups
    last = _flat(pages[-1])
    assert all(f"{who}：" in last for who in ("制表人", "医保管理员", "门店负责人（盖章）")) and "签字：" in last
    assert "经办机构审核人" not in last
    assert _one_page_inked(card["masked"]) > 1000
    assert not missing_glyphs(embedded_font(card["masked"]), "".join(pages))  # Chinese as glyphs, not tofu


@needs_poppler
def test_identity_numbers_are_masked_in_the_card_statements_own_copy(card: dict[str, Any]) -> None:
    masked = text(card["masked"])
    assert not WHOLE_ID.findall(masked)
    assert "1101**********002X" in masked and mask_ids_in(IDS[1]) in masked
    assert "证件号码：已打码" in _flat(masked) and "报经办机构" not in masked


def _dispensed(n: int) -> SimpleNamespace:
    """A 外配处方 dispensed, as reports.queries.waipei_dispensed reads it."""
    return SimpleNamespace(sale_id=f"sale-{n}", sale_no=f"S{n:05d}", rx_id=n + 1, rx_no=f"WP{n:06d}",
                           institution_code=f"H44010{n % 3}", institution_name=f"广州市第{n % 3 + 1}人民医院",
                           doctor_name="陈医生", issued_on=date(2026, 11, 1 + n % 20), patient_name="王五",
                           patient_certno=IDS[n % 2], business_date=date(2026, 11, 2 + n % 20),
                           medfee_sumamt_fen=2400 + n, fund_pay_fen=1500 + n, acct_pay_fen=600, cash_pay_fen=300,
                           setl_status="settled")


@needs_poppler
def test_the_rx_statement_pdf_masks_the_patient_and_totals_per_institution(tmp_path: Path) -> None:
    dispensed = [_dispensed(n) for n in range(30)]
    lines = [SimpleNamespace(sale_id=d.sale_id, split=False, split_unit="", unit="盒", name="阿莫西林胶囊",
                             spec="0.25g×24粒", qty=1, amount_fen=d.medfee_sumamt_fen) for d in dispensed]
    back = dispensed[7]
    st = rx_statement.build(dispensed, [(back, date(2026, 11, 28))], lines,
                            {d.rx_id: SimpleNamespace(display_name="药师甲") for d in dispensed}, 1, FIRST, LAST)
    pdf = rx_pdf.write(st, tmp_path / "rx.pdf", STORE, CODE, AT, TZ)
    pages = _paged(pdf, "基本医疗保险外配处方费用统计表")
    everything = _flat("".join(pages))
    assert not WHOLE_ID.findall("".join(pages)) and "1101**********002X" in everything
    fund = sum(d.fund_pay_fen for d in dispensed) - back.fund_pay_fen
    medfee = sum(d.medfee_sumamt_fen for d in dispensed) - back.medfee_sumamt_fen
    assert f"基金支付：{_yuan(fund)}元" in everything and f"医疗费总额：{_yuan(medfee)}元" in everything
    assert "外配处方：30张（撤销冲减1张）" in everything
    for code in {d.institution_code for d in dispensed}:  # a total per prescribing institution, from the raw rows
        mine = [d for d in dispensed if d.institution_code == code]
        net = sum(d.fund_pay_fen for d in mine) - (back.fund_pay_fen if back in mine else 0)
        assert re.search(rf"（{code}）{len(mine)}{int(back in mine)}[\d,.]+?{re.escape(_yuan(net))}", everything), code
    assert "审方药师（质量负责人）：" in _flat(pages[-1]) and _one_page_inked(pdf) > 1000
