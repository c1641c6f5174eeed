"""The one layout of every printed document; the output (preview or printer) is a parameter.

Columns are printed bytes (gbk.width): 32 on 58 mm paper, 42–48 on 80 mm.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.printer import gbk
from devices.printer.documents import LabelSheet, QrSheet, ReceiptDoc, RxReviewSlip, ZReportDoc
from devices.printer.output import EscposOutput, Output, PreviewOutput

REPRINT_MARK = "** 重打 REPRINT **"
TENDER_LABELS = {"cash": "现金", "other": "其他支付", "insurance": "医保"}
# Receipt lines: an indent, then quantity, unit price, amount and the 医保 mark in fixed columns.
W_INDENT, W_PRICE, W_AMOUNT, W_MARK = 2, 9, 10, 3


def yuan(fen: int, sign: bool = False) -> str:
    """Integer fen as yuan with two decimals; ￥ (two-byte) when asked."""
    neg = fen < 0
    text = f"{abs(fen) // 100}.{abs(fen) % 100:02d}"
    return ("-" if neg else "") + ("￥" if sign else "") + text


def _center(out: Output, text: str) -> None:
    out.line(gbk.pad(text, out.columns, "center").rstrip())


def _title(out: Output, text: str) -> None:
    half = out.columns // 2  # double width: each byte takes two columns
    if gbk.width(text) <= half:
        out.line(gbk.pad(text, half, "center").rstrip(), bold=True, big=True)
    else:  # a long store name is printed whole at normal size rather than cut
        for part in gbk.wrap(text, out.columns):
            out.line(gbk.pad(part, out.columns, "center").rstrip(), bold=True)


def _rule(out: Output, char: str = "-") -> None:
    out.line(char * out.columns)


def _pair(out: Output, left: str, right: str, bold: bool = False) -> None:
    """`left` … `right` on one line; on two (right-aligned below) when they do not fit with a space between."""
    if gbk.width(left) + 1 + gbk.width(right) <= out.columns:
        out.line(gbk.spread(left, right, out.columns), bold=bold)
        return
    for part in gbk.wrap(left, out.columns):
        out.line(part, bold=bold)
    out.line(gbk.pad(right, out.columns, "right"), bold=bold)


def _wrapped(out: Output, text: str, indent: int = 0) -> None:
    for part in gbk.wrap(text, out.columns - indent):
        out.line(" " * indent + part)


def _header(out: Output, doc_title: str, store_name: str, code: str, reprint: bool) -> None:
    if reprint:
        out.line(gbk.pad(REPRINT_MARK, out.columns, "center").rstrip(), bold=True)
    _title(out, store_name)
    _center(out, f"定点编号 {code}")
    _center(out, doc_title)
    _rule(out)


def render_receipt(doc: ReceiptDoc, out: Output) -> None:
    c = out.columns
    _header(out, "销售小票", doc.store.name, doc.store.fixmedins_code, doc.reprint)
    _pair(out, f"小票号 {doc.sale_no}", f"收款机 {doc.till_code}")
    out.line(f"时间 {doc.completed_at}")
    _pair(out, f"收银员 {doc.cashier}", f"药师 {doc.pharmacist or '无'}")
    _rule(out)
    w_qty = c - W_INDENT - W_PRICE - W_AMOUNT - W_MARK
    out.line("品名/规格")
    out.line(" " * W_INDENT + gbk.pad("数量", w_qty, "right") + gbk.pad("单价", W_PRICE, "right")
             + gbk.pad("金额", W_AMOUNT, "right") + gbk.pad("类", W_MARK, "right"))
    for label, lines in _grouped(doc):
        out.line(f"【{label}】", bold=True)
        for ln in lines:
            _wrapped(out, f"{ln.name} {ln.spec}".strip())
            out.line(" " * W_INDENT + gbk.pad(f"{ln.qty}{ln.unit}", w_qty, "right")
                     + gbk.pad(yuan(ln.unit_price_fen), W_PRICE, "right")
                     + gbk.pad(yuan(ln.amount_fen), W_AMOUNT, "right")
                     + gbk.pad(ln.insurance_mark, W_MARK, "right"))
    _rule(out)
    count = sum(ln.qty for ln in doc.lines)
    _pair(out, f"合计（{len(doc.lines)} 种 {count} 件）", yuan(doc.total_fen, sign=True), bold=True)
    for t in doc.tenders:
        shown = t.tendered_fen if t.kind == "cash" else t.amount_fen
        _pair(out, t.label or TENDER_LABELS.get(t.kind, t.kind), yuan(shown, sign=True))
    if doc.change_fen:
        _pair(out, "找零", yuan(doc.change_fen, sign=True))
    if doc.card is not None:
        card = doc.card
        _rule(out)
        _center(out, "医保结算")
        _pair(out, "参保人", card.insured_name)
        _pair(out, "证件号", card.insured_id_masked)
        if card.insurance_region:
            _pair(out, "参保地", card.insurance_region)
        _pair(out, "统筹基金支付", yuan(card.fund_fen, sign=True))
        _pair(out, "个人账户支付", yuan(card.personal_account_fen, sign=True))
        _pair(out, "现金支付", yuan(card.cash_fen, sign=True))
        if card.balance_after_fen is not None:
            _pair(out, "个人账户余额", yuan(card.balance_after_fen, sign=True))
        if card.setl_id:
            _pair(out, "结算号", card.setl_id)
        if card.buyer_name:  # RX-11: the proxy buyer and their document
            _pair(out, "代购人", card.buyer_name)
            _pair(out, "代购人证件", card.buyer_id_masked)
        if card.signed:
            _pair(out, "签字确认", card.signed)
        if card.signature_line:  # CARD-05: the buyer signs for a card purchase
            out.line()
            out.line(gbk.fit("购药人签名：" + "_" * c, c))
    _rule(out)
    out.barcode(doc.sale_no)
    if doc.footer:
        for part in doc.footer.splitlines():
            for piece in gbk.wrap(part, c):
                _center(out, piece)
    out.cut()


def _grouped(doc: ReceiptDoc) -> Iterable[tuple[str, list]]:
    groups: dict[str, tuple[str, list]] = {}
    for ln in doc.lines:  # in the order the classes first appear on the sale
        groups.setdefault(ln.gsp_class, (ln.gsp_class_label, []))[1].append(ln)
    return groups.values()


def render_z_report(doc: ZReportDoc, out: Output) -> None:
    _header(out, "交班报表（Z 报表）", doc.store.name, doc.store.fixmedins_code, doc.reprint)
    _pair(out, f"收款机 {doc.till_code}", f"班次 #{doc.shift_id}")
    _pair(out, "营业日", doc.business_date)
    _pair(out, "开班", doc.opened_at)
    _pair(out, "结班", doc.closed_at or "未结班")
    for p in doc.pharmacists:
        _pair(out, f"在岗药师 {p.get('name') or ''}", f"{p.get('on_at') or ''}~{p.get('off_at') or ''}")
    _rule(out)
    _pair(out, f"销售 {doc.sales_count} 笔", yuan(doc.sales_fen, sign=True), bold=True)
    for kind, amount in sorted(doc.by_tender.items()):
        _pair(out, f"  {TENDER_LABELS.get(kind, kind)}", yuan(amount, sign=True))
    _pair(out, f"作废 {doc.voids_count} 笔", yuan(doc.voids_fen, sign=True))
    _pair(out, f"退货 {doc.returns_count} 笔", yuan(doc.returns_fen, sign=True))
    for kind, amount in sorted(doc.refunds_by_tender.items()):
        _pair(out, f"  退{TENDER_LABELS.get(kind, kind)}", yuan(amount, sign=True))
    _rule(out)
    _pair(out, "备用金", yuan(doc.float_fen, sign=True))
    _pair(out, "应有现金", yuan(doc.cash_expected_fen, sign=True), bold=True)
    _pair(out, "实点现金", "—" if doc.counted_cash_fen is None else yuan(doc.counted_cash_fen, sign=True))
    _pair(out, "差额", "—" if doc.variance_fen is None else yuan(doc.variance_fen, sign=True), bold=True)
    _rule(out)
    if doc.audit_anchor:  # whole, in lines of the paper's width: typed back to `audit verify --anchor`
        out.line("审计链锚点 audit anchor")
        for start in range(0, len(doc.audit_anchor), out.columns):
            out.line(doc.audit_anchor[start:start + out.columns])
    if doc.printed_at:
        out.line(f"打印时间 {doc.printed_at}")
    out.line()
    out.line(gbk.fit("收银员签名：" + "_" * out.columns, out.columns))
    out.cut()


def render_rx_slip(doc: RxReviewSlip, out: Output) -> None:
    _header(out, "处方审核单", doc.store.name, doc.store.fixmedins_code, doc.reprint)
    _pair(out, "处方号", doc.rx_no)
    _pair(out, "患者", doc.patient_name)
    _pair(out, "证件号", doc.patient_id_masked)
    _pair(out, "开方医师", doc.prescriber)
    _wrapped(out, f"开方机构 {doc.institution}")
    _pair(out, "开方日期", doc.issued_on)
    _rule(out)
    for ln in doc.lines:
        _wrapped(out, f"{ln.name} {ln.spec}".strip())
        _pair(out, f"  {ln.usage}", f"{ln.qty}{ln.unit}")
    _rule(out)
    _pair(out, "审核药师", doc.pharmacist)
    _pair(out, "审核结论", doc.verdict, bold=True)
    if doc.opinion:
        _wrapped(out, f"审核意见 {doc.opinion}")
    _pair(out, "审核时间", doc.reviewed_at)
    if doc.sale_no:
        _pair(out, "小票号", doc.sale_no)
    out.line()
    out.line(gbk.fit("药师签名：" + "_" * out.columns, out.columns))
    out.cut()


def render_labels(doc: LabelSheet, out: Output) -> None:
    """Each label on its own cut: the class mark and the 医保 mark first and bold (GSP-04), the name large, the
    price large, the barcode's digits and the day it was printed."""
    for lab in doc.labels:
        _pair(out, f"[{lab.class_mark}]", f"[{lab.insurance_mark}]" if lab.insurance_mark else "", bold=True)
        _title(out, lab.name)
        if lab.spec:
            _wrapped(out, f"规格 {lab.spec}")
        if lab.maker:
            _wrapped(out, lab.maker)
        price = f"{yuan(lab.price_fen, sign=True)}/{lab.unit}"
        out.line(gbk.pad(price, out.columns // 2, "right").rstrip(), bold=True, big=True)
        _pair(out, lab.barcode, doc.printed_on)
        out.cut()


def render_qr_codes(doc: QrSheet, out: Output) -> None:
    """Each code on its own cut: the store, the title, the QR, the code in text under it (typed if the QR will
    not scan)."""
    for code in doc.codes:
        out.line(gbk.pad(doc.store.name, out.columns, "center").rstrip(), bold=True)
        _wrapped(out, doc.title)
        out.qr(code)
        out.line(gbk.pad(code, out.columns, "center").rstrip())
        out.cut()


Document = ReceiptDoc | ZReportDoc | RxReviewSlip | LabelSheet | QrSheet


def render(doc: Document, out: Output) -> None:
    if isinstance(doc, ReceiptDoc):
        render_receipt(doc, out)
    elif isinstance(doc, ZReportDoc):
        render_z_report(doc, out)
    elif isinstance(doc, LabelSheet):
        render_labels(doc, out)
    elif isinstance(doc, QrSheet):
        render_qr_codes(doc, out)
    else:
        render_rx_slip(doc, out)


def preview(doc: Document, columns: int) -> str:
    out = PreviewOutput(columns)
    render(doc, out)
    return out.text


def escpos_bytes(doc: Document, columns: int) -> bytes:
    """The document as the bytes a Chinese-mode ESC/POS printer prints (python-escpos Dummy collects them)."""
    from escpos.printer import Dummy  # loaded on the first receipt, not at the service's start

    dummy = Dummy()
    render(doc, EscposOutput(dummy, columns))
    return dummy.output
