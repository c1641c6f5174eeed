"""The row each outbox entry sends (reference §4): built from the ledger's documents when it is first sent, then
frozen on the entry, so every retry sends the same bytes (the centre deduplicates by content).

Quantities are in the item's unit (最小计价包装单位): whole packs when the stock moved is a whole number of packs
(trdn_flag 0), else the split units themselves (拆零, trdn_flag 1) — never a rounded fraction, so the centre's
count × price gives back the fen we hold. Prices are that amount over that count, to six places (N16,6).
`memo` carries our document line ("dd:<key>"): two facts alike in every field stay two facts at the centre.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session, col, select

from catalog.classes import GspClass
from server.db.models import (
    Batch,
    CardSettlement,
    Item,
    Prescription,
    Receipt,
    ReceiptLine,
    RxReview,
    Sale,
    SaleInsured,
    SaleLine,
    SaleReturn,
    SaleTraceCode,
    SettlementStatus,
    StaffProfile,
    Supplier,
    SupplierReturn,
    SupplierReturnLine,
    User,
)
from server.insurance.dicts import TRDN_SPLIT, TRDN_WHOLE
from server.services.context import Ctx

DT = "%Y-%m-%d %H:%M:%S"
_SIX = Decimal("0.000001")


def _local(ctx: Ctx, at: datetime | None) -> str:
    return at.astimezone(ctx.settings.store.tz).strftime(DT) if at else ""


def _day(d: date | None) -> str:
    return d.isoformat() if d else ""


def count_of(item: Item, qty: int) -> tuple[Decimal, str]:
    """(cnt, trdn_flag) of `qty` split units: whole packs, or the split units themselves (拆零)."""
    ratio = max(int(item.split_ratio), 1)
    if qty % ratio == 0:
        return Decimal(qty // ratio), TRDN_WHOLE
    return Decimal(qty), TRDN_SPLIT


def price_of(amount_fen: int, cnt: Decimal) -> Decimal:
    """The unit price that gives back `amount_fen` over `cnt` (to six places)."""
    if cnt == 0:
        return Decimal(0)
    return (Decimal(amount_fen) / 100 / cnt).quantize(_SIX, rounding=ROUND_HALF_UP)


def amount_of(cnt: Any, pric: Any) -> int:
    """What the centre sums for a row: count × price, in fen, rounded half up (the completeness query's amount)."""
    return int((Decimal(str(cnt)) * Decimal(str(pric)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _name(s: Session, user_id: int | None) -> str:
    user = s.get(User, user_id) if user_id is not None else None
    return user.display_name if user else ""


def _common(row: Any, item: Item, batch: Batch) -> dict[str, Any]:
    return {"med_list_codg": item.nhsa_code or "", "fixmedins_hilist_id": item.code,
            "fixmedins_hilist_name": item.name, "fixmedins_bchno": batch.batch_no,
            "rx_flag": "1" if item.gsp_class == GspClass.RX.value else "0", "memo": f"dd:{row.key}"}


def build(s: Session, ctx: Ctx, row: Any) -> dict[str, Any]:
    """The row to send for one outbox entry (its `txn`'s node, one row): numbers as the spec's strings (kept as
    JSON on the entry, sent as they are)."""
    return {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in _build(s, ctx, row).items()}


def _build(s: Session, ctx: Ctx, row: Any) -> dict[str, Any]:
    batch = s.get(Batch, row.batch_id)
    item = s.get(Item, row.item_id)
    assert batch is not None and item is not None
    if row.txn == "3507":
        return {"fixmedins_bchno": batch.batch_no, "inv_data_type": row.inv_data_type}
    out = _common(row, item, batch)
    lot = {"manu_lotnum": batch.lot_no, "manu_date": _day(batch.manufactured_on), "expy_end": _day(batch.expires_on)}
    cnt, trdn = count_of(item, int(row.qty))
    pric = price_of(int(row.amount_fen), cnt)
    if row.txn == "3501":
        ratio = max(int(item.split_ratio), 1)
        inv = (Decimal(int(row.qty)) / ratio).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return out | lot | {"invdate": _day(row.business_date), "inv_cnt": inv}
    if row.txn == "3502":
        return out | lot | {"inv_chg_type": row.inv_chg_type, "pric": pric, "cnt": cnt, "trdn_flag": trdn,
                            "inv_chg_time": _local(ctx, row.created_at), "inv_chg_opter_name": ""}
    if row.txn in ("3503", "3504"):
        return out | lot | _purchase(s, ctx, row, item, batch) | {"finl_trns_pric": pric, "purc_retn_cnt": cnt}
    return out | lot | _sale(s, ctx, row, item) | {"trdn_flag": trdn, "finl_trns_pric": pric, "sel_retn_cnt": cnt,
                                                   "sel_retn_time": _local(ctx, row.created_at)}


def _purchase(s: Session, ctx: Ctx, row: Any, item: Item, batch: Batch) -> dict[str, Any]:
    supplier = s.get(Supplier, batch.supplier_id) if batch.supplier_id is not None else None
    out: dict[str, Any] = {"spler_name": supplier.name if supplier else "", "spler_pmtno": supplier.licence_no
                           if supplier else "", "purc_retn_stoin_time": _local(ctx, row.created_at),
                           "purc_invo_codg": ""}
    if row.txn == "3503":
        line = s.get(ReceiptLine, int(row.ref_id)) if row.ref_type == "receipt_line" else None
        receipt = s.get(Receipt, line.receipt_id) if line else None
        return out | {"dynt_no": receipt.dynt_no if receipt else "", "prdr_name": item.manufacturer,
                      "aprvno": item.approval_no, "purc_invo_no": receipt.purc_invo_no if receipt else "",
                      "purc_retn_opter_name": _name(s, receipt.approved_by if receipt else None),
                      "prod_geay_flag": "1" if int(row.amount_fen) == 0 else "0"}
    back = s.get(SupplierReturnLine, int(row.ref_id)) if row.ref_type == "supplier_return_line" else None
    ret = s.get(SupplierReturn, back.return_id) if back else None
    return out | {"purc_invo_no": ret.purc_invo_no if ret else "", "purc_retn_opter_name": _name(s, ret.created_by
                                                                                                 if ret else None),
                  "medins_prod_purc_no": row.key}


def _sale(s: Session, ctx: Ctx, row: Any, item: Item) -> dict[str, Any]:
    line = s.get(SaleLine, int(row.ref_id))
    assert line is not None, f"outbox #{row.id}: no sale line {row.ref_id}"
    sale = s.get(Sale, line.sale_id)
    assert sale is not None
    settled = s.exec(select(CardSettlement).where(CardSettlement.sale_id == sale.id,
                                                  col(CardSettlement.status).in_([SettlementStatus.SETTLED.value,
                                                                                  SettlementStatus.CANCELLED.value]))
                     .order_by(col(CardSettlement.id).desc())).first()
    insured = s.exec(select(SaleInsured).where(SaleInsured.sale_id == sale.id)).first() if settled else None
    local = insured is None or insured.insuplc_admdvs == ctx.settings.store.admdvs
    rx = s.get(Prescription, sale.prescription_id) if sale.prescription_id is not None else None
    review = (s.exec(select(RxReview).where(RxReview.prescription_id == rx.id).order_by(col(RxReview.id).desc()))
              .first() if rx is not None else None)
    profile = (s.exec(select(StaffProfile).where(StaffProfile.user_id == review.pharmacist_id)).first()
               if review is not None else None)
    codes = s.exec(select(SaleTraceCode.code).where(SaleTraceCode.sale_line_id == line.id)
                   .order_by(col(SaleTraceCode.id))).all()
    out: dict[str, Any] = {
        "prsc_dr_name": rx.doctor_name if rx else "", "rxno": rx.rx_no if rx else "",
        "phar_name": _name(s, review.pharmacist_id) if review else "",
        "phar_prac_cert_no": profile.qualification_no if profile else "",
        "hi_feesetl_type": "0" if settled is None else ("1" if local else "2"),
        "mdtrt_setl_type": "1" if settled is not None else "2",
        "setl_id": settled.setl_id if settled else "",
        "mdtrt_sn": (settled.mdtrt_id if settled and settled.mdtrt_id else sale.sale_no or sale.id),
        "psn_no": insured.psn_no if insured else "", "psn_cert_type": insured.psn_cert_type if insured else "",
        "certno": insured.certno if insured else "", "psn_name": insured.psn_name if insured else "",
        "drugtracinfo": [{"drug_trac_codg": c} for c in codes],
    }
    if row.txn == "3505":
        return out | {"rtal_docno": sale.sale_no or sale.id, "stoout_no": row.key[:40],
                      "sel_retn_opter_name": _name(s, sale.completed_by)}
    ret = s.exec(select(SaleReturn).where(SaleReturn.sale_id == sale.id, col(SaleReturn.created_at) <= row.created_at)
                 .order_by(col(SaleReturn.created_at).desc())).first()
    return out | {"medins_prod_sel_no": row.key, "sel_retn_opter_name": _name(s, ret.created_by if ret else None)}
