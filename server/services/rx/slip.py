"""The 处方审核单: the prescription, its lines and the latest review, queued for the till's printer."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from devices.printer.documents import RxReviewSlip, RxSlipLine
from server import audit
from server.db.models import (
    Item,
)
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.privacy import mask_id
from server.rules.prescriptions import RejectReason
from server.services import printing, records
from server.services.context import Ctx
from server.services.rx.entry import get, lines_of, reviews_of


def print_slip(u: Unit, ctx: Ctx, rx_id: int, till_code: str, reprint: bool = False) -> Any:
    """The 处方审核单: the prescription, its lines and the latest review, queued for the till's printer."""
    s = orm(u)
    rx = get(s, ctx, rx_id)
    last = next(iter(reversed(reviews_of(s, id_of(rx)))), None)
    items = {i.id: i for i in s.exec(select(Item).where(col(Item.id).in_([ln.item_id for ln in lines_of(s, id_of(rx))])))}
    names = records.user_names(s, [last.pharmacist_id] if last else [])
    verdict = {"approved": "审核通过", "rejected": "不予调配", "referred": "转介其他定点药店"}
    slip = RxReviewSlip(
        store=printing.store_header(ctx), till_code=till_code, rx_no=rx.rx_no, patient_name=rx.patient_name,
        patient_id_masked=mask_id(rx.patient_certno) if rx.patient_certno else "", prescriber=rx.doctor_name,
        institution=rx.institution_name, issued_on=rx.issued_on.isoformat(),
        lines=[RxSlipLine(ln.drug_name, items[ln.item_id].spec, ln.qty,
                          (items[ln.item_id].split_unit or items[ln.item_id].unit) if ln.split else items[ln.item_id].unit,
                          f"{ln.dosage} {ln.frequency} {ln.route} {ln.days}天") for ln in lines_of(s, id_of(rx))],
        pharmacist=names.get(last.pharmacist_id, "") if last else "", verdict=verdict.get(rx.status, "待审核"),
        reviewed_at=printing.local_time(ctx, last.at) if last else "",
        opinion=(last.note or (REJECT_LABELS_ZH.get(last.reason, "") if last.reason else ""))
        + (f"（已安排：{last.referred_to}）" if last.referred_to else "") if last else "",  # RX-05: which pharmacy
        reprint=reprint)
    job = printing.enqueue_rx_slip(u, ctx, slip, till_code)
    audit.record(u, ctx.store_id, ctx.actor, "rx.print", "print_job", job.id, None,
                 {"prescription_id": rx.id, "till_code": till_code})
    return job


REJECT_LABELS_ZH = {r.value: r.label for r in RejectReason}
