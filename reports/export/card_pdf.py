"""The card-purchase statement (ST-03) as a PDF for the paper file or the paper submission to the agency (landscape
A4): the store, its 定点 code, the period and the totals first, then one row per settlement (a 2103 its own negative
row), the subtotals by the centre's clearing groups, and the signature lines the agency's desk asks for; every page
headed with the title and the store and numbered "第 x 页 共 y 页", the table's header repeated on each page.

Identity numbers: masked, except in the agency's own submission (`unmasked`), which only its caller may ask for —
server.api.statements / server.cli_statements, after Action.REPORT_AGENCY_EXPORT and the audit entry
(server.services.agency_export). Money in 元 with two decimals, from the same figures the XLSX has."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

from reports.card_statement import MONEY_COLUMNS, CardStatement, Money, Subtotal
from reports.export.pdf import money
from reports.export.pdf_doc import Col, Document, Footer, Table

TITLE = "医保刷卡购药结算对账单"
# the money columns under their headings, as the centre splits a settlement
GROUPS = {"fulamt_ownpay": "自费部分", "overlmt_selfpay": "自费部分", "preselfpay": "自费部分", "hifp": "基金支付",
          "other_funds": "基金支付", "fund": "基金支付", "psn_part": "个人负担", "acct": "个人负担", "cash": "个人负担"}
SHORT = {"fund": "合计", "psn_part": "合计"}
SIGNERS = ("制表人", "医保管理员", "门店负责人（盖章）")
AGENCY_SIGNERS = ("经办机构审核人",)


def _money_cols() -> list[Col]:
    return [Col(SHORT.get(k, zh), group=GROUPS.get(k, ""), align="R") for k, zh in MONEY_COLUMNS]


def _money(m: Money) -> list[str]:
    return [money(getattr(m, k)) for k, _ in MONEY_COLUMNS]


def columns() -> list[Col]:
    return [Col("序", align="R", keep=True), Col("结算时间", keep=True), Col("类型"), Col("结算流水号", keep=True),
            Col("原结算流水号"), Col("姓名"), Col("证件号码"), Col("险种"), Col("人员类别"), Col("本地/异地"),
            *_money_cols(), Col("药品明细（品名 数量 金额）", wrap=70), Col("外配处方号"), Col("核对", wrap=40)]


def rows(st: CardStatement, unmasked: bool) -> list[list[str]]:
    out = []
    for n, r in enumerate(st.rows, start=1):
        when = r.setl_time.strftime("%Y-%m-%d %H:%M:%S") if r.setl_time else r.day.isoformat()
        out.append([str(n), when, "结算" if r.kind == "2102" else "撤销", r.setl_id, r.original_setl_id, r.psn_name,
                    r.certno_shown(unmasked), r.insutype, r.psn_type, "异地" if r.group.nonlocal_ else "本地",
                    *_money(r.money), "\n".join(f"{ln.name} {ln.qty} {money(ln.amount)}" for ln in r.lines),
                    r.rx_no, "；".join(r.problems) or "平"])
    return out


def _sub(s: Subtotal) -> list[str]:
    return [f"{s.settlements:,}", f"{s.cancellations:,}", *_money(s.money)]


def write(st: CardStatement, path: Path, store: str, store_code: str, generated_at: datetime, tz: tzinfo,
          unmasked: bool = False) -> Path:
    period = f"{st.start.isoformat()} 至 {st.end.isoformat()}"
    title = TITLE + ("（报经办机构）" if unmasked else "")
    doc = Document(title, Footer(store, period, generated_at, tz, pages_in_full=True), landscape=True, font_size=6.5)
    doc.heading(f"{title}（{period}）")
    t = st.total
    doc.fields([("定点药店", store), ("定点医药机构编码", store_code), ("结算期间", period),
                ("结算笔数", f"{t.settlements:,} 笔（撤销 {t.cancellations:,} 笔）"),
                ("医疗费总额", f"{money(t.money.medfee)} 元"), ("基金支付", f"{money(t.money.fund)} 元"),
                ("个人账户", f"{money(t.money.acct)} 元"), ("现金", f"{money(t.money.cash)} 元"),
                ("逐笔核对", "平" if not st.problems() else f"{len(st.problems())} 笔不平"),
                ("证件号码", "完整（报经办机构，导出已记入审计日志）" if unmasked else "已打码")], per_row=2)
    total_row = ["合计", "", "", "", "", "", "", "", "", "", *_money(t.money), "", "", ""]
    doc.table(Table("结算明细", columns(), rows(st, unmasked), [total_row],
                    "金额单位：元；撤销为负数行，注明原结算流水号；按中心结算时间排序"))
    group_cols = [Col("清算分组", keep=True, wrap=60), Col("险种"), Col("清算类别"), Col("清算经办机构"),
                  Col("本地/异地"), Col("结算笔数", align="R"), Col("撤销笔数", align="R"), *_money_cols()]
    doc.table(Table("清算分组汇总", group_cols,
                    [[g.label_zh, g.insutype, g.clr_type, g.clr_optins, "异地" if g.nonlocal_ else "本地", *_sub(s)]
                     for g, s in st.by_group], [["合计", "", "", "", "", *_sub(t)]],
                    "与每日对账的清算分组相同（险种 × 清算类别 × 清算经办机构 × 本地/异地）"))
    doc.signatures([(role, "", "日期：") for role in SIGNERS + (AGENCY_SIGNERS if unmasked else ())])
    return doc.save(path)
