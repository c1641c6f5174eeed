"""Prescriptions: the registry, entry and import, scans, the pharmacist's review, the sale's prescription."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from server.api.deps import Acting, CtxDep, ReadSession, RowId, Who, guarded, unit_of_work
from server.api.schemas.rx import (
    AttachmentOut,
    DoctorOut,
    InstitutionOut,
    RegistryIn,
    RegistryOut,
    ReviewIn,
    ReviewOut,
    RxIn,
    RxLineOut,
    RxOut,
    SaleRxIn,
)
from server.api.schemas.selling import SaleOut
from server.api.selling import SalePath, sale_out
from server.db.models import Item, Prescription
from server.db.models.base import id_of
from server.db.uow import orm
from server.errors import AppError, conflict
from server.permissions import Action
from server.privacy import mask_id
from server.rules.drug_names import same_drug
from server.rules.prescriptions import REJECT_LABELS, RejectReason
from server.services.rx import dispensing as rx_dispensing
from server.services.rx import entry as rx_entry
from server.services.rx import registry as rx_registry
from server.services.rx import review as rx_review
from server.services.rx import slip as rx_slip

router = APIRouter(tags=["prescriptions"])


def rx_out(s: Session, rx: Prescription) -> RxOut:
    rx_id = id_of(rx)
    lines = rx_entry.lines_of(s, rx_id)
    done = rx_entry.dispensed(s, [id_of(ln) for ln in lines])
    items = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_({ln.item_id for ln in lines})))}
    return RxOut(
        id=rx_id, rx_no=rx.rx_no, source=rx.source, for_insurance=rx.for_insurance, status=rx.status,
        institution_code=rx.institution_code, institution_name=rx.institution_name, doctor_name=rx.doctor_name,
        issued_on=rx.issued_on, valid_days=rx.valid_days, patient_name=rx.patient_name, patient_sex=rx.patient_sex,
        patient_age=rx.patient_age, patient_certno_masked=mask_id(rx.patient_certno) if rx.patient_certno else "",
        diagnosis=rx.diagnosis, course=rx.course, entered_at=rx.entered_at,
        lines=[RxLineOut(id=id_of(ln), line_no=ln.line_no, item_id=ln.item_id, drug_name=ln.drug_name,
                         generic_name=rx_entry.generic_name(items[ln.item_id]),
                         name_matches=same_drug(ln.drug_name, rx_entry.generic_name(items[ln.item_id])), qty=ln.qty,
                         dosage_form=ln.dosage_form, split=ln.split, dispensed_base=done.get(id_of(ln), 0),
                         remaining_base=rx_entry.base_qty(ln, items[ln.item_id].split_ratio) - done.get(id_of(ln), 0),
                         days=ln.days, dosage=ln.dosage,
                         frequency=ln.frequency, route=ln.route) for ln in lines],
        reviews=[ReviewOut(id=id_of(r), verdict=r.verdict, reason=r.reason,
                           reason_label=REJECT_LABELS[RejectReason(r.reason)] if r.reason else "", note=r.note,
                           referred_to=r.referred_to, pharmacist_id=r.pharmacist_id, dispenser_id=r.dispenser_id,
                           at=r.at) for r in rx_entry.reviews_of(s, rx_id)],
        attachments=[AttachmentOut(id=id_of(a), content_type=a.content_type, sha256=a.sha256, size=a.size,
                                   uploaded_at=a.uploaded_at) for a in rx_entry.attachments_of(s, rx_id)])


# --- the registry -----------------------------------------------------------------------------------------

@router.put("/institutions", response_model=RegistryOut, **guarded(Action.REGISTRY_WRITE))
def import_registry(body: RegistryIn, request: Request, ctx: CtxDep) -> RegistryOut:
    rows = [rx_registry.InstitutionIn(i.code, i.name, i.admdvs, i.designated, i.designated_until,
                                     [rx_registry.DoctorIn(d.code, d.name, d.active) for d in i.doctors])
            for i in body.institutions]
    with unit_of_work(request) as u:
        return RegistryOut(**rx_registry.import_registry(u, ctx, rows))


@router.get("/institutions", response_model=list[InstitutionOut], **guarded(Action.RX_READ))
def list_institutions(s: ReadSession, ctx: CtxDep) -> list[InstitutionOut]:
    return [InstitutionOut(code=i.code, name=i.name, admdvs=i.admdvs, designated=i.designated,
                           designated_until=i.designated_until,
                           doctors=[DoctorOut(code=d.code, name=d.name, active=d.active) for d in docs])
            for i, docs in rx_registry.institutions(s, ctx)]


# --- prescriptions ------------------------------------------------------------------------------------------

@router.post("/prescriptions", response_model=RxOut, status_code=201, **guarded(Action.RX_ENTER))
def enter_prescription(body: RxIn, request: Request, ctx: CtxDep) -> RxOut:
    data = rx_entry.RxIn(**body.model_dump(exclude={"lines"}),  # a typed days' supply is not taken (RX-06)
                           lines=[rx_entry.RxLineIn(**ln.model_dump(exclude={"days"})) for ln in body.lines])
    with unit_of_work(request) as u:
        return rx_out(orm(u), rx_entry.create(u, ctx, data))


# An electronic 外配处方 comes from the insurance platform only (server.api.eprx: downloaded, its signature
# verified): no route takes one a client built.


_WHY = Query(max_length=200, description="why the record is read (SEC-06: logged with the read)")


@router.get("/prescriptions", response_model=list[RxOut], **guarded(Action.RX_READ))
def search_prescriptions(request: Request, s: ReadSession, ctx: CtxDep,
                         date_from: Annotated[date | None, Query(alias="from")] = None,
                         date_to: Annotated[date | None, Query(alias="to")] = None,
                         patient: Annotated[str | None, Query(max_length=50)] = None,
                         institution: Annotated[str | None, Query(max_length=100)] = None,
                         reason: Annotated[str, _WHY] = "") -> list[RxOut]:
    found = rx_entry.search(s, ctx, date_from, date_to, patient, institution)
    if patient and rx_entry.found_by_number(found, patient):  # SEC-06: a look-up by identity number, logged
        with unit_of_work(request) as u:
            rx_entry.record_search_read(u, ctx, patient, found, reason)
    return [rx_out(s, rx) for rx in found]


@router.get("/prescriptions/{rx_id}", response_model=RxOut, **guarded(Action.RX_READ))
def get_prescription(rx_id: RowId, s: ReadSession, ctx: CtxDep) -> RxOut:
    return rx_out(s, rx_entry.get(s, ctx, rx_id))


@router.delete("/prescriptions/{rx_id}", status_code=204, **guarded(Action.RX_ENTER))
def delete_prescription(rx_id: RowId, s: ReadSession, ctx: CtxDep) -> None:
    rx_entry.get(s, ctx, rx_id)
    raise conflict("RX-08", f"处方及审方记录须保存至少 {ctx.settings.rules.retention_years} 年，不得删除",
                   f"prescriptions and reviews are kept at least {ctx.settings.rules.retention_years} years",
                   prescription_id=rx_id)


@router.post("/prescriptions/{rx_id}/review", response_model=RxOut, **guarded(Action.RX_REVIEW))
def review_prescription(rx_id: RowId, body: ReviewIn, request: Request, ctx: CtxDep, by: Acting) -> RxOut:
    """The reviewing pharmacist: the one logged in, or the one who authorised the review in place at this till
    (X-Grant; the audit entry names the till's person beside them)."""
    with unit_of_work(request) as u:
        rx_review.review(u, ctx, rx_id, by.roles, body.verdict, body.reason, body.note, body.referred_to,
                          body.dispenser_id)
        return rx_out(orm(u), rx_entry.get(orm(u), ctx, rx_id))


_SCAN_BODY = {"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                            for t in sorted(rx_entry.ATTACHMENT_TYPES)}}


@router.post("/prescriptions/{rx_id}/attachments", response_model=AttachmentOut, status_code=201,
             **guarded(Action.RX_ENTER, requestBody=_SCAN_BODY))
async def attach_scan(rx_id: RowId, request: Request, ctx: CtxDep,
                      content_type: Annotated[str, Header(max_length=100)] = "") -> AttachmentOut:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > rx_entry.MAX_ATTACHMENT_BYTES:
            raise AppError(413, "RX-08", "处方影像过大（上限 8 MB）", "the scan is larger than 8 MB")

    def store() -> AttachmentOut:  # a unit of work may wait for the writer's lock: a worker's, not the event loop's
        with unit_of_work(request) as u:
            att = rx_entry.attach(u, ctx, rx_id, content_type.split(";")[0].strip().lower(), bytes(data))
            return AttachmentOut(id=id_of(att), content_type=att.content_type, sha256=att.sha256, size=att.size,
                                 uploaded_at=att.uploaded_at)

    return await run_in_threadpool(store)


@router.get("/prescriptions/{rx_id}/attachments/{attachment_id}", **guarded(
    Action.RX_READ, responses={200: {"content": {t: {} for t in sorted(rx_entry.ATTACHMENT_TYPES)}}}))
def get_scan(rx_id: RowId, attachment_id: RowId, request: Request, s: ReadSession, ctx: CtxDep,
             reason: Annotated[str, _WHY] = "") -> Response:
    att = rx_entry.attachment(s, ctx, rx_id, attachment_id)
    with unit_of_work(request) as u:  # SEC-06: the scan shows the whole record: its download is logged
        rx_entry.record_scan_read(u, ctx, rx_entry.get(s, ctx, rx_id), att, reason)
    return Response(att.data, media_type=att.content_type)


@router.post("/prescriptions/{rx_id}/print", status_code=201, **guarded(Action.RX_READ))
def print_prescription(rx_id: RowId, request: Request, ctx: CtxDep, who: Who) -> dict[str, int]:
    """The 处方审核单 on this till's printer (or the store's default till's): for the record and the inspector."""
    with unit_of_work(request) as u:
        job = rx_slip.print_slip(u, ctx, rx_id, who.till_code or ctx.settings.till.code)
        return {"print_job_id": job.id}


# --- the sale's prescription ------------------------------------------------------------------------------

@router.post("/sales/{sale_id}/prescription", response_model=SaleOut, **guarded(Action.RX_ENTER))
def tie_to_sale(sale_id: SalePath, body: SaleRxIn, request: Request, ctx: CtxDep) -> SaleOut:
    with unit_of_work(request) as u:
        return sale_out(u, ctx, rx_dispensing.attach_to_sale(u, ctx, sale_id.lower(), body.prescription_id))
