"""Electronic 外配处方 from the insurance platform (issue #23): find by e-voucher (7202), download by the patient's
code (7201/7203), the pharmacist's review with its upload (7204), the platform's view of a prescription. The
dispensing and the sale are the paper prescription's routes (POST /sales/{id}/prescription, the card's settle)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from sqlmodel import Session, select

from server.api.deps import Acting, CtxDep, ReadSession, RowId, Who, get_state, guarded
from server.api.prescriptions import rx_out
from server.api.schemas.eprx import (
    DownloadIn,
    DownloadOut,
    EprxReviewOut,
    ListedOut,
    PlatformOut,
    QueryIn,
    UploadErrorOut,
)
from server.api.schemas.rx import ReviewIn
from server.db.models import Sale
from server.db.models.base import id_of
from server.db.uow import read_session
from server.errors import AppError, conflict
from server.insurance.eprx import PLATFORM_TXNS, Carrier
from server.permissions import Action
from server.services import outbox
from server.services.rx import entry as rx_entry
from server.services.rx import platform
from server.services.rx.platform_sale import report_key

router = APIRouter(tags=["prescriptions"])


def gateway_of(request: Request) -> Carrier:
    """The service's gateway: the platform's transactions ride its envelope (`call`)."""
    gateway: Carrier = request.app.state.insurance
    return gateway


def _till(who: Any) -> str:
    return str(who.till_code or "")


def platform_out(s: Session, store_id: int, rx_id: int) -> PlatformOut:
    dl = platform.download_of(s, store_id, rx_id)
    if dl is None:
        raise conflict("EPRX-PAPER", "该处方不是从医保电子处方平台下载的", "the prescription did not come from the platform")
    up = platform.uploaded_review(s, rx_id)
    reviews = rx_entry.reviews_of(s, rx_id)
    row = platform.review_row(s, store_id, id_of(reviews[-1])) if reviews else None
    out = outbox.OUT
    keys = [report_key(sid) for sid in s.exec(select(Sale.id).where(Sale.store_id == store_id,
                                                                   Sale.prescription_id == rx_id))]
    mine = list(s.connection().execute(
        out.select().where(out.c.store_id == store_id, out.c.txn.in_(PLATFORM_TXNS),
                           sa.or_(*(out.c.key.startswith(k) for k in keys))).order_by(out.c.id))) if keys else []
    return PlatformOut(hi_rxno=dl.hi_rxno, sign_verified=dl.sign_verified, variant=dl.variant,
                       received_at=dl.received_at, review_uploaded=up is not None,
                       review_state=row.state if row is not None else "", review_row_id=int(row.id) if row else None,
                       rx_chk_biz_sn=up.rx_chk_biz_sn if up else "",
                       reports=[{"txn": r.txn, "key": r.key, "state": r.state, "id": int(r.id)} for r in mine])


@router.post("/eprx/query", response_model=list[ListedOut], **guarded(Action.RX_ENTER))
def query(body: QueryIn, request: Request, ctx: CtxDep, who: Who) -> list[ListedOut]:
    """7202: the insured person's prescriptions waiting at the platform, by their 医保电子凭证 (or ID, card)."""
    found = platform.query(get_state(request).engine, ctx, gateway_of(request), body.mdtrt_cert_type,
                           body.mdtrt_cert_no, _till(who))
    return [ListedOut(hi_rxno=f.hi_rxno, auth_rxno=f.auth_rxno, prsc_time=f.prsc_time,
                      fixmedins_name=f.fixmedins_name, prsc_dr_name=f.prsc_dr_name) for f in found]


@router.post("/eprx/download", response_model=DownloadOut, status_code=201, **guarded(Action.RX_ENTER))
def download(body: DownloadIn, request: Request, ctx: CtxDep, who: Who) -> DownloadOut:
    """The patient's prescription code scanned at the till (or an auth_rxno from the query): downloaded, its
    signature verified, entered pending the pharmacist's review. Scanned again: the one on file (new false)."""
    engine = get_state(request).engine
    rx_id, new = platform.download(engine, ctx, gateway_of(request), body.qr.strip(), body.auth_rxno.strip(),
                                   _till(who))
    with read_session(engine) as s:
        return DownloadOut(new=new, prescription=rx_out(s, rx_entry.get(s, ctx, rx_id)),
                           platform=platform_out(s, ctx.store_id, rx_id))


def _review_out(request: Request, ctx: Any, rx_id: int, error: AppError | None) -> EprxReviewOut:
    with read_session(get_state(request).engine) as s:
        return EprxReviewOut(prescription=rx_out(s, rx_entry.get(s, ctx, rx_id)),
                             platform=platform_out(s, ctx.store_id, rx_id),
                             upload_error=UploadErrorOut(code=error.code, message_zh=error.message_zh,
                                                         message_en=error.message_en) if error else None)


@router.post("/eprx/prescriptions/{rx_id}/review", response_model=EprxReviewOut, **guarded(Action.RX_REVIEW))
def review(rx_id: RowId, body: ReviewIn, request: Request, ctx: CtxDep, by: Acting) -> EprxReviewOut:
    """The pharmacist on duty reviews the downloaded prescription (logged in, or authorising in place at the till:
    X-Grant). A rejection needs RX-05's reason. The review and its upload (7204) are written together to the
    uploads' outbox, and the upload is sent at once: `platform.review_state` says whether the platform took it;
    when not, `upload_error` says why (queued: the uploads worker sends it again by itself; refused: the platform's
    words). Nothing is dispensed before the platform took the approving review (RX-01)."""
    _, _, error = platform.review(get_state(request).engine, ctx, gateway_of(request), rx_id, by.roles, body.verdict,
                                  body.reason, body.note, body.referred_to, body.dispenser_id)
    return _review_out(request, ctx, rx_id, error)


@router.get("/eprx/prescriptions/{rx_id}", response_model=PlatformOut, **guarded(Action.RX_READ))
def platform_view(rx_id: RowId, s: ReadSession, ctx: CtxDep) -> PlatformOut:
    rx_entry.get(s, ctx, rx_id)
    return platform_out(s, ctx.store_id, rx_id)
