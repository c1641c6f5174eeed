"""The card-purchase statement and the 外配处方 statement as tables (reports.export.tables writes them): the column
lists are here, once, for both files. Identity numbers are masked unless `unmasked` — the agency's export, which
only its caller (server.api.statements / the CLI, after the permission check and the audit entry) may ask for."""

from __future__ import annotations

from pathlib import Path

from catalog.codes import mask_id
from reports.card_statement import MONEY_COLUMNS, CardStatement, Money, StatementRow, Subtotal
from reports.export.tables import Col, Table, write_csv, write_xlsx
from reports.rx_statement import RxRow, RxStatement, RxTotal

_MONEY = tuple(Col(zh + "(元)", "money", 12) for _, zh in MONEY_COLUMNS)
CARD_ROW_COLUMNS = (
    Col("结算时间", width=20), Col("结算类型", width=10), Col("结算流水号(setl_id)", width=30),
    Col("原结算流水号", width=30), Col("销售单号", width=16), Col("姓名", width=10), Col("证件号码", width=22),
    Col("险种", width=8), Col("人员类别", width=8), Col("本地/异地", width=8), Col("清算类别", width=8),
    Col("清算经办机构", width=12), *_MONEY, Col("药品明细（品名 数量 金额）", width=50), Col("外配处方号", width=18),
    Col("开方机构", width=20), Col("核对", width=30))
GROUP_COLUMNS = (Col("清算分组", width=28), Col("险种", width=8), Col("清算类别", width=8), Col("清算经办机构", width=12),
                 Col("本地/异地", width=8), Col("结算笔数", "count", 10), Col("撤销笔数", "count", 10), *_MONEY)
DAY_COLUMNS = (Col("清算日期", width=12), *GROUP_COLUMNS)


def _money(m: Money) -> list[int]:
    return [getattr(m, k) for k, _ in MONEY_COLUMNS]


def _lines_text(r: StatementRow) -> str:
    return "；".join(f"{ln.name} {ln.qty} {ln.amount / 100:.2f}元" for ln in r.lines)


def card_row(r: StatementRow, unmasked: bool = False) -> list[object]:
    g = r.group
    return [r.setl_time.strftime("%Y-%m-%d %H:%M:%S") if r.setl_time else r.day.isoformat(),
            "结算" if r.kind == "2102" else "撤销", r.setl_id, r.original_setl_id, r.sale_no, r.psn_name,
            r.certno_shown(unmasked), r.insutype, r.psn_type, "异地" if g.nonlocal_ else "本地", g.clr_type,
            g.clr_optins, *_money(r.money), _lines_text(r), r.rx_no, r.rx_institution, "；".join(r.problems) or "平"]


def _sub(s: Subtotal) -> list[object]:
    return [s.settlements, s.cancellations, *_money(s.money)]


def card_tables(st: CardStatement, unmasked: bool = False) -> list[Table]:
    total = st.total
    rows = Table("结算明细", CARD_ROW_COLUMNS, [card_row(r, unmasked) for r in st.rows],
                 ["合计", *[None] * 11, *_money(total.money), None, None, None, None])
    groups = Table("清算分组汇总", GROUP_COLUMNS,
                   [[g.label_zh, g.insutype, g.clr_type, g.clr_optins, "异地" if g.nonlocal_ else "本地", *_sub(s)]
                    for g, s in st.by_group], ["合计", None, None, None, None, *_sub(total)])
    days = Table("按日清算分组", DAY_COLUMNS,
                 [[d.isoformat(), g.label_zh, g.insutype, g.clr_type, g.clr_optins, "异地" if g.nonlocal_ else "本地",
                   *_sub(s)] for d, g, s in st.by_day_group], ["合计", None, None, None, None, None, *_sub(total)])
    return [rows, groups, days]


RX_COLUMNS = (
    Col("处方号", width=18), Col("开方机构", width=20), Col("机构编码", width=16), Col("开方医师", width=10),
    Col("处方日期", width=12), Col("患者", width=10), Col("证件号码", width=22), Col("调剂日期", width=12),
    Col("撤销日期", width=12),
    Col("销售单号", width=16), Col("审方药师", width=10), Col("药品（品名 数量 金额）", width=50),
    Col("处方药品金额(元)", "money", 12), Col("医疗费总额(元)", "money", 12), Col("基金支付(元)", "money", 12),
    Col("个人账户(元)", "money", 12), Col("现金(元)", "money", 12), Col("状态", width=10))
RX_TOTAL_COLUMNS = (Col("开方机构", width=30), Col("处方数", "count", 10), Col("撤销数", "count", 10),
                    Col("处方药品金额(元)", "money", 12), Col("医疗费总额(元)", "money", 12),
                    Col("基金支付(元)", "money", 12), Col("个人账户(元)", "money", 12), Col("现金(元)", "money", 12))


def rx_row(r: RxRow) -> list[object]:
    return [r.rx_no, r.institution_name, r.institution_code, r.doctor, r.issued_on.isoformat(), r.patient_name,
            mask_id(r.patient_certno), r.dispensed_on.isoformat(), r.reversed_on.isoformat() if r.reversed_on else "",
            r.sale_no, r.pharmacist,
            "；".join(f"{n} {q} {a / 100:.2f}元" for n, q, a in r.items), r.amount, r.medfee, r.fund, r.acct, r.cash,
            r.status_zh]


def _rx_total(t: RxTotal) -> list[object]:
    return [t.label, t.prescriptions, t.cancelled, t.amount, t.medfee, t.fund, t.acct, t.cash]


def rx_tables(st: RxStatement) -> list[Table]:
    t = st.total
    rows = Table("外配处方明细", RX_COLUMNS, [rx_row(r) for r in st.rows],
                 ["合计", *[None] * 11, t.amount, t.medfee, t.fund, t.acct, t.cash, None])
    per = Table("按开方机构汇总", RX_TOTAL_COLUMNS, [_rx_total(x) for x in st.by_institution], _rx_total(t))
    return [rows, per]


def write_card(st: CardStatement, path: Path, fmt: str, unmasked: bool = False) -> Path:
    tables = card_tables(st, unmasked)
    if fmt == "csv":
        return write_csv(tables, path)
    return write_xlsx(tables, path, f"医保刷卡购药结算对账单 {st.start.isoformat()} — {st.end.isoformat()}")


def write_rx(st: RxStatement, path: Path, fmt: str) -> Path:
    tables = rx_tables(st)
    if fmt == "csv":
        return write_csv(tables, path)
    return write_xlsx(tables, path, f"基本医疗保险外配处方费用统计表 {st.start.isoformat()} — {st.end.isoformat()}")
