"""The printable stock documents (issue #19) on the shared PDF writer (pdf_doc), A4 upright, in Chinese: the
receipt with its 验收 record, the count sheet to count on (blind: no book, a blank to write the count in), the
count's result, and the loss / destruction record with its witnesses. Each says who did each step (from the
document) beside a line to sign by hand, and its 核验码 (reports.documents.fingerprint); times in the store's
time zone."""

from __future__ import annotations

from datetime import datetime, tzinfo

from reports.documents import CountDoc, Goods, LossDoc, ReceiptDoc, Signed, fingerprint
from reports.export.pdf import money, qty
from reports.export.pdf_doc import Col, Document, Footer, Table

OUTCOMES = {"accepted": "合格", "rejected": "拒收", "quarantine": "待验", "pending": "未验收"}
RECEIPT_STATUS = {"draft": "待验收", "inspected": "已验收待审核", "approved": "已审核入库"}
COUNT_STATUS = {"open": "盘点中", "submitted": "已提交待审核", "posted": "已审核过账"}
LOSS_KINDS = {"damage": "报损单", "expiry_writeoff": "过期报损单", "destruction": "药品销毁记录",
              "recall": "召回退回单"}
LOCATIONS = {"sellable": "合格品库", "quarantine": "待验/不合格区"}
GOODS_COLS = [Col("商品编码", keep=True), Col("通用名", keep=True, wrap=30), Col("规格", wrap=18),
              Col("生产企业", wrap=26)]


def _when(at: datetime | None, tz: tzinfo) -> str:
    return f"{at.astimezone(tz):%Y-%m-%d %H:%M}" if at else ""


def _goods(g: Goods) -> list[str]:
    return [g.code, g.name, g.spec, g.manufacturer]


def _row(width: int, cells: dict[int, str]) -> list[str]:
    """A totals row: the cells given by column index, the rest blank."""
    return [cells.get(i, "") for i in range(width)]


def _signing(tz: tzinfo, *steps: tuple[str, Signed]) -> list[tuple[str, str, str]]:
    return [(role, s.name, _when(s.at, tz)) for role, s in steps]


def receipt(d: ReceiptDoc, store: str, generated_at: datetime, tz: tzinfo) -> Document:
    opening = d.kind == "opening"
    title = "期初盘点入库单" if opening else "药品采购入库验收单"
    doc = Document(f"{title} #{d.id}", Footer(store, f"到货日期 {d.business_date.isoformat()}", generated_at, tz),
                   landscape=True, font_size=7.5)  # a 验收 record has many columns: one part across, not two
    doc.heading(f"{title}（#{d.id}）")
    pairs = [("单号", str(d.id)), ("状态", RECEIPT_STATUS.get(d.status, d.status)),
             ("到货日期", d.business_date.isoformat())]
    if not opening:
        pairs += [("供应商", d.supplier), ("药品经营许可证", d.supplier_licence),
                  ("统一社会信用代码", d.supplier_credit_code), ("随货同行单号", d.dynt_no), ("发票号", d.purc_invo_no)]
    if d.note:
        pairs.append(("备注", d.note))
    doc.fields([*pairs, ("核验码", fingerprint(d))])
    cols = [Col("行", align="R", keep=True), *GOODS_COLS, Col("批准文号"), Col("批号"), Col("生产日期"),
            Col("有效期至"), Col("数量", align="R"), Col("单位"), Col("单价(元)", align="R"), Col("金额(元)", align="R"),
            Col("库区"), Col("验收结论"), Col("原因", wrap=28), Col("批次号"), Col("追溯码", align="R")]
    rows = [[str(ln.line_no), *_goods(ln.goods), ln.approval_no, ln.goods.lot_no, ln.manufactured_on.isoformat(),
             ln.goods.expires_on.isoformat() if ln.goods.expires_on else "",
             qty(ln.qty) + (f"+{ln.loose}{ln.split_unit}" if ln.loose else ""), ln.goods.unit,
             money(ln.unit_cost_fen), money(ln.amount_fen), ln.zone, OUTCOMES.get(ln.outcome, ln.outcome),
             ln.reason, ln.goods.batch_no, str(ln.trace_codes) if ln.trace_codes else ""] for ln in d.lines]
    by: dict[str, tuple[int, int]] = {}
    for ln in d.lines:
        n, a = by.get(ln.outcome, (0, 0))
        by[ln.outcome] = (n + ln.qty, a + ln.amount_fen)
    totals = [_row(len(cols), {0: "合计", 9: qty(sum(ln.qty for ln in d.lines)),
                               12: money(sum(ln.amount_fen for ln in d.lines))})]
    totals += [_row(len(cols), {0: OUTCOMES.get(k, k), 9: qty(n), 12: money(a)}) for k, (n, a) in sorted(by.items())]
    doc.table(Table("入库明细与验收记录", cols, rows, totals, "数量为件（包装单位）；金额单位：元"))
    doc.signatures(_signing(tz, ("录入人" if not opening else "盘点人", d.entered), ("验收员", d.inspected),
                            ("审核人（质量负责人）", d.approved)))
    return doc


def count_sheet(d: CountDoc, store: str, generated_at: datetime, tz: tzinfo) -> Document:
    """The sheet to count on: what to count, where, and a blank for the count — never the book (a blind count by
    construction: the counter writes what is there, not what should be)."""
    doc = Document(f"盘点表 #{d.id}", Footer(store, f"快照 {_when(d.snapshot_at, tz)}", generated_at, tz), font_size=8)
    doc.heading(f"盘点表（#{d.id}）")
    doc.fields([("盘点单号", str(d.id)), ("盘点区域", d.zone), ("快照时间", _when(d.snapshot_at, tz)),
                ("方式", "盲盘" if d.blind else "明盘（打印表不显示账面数）"), ("备注", d.note or "—"),
                ("核验码", fingerprint(d))])
    cols = [Col("序", align="R", keep=True), *GOODS_COLS, Col("批次号"), Col("批号"), Col("有效期至"), Col("单位"),
            Col("实盘数量", width=26), Col("备注", width=36)]
    rows = [[str(n), *_goods(ln.goods), ln.goods.batch_no, ln.goods.lot_no,
             ln.goods.expires_on.isoformat() if ln.goods.expires_on else "", ln.goods.unit, "", ""]
            for n, ln in enumerate(d.lines, start=1)]
    doc.table(Table("盘点明细", cols, rows, (), "实盘数量按最小销售单位填写", row_height=7))
    doc.signatures([("盘点人", "", ""), ("复核人", "", "")])
    return doc


def count_result(d: CountDoc, store: str, generated_at: datetime, tz: tzinfo) -> Document:
    doc = Document(f"盘点结果 #{d.id}", Footer(store, f"快照 {_when(d.snapshot_at, tz)}", generated_at, tz),
                   font_size=7.5)
    doc.heading(f"盘点结果（盘盈盘亏）表（#{d.id}）")
    doc.fields([("盘点单号", str(d.id)), ("状态", COUNT_STATUS.get(d.status, d.status)), ("盘点区域", d.zone),
                ("快照时间", _when(d.snapshot_at, tz)), ("方式", "盲盘" if d.blind else "明盘"), ("备注", d.note or "—"),
                ("核验码", fingerprint(d))])
    cols = [*GOODS_COLS, Col("批次号", keep=True), Col("批号"), Col("有效期至"), Col("单位"), Col("账面数量", align="R"),
            Col("实盘数量", align="R"), Col("差异", align="R"), Col("差异成本(元)", align="R"), Col("原因", wrap=26),
            Col("盘点人", wrap=36)]

    def num(v: int | None) -> str:
        return "—" if v is None else f"{v:,}"

    rows = [[*_goods(ln.goods), ln.goods.batch_no, ln.goods.lot_no,
             ln.goods.expires_on.isoformat() if ln.goods.expires_on else "", ln.goods.unit, num(ln.book_qty),
             num(ln.counted_qty), num(ln.variance) if ln.variance else ("0" if ln.variance == 0 else "—"),
             "—" if ln.cost_fen is None else money(ln.cost_fen, blank_zero=True), ln.reason, ln.counted_by]
            for ln in d.lines]
    gains = sum(v for ln in d.lines if (v := ln.variance or 0) > 0)
    losses = sum(v for ln in d.lines if (v := ln.variance or 0) < 0)
    cost = sum(ln.cost_fen or 0 for ln in d.lines)
    totals = [_row(len(cols), {0: "盘盈合计", 10: qty(gains)}), _row(len(cols), {0: "盘亏合计", 10: qty(losses)}),
              _row(len(cols), {0: "差异成本合计", 11: money(cost)})]
    doc.table(Table("盘点明细", cols, rows, totals, "数量为最小销售单位；差异=实盘−账面；差异成本为过账时记入账本的成本"))
    doc.signatures(_signing(tz, ("制单人", d.created), ("提交人（盘点人）", d.submitted), ("审核过账人", d.posted)))
    return doc


def loss(d: LossDoc, store: str, generated_at: datetime, tz: tzinfo) -> Document:
    title = LOSS_KINDS.get(d.kind, "报损单")
    doc = Document(f"{title} #{d.id}", Footer(store, f"业务日期 {d.business_date.isoformat()}", generated_at, tz),
                   font_size=7.5)
    doc.heading(f"{title}（#{d.id}）")
    pairs = [("单号", str(d.id)), ("业务日期", d.business_date.isoformat()), ("原因", d.reason)]
    if d.method:
        pairs.append(("销毁方式", d.method))
    if d.recall:
        pairs.append(("召回", d.recall))
    doc.fields([*pairs, ("核验码", fingerprint(d))])
    cols = [*GOODS_COLS, Col("批次号", keep=True), Col("批号"), Col("有效期至"), Col("数量", align="R"), Col("单位"),
            Col("库位"), Col("成本(元)", align="R"), Col("零售(元)", align="R")]
    rows = [[*_goods(ln.goods), ln.goods.batch_no, ln.goods.lot_no,
             ln.goods.expires_on.isoformat() if ln.goods.expires_on else "", qty(ln.qty), ln.goods.unit,
             LOCATIONS.get(ln.location, ln.location), money(ln.cost_fen), money(ln.retail_fen)] for ln in d.lines]
    totals = [_row(len(cols), {0: "合计", 7: qty(sum(ln.qty for ln in d.lines)),
                               10: money(sum(ln.cost_fen for ln in d.lines)),
                               11: money(sum(ln.retail_fen for ln in d.lines))})]
    doc.table(Table("明细", cols, rows, totals, "数量为最小销售单位；金额为出库时记入账本的金额（元）"))
    people = [("经办人", d.created)] + [(f"监督人{n}", w) for n, w in enumerate(d.witnesses, start=1)]
    if d.kind == "destruction" and len(d.witnesses) < 2:
        people += [(f"监督人{n}", Signed()) for n in range(len(d.witnesses) + 1, 3)]
    doc.signatures(_signing(tz, *people))
    return doc
