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

from server.db.models import Item, PrescriptionLine
from server.db.uow import Unit, orm
from server.insurance import wire
from server.insurance.eprx import VARIANTS
from server.rules.tenders import TenderOffer
from server.services import outbox
from server.services.context import Ctx
from server.services.rx.platform import platform_of, uploaded_review

DT = "%Y-%m-%d %H:%M:%S"


def report_key(sale_id: str) -> str:
    return f"e{sale_id}"


def _local(ctx: Ctx) -> str:
    return ctx.now.astimezone(ctx.settings.store.tz).strftime(DT)


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
    items = {i.id: i for i in s.exec(select(Item).where(col(Item.id).in_({ln["item_id"] for ln in mine})))}
    rx_lines = {p.id: p for p in s.exec(select(PrescriptionLine).where(
        col(PrescriptionLine.id).in_({ln["rx_line_id"] for ln in mine})))}
    selinfo = []
    for ln in mine:
        item, pl = items[ln["item_id"]], rx_lines[ln["rx_line_id"]]
        base = ln["qty"] * (1 if ln["split"] else item.split_ratio)
        cnt = Decimal(base) if pl.split else Decimal(base) / item.split_ratio
        selinfo.append({"med_list_codg": item.nhsa_code or "", "fixmedins_hilist_id": item.code,
                        "drug_genname": pl.drug_name, "sel_cnt": format(cnt.normalize(), "f"),
                        "pric": format(wire.fen_to_amount(ln["unit_price_fen"]), "f"),
                        "det_item_fee_sumamt": format(wire.fen_to_amount(ln["amount_fen"]), "f"), "rx_line_no": str(pl.line_no),
                        "trdn_flag": "1" if ln["split"] else "0",
                        "drugtracinfo": [{"drug_trac_codg": code} for code in codes.get(ln["id"], ())]})
    variant = VARIANTS[dl.variant]
    setl_id = next((o.reference for o in offers if o.kind == "insurance"), "")
    data = {"hi_rxno": dl.hi_rxno, "rx_chk_biz_sn": review.rx_chk_biz_sn if review else "",
            "medins_sale_sn": sale.id, "setl_id": setl_id, "hi_feesetl_type": "1" if setl_id else "2",
            "sel_time": _local(ctx), "phar_name": ctx.actor.name, "fixmedins_code": ctx.settings.store.fixmedins_code}
    if variant.cancel_flag:
        data["sel_retn_flag"] = "0"
    first = next((m for m in movements if int(m["ref_id"]) == mine[0]["id"]), movements[0])
    return outbox.platform(u, ctx, report_key(sale.id), variant.report, int(first["batch_id"]), int(first["item_id"]),
                           "sale", sale.id, sum(ln["qty"] for ln in mine), sum(ln["amount_fen"] for ln in mine),
                           {"data": data, "selinfo": selinfo})


def on_return(u: Unit, ctx: Ctx, sale_id: str, return_id: str, reason: str) -> int | None:
    """The return's hook: the platform's report of the sale cancelled (None: nothing was reported)."""
    out = outbox.OUT
    reported = u.connection().execute(out.select().where(out.c.store_id == ctx.store_id,
                                                         out.c.key == report_key(sale_id))).first()
    if reported is None:
        return None
    payload = reported.payload or {}
    variant = next(v for v in VARIANTS.values() if v.report == reported.txn)
    sold = payload.get("data", {})
    data = {"hi_rxno": sold.get("hi_rxno", ""), "medins_sale_sn": sale_id, "setl_id": sold.get("setl_id", ""),
            "retn_time": _local(ctx), "retn_rea": reason[:100], "fixmedins_code": ctx.settings.store.fixmedins_code}
    if variant.cancel_flag:
        data["sel_retn_flag"] = "1"
    return outbox.platform(u, ctx, f"{report_key(sale_id)}/r{return_id}", variant.cancel, int(reported.batch_id),
                           int(reported.item_id), "sale_return", return_id, int(reported.qty),
                           int(reported.amount_fen), {"data": data, "selinfo": payload.get("selinfo", [])})
