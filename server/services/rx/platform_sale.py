"""A platform prescription's sale told to the platform (issue #23): the sales detail (7207) or the Shenzhen write-off
(7206) written to the uploads' outbox with the sale's completion, and its cancellation (7208, or 7206 flagged as a
return) with the sale's return — in their transactions, so a crash between the settlement and the report loses
nothing: the uploads worker sends the row after the restart, the platform answering a repeated msgid alike.

Each dispensed line is reported by its 医保 code in the prescription's own unit (whole packs, or the split unit
where the prescription counts split units): what the platform compares with the prescribed quantity. A traced
line carries the boxes' trace codes it was sold with (`drugtracinfo`, reference §8; a split sale flagged
`trdn_flag` 1), as the 3505 sales upload does: the platform writes each code off once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from server.db.models import Item, PrescriptionLine, SaleLine, SaleTraceCode
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.insurance import wire
from server.insurance.eprx import VARIANTS
from server.rules.tenders import TenderOffer
from server.services import outbox, records
from server.services.context import Ctx
from server.services.rx.platform import platform_of, uploaded_review

DT = "%Y-%m-%d %H:%M:%S"
PLATFORM_REPORTS = sorted({t for v in VARIANTS.values() for t in (v.report, v.cancel)})


def report_key(sale_id: str) -> str:
    return f"e{sale_id}"


def _local(ctx: Ctx) -> str:
    return ctx.now.astimezone(ctx.settings.store.tz).strftime(DT)


def _selinfo(s: Any, lines: Sequence[dict[str, Any]], codes: Mapping[int, Sequence[str]]) -> list[dict[str, Any]]:
    """The report's rows of the lines dispensed (each: its item, prescription line, qty in the unit sold, split,
    unit price, amount), in the prescription's unit, with the trace codes each went with."""
    items = {i.id: i for i in s.exec(select(Item).where(col(Item.id).in_({ln["item_id"] for ln in lines})))}
    rx_lines = {p.id: p for p in s.exec(select(PrescriptionLine).where(
        col(PrescriptionLine.id).in_({ln["rx_line_id"] for ln in lines})))}
    out = []
    for ln in lines:
        item, pl = items[ln["item_id"]], rx_lines[ln["rx_line_id"]]
        base = ln["qty"] * (1 if ln["split"] else item.split_ratio)
        cnt = Decimal(base) if pl.split else Decimal(base) / item.split_ratio
        out.append({"med_list_codg": item.nhsa_code or "", "fixmedins_hilist_id": item.code,
                    "drug_genname": pl.drug_name, "sel_cnt": format(cnt.normalize(), "f"),
                    "pric": format(wire.fen_to_amount(ln["unit_price_fen"]), "f"),
                    "det_item_fee_sumamt": format(wire.fen_to_amount(ln["amount_fen"]), "f"),
                    "rx_line_no": str(pl.line_no), "trdn_flag": "1" if ln["split"] else "0",
                    "drugtracinfo": [{"drug_trac_codg": code} for code in codes.get(ln["id"], ())]})
    return out


def on_complete(u: Unit, ctx: Ctx, sale: Any, lines: Sequence[dict[str, Any]], offers: Sequence[TenderOffer],
                movements: Sequence[dict[str, Any]], codes: Mapping[int, Sequence[str]]) -> int | None:
    """The completion's hook: the report of a sale dispensed against a platform prescription (None: not one);
    `codes` are the trace codes scanned, by sale line."""
    if sale.prescription_id is None:
        return None
    dl = platform_of(u, sale.prescription_id)
    if dl is None:
        return None
    mine = [ln for ln in lines if ln.get("rx_line_id")]
    if not mine:
        return None
    s = orm(u)
    review = uploaded_review(s, sale.prescription_id)
    selinfo = _selinfo(s, mine, codes)
    variant = VARIANTS[dl.variant]
    setl_id = next((o.reference for o in offers if o.kind == "insurance"), "")
    data = {"hi_rxno": dl.hi_rxno, "rx_chk_biz_sn": review.rx_chk_biz_sn if review else "",
            "medins_sale_sn": sale.id, "setl_id": setl_id, "hi_feesetl_type": "1" if setl_id else "2",
            "sel_time": _local(ctx), "phar_name": ctx.actor.name, "fixmedins_code": ctx.settings.store.fixmedins_code}
    if variant.cancel_flag:
        data["sel_retn_flag"] = "0"
    first = next((m for m in movements if int(m["ref_id"]) == mine[0]["id"]), movements[0])
    return outbox.platform(u, ctx, report_key(sale.id), variant.report, int(first["batch_id"]), int(first["item_id"]),
                           SOLD, sale.id, sum(ln["qty"] for ln in mine), sum(ln["amount_fen"] for ln in mine),
                           {"data": data, "selinfo": selinfo})


SOLD, KEPT, CANCELLED = "sale", "sale_kept", "sale_return"


def standing(u: Unit, ctx: Ctx, sale_id: str) -> Any:
    """The sale's report the platform holds (or will): the last of its rows when that is a report — the sale's, or
    one rewritten after a partial return — None when the last is a cancellation, or nothing was reported."""
    out = outbox.OUT
    last = u.connection().execute(out.select().where(
        out.c.store_id == ctx.store_id, out.c.key.startswith(report_key(sale_id)),
        out.c.txn.in_(PLATFORM_REPORTS)).order_by(out.c.id.desc()).limit(1)).first()
    return last if last is not None and last.ref_type in (SOLD, KEPT) else None


def on_return(u: Unit, ctx: Ctx, sale_id: str, return_id: str, reason: str) -> int | None:
    """The return's hook (its transaction): the platform's report of the sale cancelled — 7208, or the Shenzhen
    7206 flagged as a return, which cancels a write-off whole — and, when the patient kept part of what was
    dispensed, the report written again for what was kept (the same sale's number, its lines as they now stand),
    sent only once the cancellation is accepted. Neither generation's return carries some lines of a report only
    ([BZ] CFHX7206 has no return lines; 7208 names the sale), so a partial return is a cancellation and a rewrite.
    The cancellation waits for the report it cancels to be accepted. None: nothing was reported, or nothing stands."""
    report = standing(u, ctx, sale_id)
    if report is None:
        return None
    payload = report.payload or {}
    variant = next(v for v in VARIANTS.values() if v.report == report.txn)
    sold = payload.get("data", {})
    data = {"hi_rxno": sold.get("hi_rxno", ""), "medins_sale_sn": sold.get("medins_sale_sn", sale_id),
            "setl_id": sold.get("setl_id", ""), "retn_time": _local(ctx), "retn_rea": reason[:100],
            "fixmedins_code": ctx.settings.store.fixmedins_code}
    if variant.cancel_flag:
        data["sel_retn_flag"] = "1"
    key = f"{report_key(sale_id)}/r{return_id}"
    cancel = outbox.platform(u, ctx, key, variant.cancel, int(report.batch_id), int(report.item_id), CANCELLED,
                             return_id, int(report.qty), int(report.amount_fen),
                             {"data": data, "selinfo": payload.get("selinfo", [])}, after_id=int(report.id))
    if cancel is None:  # a retried return: written already
        return None
    kept = _kept(u, sale_id)
    if kept:
        codes = _codes_kept(u, [ln["id"] for ln in kept])
        again = {"data": dict(sold), "selinfo": _selinfo(orm(u), kept, codes)}
        outbox.platform(u, ctx, f"{key}/k", report.txn, int(report.batch_id), int(report.item_id), KEPT, return_id,
                        sum(ln["qty"] for ln in kept), sum(ln["amount_fen"] for ln in kept), again, after_id=cancel)
    return cancel


def _kept(u: Unit, sale_id: str) -> list[dict[str, Any]]:
    """The sale's lines dispensed against the prescription, as the patient keeps them after every return so far."""
    s = orm(u)
    lines = list(s.exec(select(SaleLine).where(SaleLine.sale_id == sale_id, col(SaleLine.rx_line_id).is_not(None))
                        .order_by(col(SaleLine.line_no))))
    back = records.returned_so_far(u, [id_of(ln) for ln in lines])
    out = []
    for ln in lines:
        qty = ln.qty - back.get(id_of(ln), 0)
        if qty > 0:
            out.append({"id": id_of(ln), "item_id": ln.item_id, "rx_line_id": ln.rx_line_id, "qty": qty,
                        "split": ln.split, "unit_price_fen": ln.unit_price_fen,
                        "amount_fen": ln.amount_fen - back.get(id_of(ln), 0) * ln.unit_price_fen})
    return out


def _codes_kept(u: Unit, line_ids: list[int]) -> dict[int, list[str]]:
    """The trace codes of the lines' boxes the patient kept (those not returned)."""
    out: dict[int, list[str]] = {}
    for c in orm(u).exec(select(SaleTraceCode).where(col(SaleTraceCode.sale_line_id).in_(line_ids),
                                                     col(SaleTraceCode.returned_in).is_(None))
                         .order_by(col(SaleTraceCode.id))):
        out.setdefault(c.sale_line_id, []).append(c.code)
    return out
