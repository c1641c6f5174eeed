"""Electronic 外配处方 from the insurance platform (电子处方流转, issue #23): found by the patient's code (7201) or
their 医保电子凭证 (7202), downloaded (7203) and kept whole as received, its SM2 signature verified (a tampered one
refused), entered with the same checks as paper (RX-02, RX-07); the pharmacist's review uploaded (7204).

The platform is asked outside any transaction (DESIGN: never call the centre inside one); what it answered is
written after, in one unit of work with its audit entries. The platform away is said plainly (EPRX-AWAY) — a
paper 外配处方 is still entered the ordinary way. The review's 7204 is the uploads' outbox's, written with the
review and sent at once by the outbox's sender (then by the worker, with its backoff, until the platform answers);
the platform's acceptance is recorded with the answer (eprx_review_upload), and nothing is dispensed before it
(RX-01). The sale's report (7206/7207) and its cancellation are the outbox's too
(server.services.rx.platform_sale).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.violations import Violation
from server import audit
from server.db.models import Batch, EprxDownload, EprxReviewUpload, Prescription, PrescriptionLine, RxReview, User
from server.db.models.base import id_of
from server.db.models.uploads import UploadState
from server.db.uow import Reader, Unit, core_unit, orm, read_session, read_unit
from server.errors import AppError, conflict, not_found
from server.insurance import eprx, wire
from server.insurance.errors import CentreRefused, ClockSkew, GatewayError
from server.insurance.gateway import Caller
from server.roles import Role
from server.rules.prescriptions import RejectReason
from server.services import outbox
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.insurance import uploads
from server.services.insurance.uploads import uploads_caller
from server.services.rx import entry as rx_entry
from server.services.rx import review as rx_review
from server.services.store.users import staff_profile

DT = "%Y-%m-%d %H:%M:%S"
log = logging.getLogger("dingdian.eprx")


def _away(exc: GatewayError) -> AppError:
    """The platform refused (its words kept) or could not be reached (said plainly, paper still possible); the
    envelope's stamp refused is the clock's to fix (ClockSkew)."""
    if isinstance(exc, ClockSkew):
        return exc.to_app_error()
    if isinstance(exc, CentreRefused):
        return AppError(422, "EPRX-REFUSED", f"医保电子处方平台拒绝：{exc.err_msg or '未说明原因'}",
                        f"the prescription platform refused: {exc.err_msg or 'no reason given'}",
                        {"infno": exc.infno, "msgid": exc.msgid, "err_msg": exc.err_msg})
    return AppError(503, "EPRX-AWAY",
                    "医保电子处方平台暂时无法连接，电子处方不能下载或上传；请稍后重试，或请患者出示纸质外配处方按纸质处方登记",
                    "the insurance prescription platform cannot be reached now: try again later, or enter a paper "
                    "外配处方 the ordinary way", {"infno": exc.infno, "msgid": exc.msgid, "cause": exc.message_en})


def _caller(s: Session, ctx: Ctx, dev_no: str = "") -> Caller:
    """The envelope's operator: the acting user's sign-in of today, else the store's newest one (the pharmacist
    reviewing in place need not have signed in: the cashier at the till has); none at all is INS-SIGNIN."""
    mine = ins.current_sign_in(s, ctx)
    if mine is not None:
        return ins.caller_for(s, ctx, mine.sign_no, dev_no=dev_no)
    store = uploads_caller(s, ctx)
    if store is None:
        ins.require_signed_in(s, ctx)  # the refusal, worded once
        raise AssertionError("require_signed_in refuses without a sign-in")
    return Caller(store.opter, store.opter_name, store.sign_no, dev_no=dev_no)


def _enabled(ctx: Ctx) -> None:
    if not ctx.settings.eprx.enabled:
        raise AppError(409, "EPRX-OFF", "本店未启用医保电子处方流转（[eprx] enabled）",
                       "electronic prescriptions from the platform are off for this store ([eprx] enabled)")


def query(engine: Engine, ctx: Ctx, gateway: eprx.Carrier, mdtrt_cert_type: str, mdtrt_cert_no: str,
          till_code: str = "") -> list[eprx.Listed]:
    """7202: the person's prescriptions waiting at the platform (by 医保电子凭证 01, ID 02, card 03)."""
    _enabled(ctx)
    with read_session(engine) as s:
        caller = _caller(s, ctx, till_code)
    try:
        return eprx.query(gateway, caller, mdtrt_cert_type, mdtrt_cert_no)
    except GatewayError as exc:
        raise _away(exc) from None


def flatten(output: dict[str, Any]) -> dict[str, Any]:
    """The 7203 output's nodes (rxinfo, mdtrtinfo, rxdrugdetail, diseinfo) as the entry form reads an electronic
    prescription (server.services.rx.entry.from_electronic)."""
    def node(key: str) -> dict[str, Any]:
        value = output.get(key)
        return value if isinstance(value, dict) else {}

    return {**node("mdtrtinfo"), **node("rxinfo"), "rxdrugdetail": output.get("rxdrugdetail"),
            "diseinfo": output.get("diseinfo")}


def download(engine: Engine, ctx: Ctx, gateway: eprx.Carrier, qr: str = "", auth_rxno: str = "",
             till_code: str = "") -> tuple[int, bool]:
    """The patient's code (7201 → 7203) or an auth_rxno from 7202 (7203): the prescription on file, pending the
    pharmacist's review. (prescription id, whether it was new); a second scan of one already here is that one."""
    _enabled(ctx)
    if bool(qr) == bool(auth_rxno):
        raise AppError(422, "EPRX-INPUT", "请扫描处方二维码，或从医保电子凭证查询结果中选择一张处方",
                       "give the prescription code, or an auth_rxno from the e-voucher's query")
    with read_session(engine) as s:
        caller = _caller(s, ctx, till_code)
    try:
        token = eprx.decode(gateway, caller, qr).epc_token if qr else ""
        got = eprx.download(gateway, caller, epc_token=token, auth_rxno=auth_rxno)
    except GatewayError as exc:
        raise _away(exc) from None
    except wire.WireFormatError as exc:
        raise AppError(502, "EPRX-AWAY", "医保电子处方平台的应答无法读取，请稍后重试",
                       "the prescription platform's answer could not be read: try again later",
                       {"cause": str(exc)}) from None
    key = ctx.settings.eprx.platform_public_key
    verified = bool(key) and eprx.verify(got.output, key)
    if key and not verified:
        raise AppError(422, "EPRX-SIGN", "电子处方签名验证失败：内容与医保平台签发的不一致（可能被篡改），不能使用",
                       "the prescription's signature does not verify: it is not what the platform signed (tampered?)",
                       {"msgid": got.msgid})
    doc = flatten(got.output)
    hi_rxno = wire.to_text(doc.get("hi_rxno"))
    if not hi_rxno:
        raise AppError(422, "RX-02", "电子处方缺少医保处方编号 hi_rxno", "the download carries no hi_rxno")
    with core_unit(engine) as u:
        s = orm(u)
        here = s.exec(select(EprxDownload).where(EprxDownload.store_id == ctx.store_id,
                                                 EprxDownload.hi_rxno == hi_rxno)).first()
        if here is not None:  # scanned again: the prescription already on file
            return here.prescription_id, False
        rx = rx_entry.create(u, ctx, rx_entry.from_electronic(s, ctx, doc))
        body = wire.dumps(got.output)
        row = EprxDownload(store_id=ctx.store_id, prescription_id=id_of(rx), hi_rxno=hi_rxno[:50],
                           scanned=(qr or auth_rxno)[:60], msgid=got.msgid, variant=ctx.settings.eprx.variant,
                           signtype=got.signtype[:10], signdata=got.signdata[:300], sign_verified=verified,
                           sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(), body=body,
                           received_by=ctx.actor_id, received_at=ctx.now)
        s.add(row)
        audit.record_row(u, ctx.store_id, ctx.actor, "eprx.download", row, note=f"7203 msgid {got.msgid}")
        return id_of(rx), True


def download_of(s: Session, store_id: int, rx_id: int) -> EprxDownload | None:
    """The platform's download a prescription came from (None: paper, or typed in)."""
    return s.exec(select(EprxDownload).where(EprxDownload.store_id == store_id,
                                             EprxDownload.prescription_id == rx_id)).first()


def uploaded_review(s: Session, rx_id: int) -> EprxReviewUpload | None:
    """The newest review the platform took for the prescription."""
    return s.exec(select(EprxReviewUpload).where(EprxReviewUpload.prescription_id == rx_id)
                  .order_by(col(EprxReviewUpload.id).desc())).first()


def _review_doc(s: Session, ctx: Ctx, dl: EprxDownload, rev: RxReview) -> dict[str, Any]:
    pharmacist = s.get(User, rev.pharmacist_id)
    dispenser = s.get(User, rev.dispenser_id) if rev.dispenser_id else None
    profile = staff_profile(s, rev.pharmacist_id)
    opinion = rev.note or (RejectReason(rev.reason).label if rev.reason else "")
    return {"hi_rxno": dl.hi_rxno, "rx_chk_stas_codg": "1" if rev.verdict == "approved" else "2",
            "rx_chk_opnn": opinion or "审核通过", "rx_chk_time": rev.at.astimezone(ctx.settings.store.tz).strftime(DT),
            "phar_name": pharmacist.display_name if pharmacist else "",
            "phar_prac_cert_no": (profile.qualification_no if profile else "") or f"U{rev.pharmacist_id}",
            "dspn_phar_name": dispenser.display_name if dispenser else "",
            "fixmedins_code": ctx.settings.store.fixmedins_code}


REVIEW = "7204"
SENT_WAIT_S = 5.0  # how long the review's answer is waited for when the uploads worker is sending it


def review_key(review_id: int) -> str:
    """The outbox's key of a review's 7204: one review, one message (a retry sends that row again, same msgid)."""
    return f"v{review_id}"


def _queue_review(u: Unit, ctx: Ctx, rx_id: int, dl: EprxDownload, rev: RxReview) -> int:
    """7204 written to the uploads' outbox with the review, its input frozen (server.services.outbox.platform). The
    row's batch and item columns take the prescription's first drug and a batch of it (any of the store's when it
    has none: a rejection of a drug the store never stocked is uploaded too)."""
    s = orm(u)
    item_id = s.exec(select(PrescriptionLine.item_id).where(PrescriptionLine.prescription_id == rx_id)
                     .order_by(col(PrescriptionLine.line_no))).first()
    batch_id = s.exec(select(Batch.id).where(Batch.store_id == ctx.store_id, Batch.item_id == item_id)
                      .order_by(col(Batch.id).desc())).first() if item_id is not None else None
    if batch_id is None:
        found = s.exec(select(Batch.id, Batch.item_id).where(Batch.store_id == ctx.store_id)
                       .order_by(col(Batch.id))).first()
        if found is None:
            raise conflict("EPRX-STOCK", "本店尚无任何库存批次，审方结果无法登记上传；请先完成首次收货",
                           "the store has no batch yet: the review cannot be queued for upload (receive stock first)")
        batch_id, item_id = found
    assert item_id is not None and batch_id is not None
    row = outbox.platform(u, ctx, review_key(id_of(rev)), REVIEW, batch_id, item_id, "rx_review", str(rev.id), 0, 0,
                          {"data": _review_doc(s, ctx, dl, rev)})
    if row is None:  # cannot be: a review is written once
        raise AssertionError(f"the review {rev.id} was queued already")
    return row


def review_row(r: Reader, store_id: int, review_id: int) -> Any:
    """The outbox's 7204 row of a review (None: the review is paper's, or older than the outbox's reviews)."""
    r.flush()
    out = outbox.OUT
    return r.connection().execute(out.select().where(out.c.store_id == store_id,
                                                     out.c.key == review_key(review_id))).first()


def send_review(engine: Engine, ctx: Ctx, gateway: eprx.Carrier, rx_id: int) -> tuple[Any, str]:
    """The latest review's 7204 sent now, through the outbox's sender (the row claimed as the worker claims it: never
    sent twice at once; the platform answers a repeated msgid alike). The row as it stands after: accepted, failed
    (the worker sends it again after its wait), rejected (the platform's words kept), or sent (the worker has it);
    and why nothing could be sent (no sign-in today), or ""."""
    with read_unit(engine) as r:
        reviews = rx_entry.reviews_of(orm(r), rx_id)
        if not reviews:
            raise conflict("RX-01", "处方尚未经药师审核", "the prescription has not been reviewed")
        row = review_row(r, ctx.store_id, id_of(reviews[-1]))
    if row is None:
        return None, ""
    try:
        waiting = uploads.send_now(engine, ctx, gateway, [int(row.id)]).waiting
    except Exception:  # the review stands, queued: the pharmacist is told its state, never a traceback
        log.exception("eprx: the review's 7204 (outbox row %s) could not be sent now", row.id)
        waiting = ""
    deadline = time.monotonic() + SENT_WAIT_S
    while True:
        with read_unit(engine) as r:
            now = outbox.row(r, ctx.store_id, int(row.id))
        # the worker claimed it first: its answer is a moment away (the pharmacist waits for it, not a retry)
        if now.state != UploadState.SENT.value or time.monotonic() >= deadline:
            return now, waiting
        time.sleep(0.1)


def upload_problem(row: Any, waiting: str = "") -> AppError | None:
    """What the pharmacist is told of a review the platform has not taken (None: taken); `waiting`: why it was not
    sent (no sign-in today)."""
    if row is None or row.state == UploadState.ACCEPTED.value:
        return None
    if row.state == UploadState.REJECTED.value:
        return AppError(422, "EPRX-REFUSED", f"医保电子处方平台拒绝了审方结果：{row.centre_message or '未说明原因'}；"
                        "请核对后重新审方，或由医保管理员在上传管理中处理",
                        f"the prescription platform refused the review: {row.centre_message or 'no reason given'}; "
                        "review again, or the insurance administrator handles it among the uploads",
                        {"row_id": row.id, "msgid": row.msgid})
    return AppError(503, "EPRX-QUEUED", "审方结果已记录，正在排队上传医保电子处方平台（自动重试）；平台接收前不能调配"
                    + (f"（{row.last_error or waiting}）" if row.last_error or waiting else ""),
                    "the review stands and is queued for the prescription platform (retried by itself); nothing is "
                    "dispensed before the platform takes it", {"row_id": row.id, "state": row.state,
                                                               "msgid": row.msgid})


def review(engine: Engine, ctx: Ctx, gateway: eprx.Carrier, rx_id: int, roles: frozenset[Role], verdict: str,
           reason: RejectReason | None, note: str, referred_to: str,
           dispenser_id: int | None) -> tuple[Prescription, Any, AppError | None]:
    """The pharmacist's review of a downloaded prescription (the paper review's checks: RX-01, RX-05, RX-06, RX-07,
    RX-10, STAFF-01) and its 7204 in the uploads' outbox, in one transaction; then the row sent at once (the
    pharmacist waits at the till). The review stands whatever the platform says: (prescription, the outbox row, what
    the pharmacist is told when the platform has not taken it)."""
    with core_unit(engine) as u:
        dl = download_of(orm(u), ctx.store_id, rx_id)
        if dl is None:
            rx_entry.get(orm(u), ctx, rx_id)  # not found first
            raise conflict("EPRX-PAPER", "该处方不是从医保电子处方平台下载的，请按纸质处方审核",
                           "the prescription did not come from the platform: review it as a paper one")
        rev = rx_review.review(u, ctx, rx_id, roles, verdict, reason, note, referred_to, dispenser_id)
        _queue_review(u, ctx, rx_id, dl, rev)
    row, waiting = send_review(engine, ctx, gateway, rx_id)
    with read_session(engine) as s:
        rx = s.get(Prescription, rx_id)
        if rx is None:
            raise not_found("处方", "prescription", prescription_id=rx_id)
        return rx, row, upload_problem(row, waiting)


def dispense_refusals(s: Session, rx: Prescription) -> list[Violation]:
    """RX-01 for a platform prescription: dispensed only once the platform took its approving review (7204)."""
    if download_of(s, rx.store_id, id_of(rx)) is None:
        return []
    up = uploaded_review(s, id_of(rx))
    if up is not None and up.verdict == "approved":
        last = s.exec(select(RxReview).where(RxReview.prescription_id == rx.id)
                      .order_by(col(RxReview.id).desc())).first()
        if last is not None and last.id == up.review_id:
            return []
    return [Violation("RX-01", f"电子处方 {rx.rx_no} 的审方结果医保平台尚未接收（排队上传中或被拒），不能调配",
                      f"the platform has not taken the review of electronic prescription {rx.rx_no} (queued, or "
                      "refused): nothing is dispensed before it does", {"prescription_id": rx.id})]


def platform_of(u: Unit, rx_id: int) -> EprxDownload | None:
    s = orm(u)
    return s.exec(select(EprxDownload).where(EprxDownload.prescription_id == rx_id)).first()
