"""The 外配处方 statement (RX-09, 基本医疗保险外配处方费用统计表) as a PDF for the paper file and the submission
(landscape A4): the store, its 定点 code, the period and the totals, one row per 外配处方 dispensed (a cancellation
its own negative row), the totals per prescribing institution, and the signature lines; every page headed with the
title and the store and numbered "第 x 页 共 y 页", the table's header repeated on each page.

The patient's identity number is masked in every copy, the submission included: the issue names this statement's
patient "masked", and the agency finds a prescription by its 处方号 and the settlement by its setl_id — unlike the
card statement, no agency copy carries it whole."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

from catalog.codes import mask_id
from reports.export.pdf import money
from reports.export.pdf_doc import Col, Document, Footer, Table
from reports.rx_statement import RxRow, RxStatement, RxTotal

TITLE = "基本医疗保险外配处方费用统计表"
SIGNERS = ("制表人", "审方药师（质量负责人）", "医保管理员", "门店负责人（盖章）")
MONEY = (Col("处方药品金额", align="R"), Col("医疗费总额", align="R"), Col("合计", group="医保结算", align="R"),
         Col("基金支付", group="医保结算", align="R"), Col("个人账户", group="医保结算", align="R"),
         Col("现金", group="医保结算", align="R"))


def columns() -> list[Col]:
    return [Col("序", align="R", keep=True), Col("处方号", keep=True), Col("开方机构", wrap=40), Col("机构编码"),
            Col("开方医师"), Col("处方日期"), Col("患者"), Col("证件号码"), Col("调剂日期"), Col("撤销日期"),
            Col("销售单号"), Col("审方药师"), Col("药品（品名 数量 金额）", wrap=70), *MONEY, Col("状态")]


def _figures(amount: int, medfee: int, fund: int, acct: int, cash: int) -> list[str]:
    # 合计 is what the card settled (基金 + 个人账户 + 现金); 医疗费总额 the settlement's own figure beside it
    return [money(amount), money(medfee), money(fund + acct + cash), money(fund), money(acct), money(cash)]


def row(n: int, r: RxRow) -> list[str]:
    return [str(n), r.rx_no, r.institution_name, r.institution_code, r.doctor, r.issued_on.isoformat(), r.patient_name,
            mask_id(r.patient_certno), r.dispensed_on.isoformat(), r.reversed_on.isoformat() if r.reversed_on else "",
            r.sale_no, r.pharmacist, "\n".join(f"{name} {q} {money(a)}" for name, q, a in r.items),
            *_figures(r.amount, r.medfee, r.fund, r.acct, r.cash), r.status_zh]


def _total(t: RxTotal) -> list[str]:
    return [t.label, f"{t.prescriptions:,}", f"{t.cancelled:,}", *_figures(t.amount, t.medfee, t.fund, t.acct, t.cash)]


def write(st: RxStatement, path: Path, store: str, store_code: str, generated_at: datetime, tz: tzinfo) -> Path:
    period = f"{st.start.isoformat()} 至 {st.end.isoformat()}"
    doc = Document(TITLE, Footer(store, period, generated_at, tz, pages_in_full=True), landscape=True, font_size=6.5)
    doc.heading(f"{TITLE}（{period}）")
    t = st.total
    doc.fields([("定点药店", store), ("定点医药机构编码", store_code), ("统计期间", period),
                ("外配处方", f"{t.prescriptions:,} 张（撤销冲减 {t.cancelled:,} 张）"),
                ("处方药品金额", f"{money(t.amount)} 元"), ("医疗费总额", f"{money(t.medfee)} 元"),
                ("基金支付", f"{money(t.fund)} 元"), ("个人账户 / 现金", f"{money(t.acct)} 元 / {money(t.cash)} 元"),
                ("开方机构", f"{len(st.by_institution)} 家"), ("证件号码", "已打码")], per_row=2)
    totals = [["合计", *[""] * 12, *_figures(t.amount, t.medfee, t.fund, t.acct, t.cash), ""]]
    doc.table(Table("外配处方明细", columns(), [row(n, r) for n, r in enumerate(st.rows, start=1)], totals,
                    "金额单位：元；撤销冲减为负数行，按中心撤销日期计入本期"))
    doc.table(Table("按开方机构汇总", [Col("开方机构", keep=True, wrap=80), Col("处方数", align="R"),
                                    Col("撤销数", align="R"), *MONEY],
                    [_total(x) for x in st.by_institution], [_total(t)]))
    doc.signatures([(role, "", "日期：") for role in SIGNERS])
    return doc.save(path)
