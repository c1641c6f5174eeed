"""Sending the uploads' outbox (ST-01, ST-06), and what the store sees of it: the backlog, a person's retry,
correction and derivation again from the corrected catalog, the month's blockers, the replay after a reinstall.

`send_due` is the worker's step (server.workers.uploads) and the CLI's: it claims a few due rows — their payload
built and frozen, their msgid allocated, state `sent`, in one durable commit — then sends each outside any
transaction, and records each answer: accepted, rejected (the centre refused the content: a person must look;
nothing is sent again by itself) or failed (transport: sent again after a doubling wait; so is an envelope the
prescription platform refused for its timestamp, ClockSkew — the clock's to fix, not the row's). A row left `sent`
by a stop is sent again at the next start with the same msgid and payload: the centre deduplicates, so a fact is
never held twice, and none is lost. `send_now` is the same step for rows someone waits for (the pharmacist's
review, 7204, sent as the review is made); a 7204 accepted records the review as the platform took it
(`review_taken`), in the answer's transaction.

Uploads need a sign-in of today (reference §1.4): the store's newest open 9001 sign-in is used; without one,
nothing is sent and the backlog says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from catalog.violations import Violation
from server import audit
from server.db.models import EprxReviewUpload, InsuranceSignIn, RxReview, User
from server.db.models.uploads import UploadState
from server.db.types import utcnow
from server.db.uow import Reader, Unit, core_unit, orm, read_unit
from server.errors import AppError, not_found
from server.insurance import uploads as wire_uploads
from server.insurance import wire
from server.insurance.errors import GatewayError
from server.insurance.gateway import Caller
from server.insurance.msgid import allocate_msgid
from server.rules import uploads as rules
from server.services import outbox
from server.services.context import Ctx
from server.services.insurance import upload_rows
from server.services.insurance.sign_in import opter_code

NOT_SIGNED_IN = "未医保签到（9001），进销存数据暂不上传 / not signed in today (9001): uploads wait"


class Centre(Protocol):
    """Where uploads go: the gateway's envelope (`HttpGateway.call`)."""

    def call(self, infno: str, caller: Caller, input_doc: dict[str, Any], msgid: str | None = None,
             read: Any = None, durable: bool = True) -> tuple[Any, Any]: ...


@dataclass
class Sent:
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    waiting: str = ""  # why nothing could be sent (no sign-in)

    @property
    def total(self) -> int:
        return self.accepted + self.rejected + self.failed


def uploads_caller(s: Session, ctx: Ctx) -> Caller | None:
    """The envelope's operator for uploads: the store's newest open sign-in of today (None: no one signed in)."""
    found = s.exec(select(InsuranceSignIn, User).join(User, col(User.id) == InsuranceSignIn.user_id)
                   .where(InsuranceSignIn.store_id == ctx.store_id, InsuranceSignIn.business_date == ctx.today,
                          col(InsuranceSignIn.signed_out_at).is_(None))
                   .order_by(col(InsuranceSignIn.id).desc())).first()
    if found is None:
        return None
    sign_in, user = found
    return Caller(opter_code(user), user.display_name, sign_in.sign_no)


@dataclass(frozen=True, slots=True)
class Backoff:
    least: timedelta
    most: timedelta


def backoff_of(ctx: Ctx) -> Backoff:
    ins = ctx.settings.insurance
    return Backoff(timedelta(seconds=ins.upload_retry_min_seconds), timedelta(seconds=ins.upload_retry_max_seconds))


def send_due(engine: Engine, ctx: Ctx, centre: Centre, batch: int = 20,
             clock: Callable[[], datetime] | None = None, pause_s: float = 0.0) -> Sent:
    """One step: up to `batch` due rows claimed, sent and answered. `clock` (default: the service's clock, read now)
    times the step.

    The rows and their payloads are read without the writer's lock (a till's scan never waits for them); the claim
    is one short durable commit; the answers of the step are recorded together (a stop before that leaves them
    `sent`: sent again at the next start, the centre deduplicating). `pause_s` between messages: the worker shares
    the service's interpreter and writer with the tills, and a day's backlog is not worth a slower scan."""
    now = (clock or utcnow)()
    return _send(engine, Ctx(ctx.store_id, ctx.settings, ctx.actor, now), centre,
                 lambda r: outbox.due(r, ctx.store_id, now, batch), pause_s)


def send_now(engine: Engine, ctx: Ctx, centre: Centre, ids: Sequence[int]) -> Sent:
    """Rows someone waits for (the pharmacist's review at the till, 7204) sent at once, by the worker's own steps:
    claimed first (a row the worker holds is not sent twice), a failure waiting its turn tried now."""
    return _send(engine, ctx, centre, lambda r: outbox.sendable(r, ctx.store_id, ids), 0.0)


def _send(engine: Engine, ctx: Ctx, centre: Centre, pick: Callable[[Reader], list[Any]], pause_s: float) -> Sent:
    now = ctx.now
    done = Sent()
    with read_unit(engine) as r:
        rows = pick(r)
        if not rows:
            return done
        caller = uploads_caller(orm(r), ctx)
        if caller is None:
            done.waiting = NOT_SIGNED_IN
            return done
        payloads = {x.id: x.payload or upload_rows.build(orm(r), ctx, x) for x in rows}
    claimed = []
    with core_unit(engine) as u:
        for x in rows:
            msgid = x.msgid or allocate_msgid(u, ctx.store_id, ctx.settings.store.fixmedins_code,
                                              ctx.settings.store.tz)
            if outbox.claim(u, x.id, msgid, payloads[x.id], now):
                claimed.append((x, msgid, payloads[x.id]))
    pace = backoff_of(ctx)
    answers: list[tuple[Any, str, UploadState, dict[str, Any], dict[str, Any]]] = []
    for n, (x, msgid, payload) in enumerate(claimed):
        if n and pause_s:
            time.sleep(pause_s)
        try:
            outcome = wire_uploads.send(centre, caller, x.txn, payload, msgid)
        except GatewayError as exc:
            wait = outbox.backoff(int(x.attempts) + 1, pace.least, pace.most)
            answers.append((x, msgid, UploadState.FAILED, {"error": exc.message_zh, "next_at": now + wait}, {}))
            done.failed += 1
            continue
        if outcome.accepted:
            output = outcome.receipt.output if outcome.receipt is not None else {}
            answers.append((x, msgid, UploadState.ACCEPTED, {"error": outcome.message if outcome.duplicate else ""}, output))
            done.accepted += 1
        else:
            answers.append((x, msgid, UploadState.REJECTED, {"centre_message": outcome.message}, {}))
            done.rejected += 1
    with core_unit(engine, durable=False) as u:
        for x, msgid, state, more, output in answers:
            if outbox.answered(u, x.id, state, now, **more) and state is UploadState.ACCEPTED and x.txn == REVIEW:
                review_taken(u, ctx, x, msgid, output)
    return done


REVIEW = "7204"


def review_taken(u: Unit, ctx: Ctx, x: Any, msgid: str, output: dict[str, Any]) -> None:
    """A pharmacist's review the platform took (7204 accepted): kept with the platform's rx_chk_biz_sn, which the
    sale's report names, in the transaction that records the answer — what RX-01 reads before anything is
    dispensed (server.services.rx.platform). Uploaded by the reviewing pharmacist's hand."""
    review = orm(u).get(RxReview, int(x.ref_id))
    if review is None:
        return
    inner = output.get("data")
    data: dict[str, Any] = inner if isinstance(inner, dict) else output
    s = orm(u)
    if s.exec(select(EprxReviewUpload).where(EprxReviewUpload.review_id == review.id)).first() is not None:
        return
    row = EprxReviewUpload(store_id=x.store_id, prescription_id=review.prescription_id, review_id=int(x.ref_id),
                           verdict=review.verdict, msgid=msgid,
                           rx_chk_biz_sn=wire.to_text(data.get("rx_chk_biz_sn"))[:40],
                           uploaded_by=review.pharmacist_id, uploaded_at=ctx.now)
    s.add(row)
    audit.record_row(u, x.store_id, ctx.actor, "eprx.review_upload", row, note=f"7204 msgid {msgid}")


def drain(engine: Engine, ctx: Ctx, centre: Centre, clock: Callable[[], datetime] | None = None,
          most: int = 100_000) -> Sent:
    """Send until nothing is due now (the CLI's replay, tests, the benchmark). Rows that failed wait their turn."""
    total = Sent()
    while total.total < most:
        step = send_due(engine, ctx, centre, clock=clock)
        total.accepted += step.accepted
        total.rejected += step.rejected
        total.failed += step.failed
        total.waiting = step.waiting
        if step.total == 0:
            break
    return total


def recover(engine: Engine, ctx: Ctx) -> int:
    """At start-up: rows cut off mid-send go out again."""
    with core_unit(engine) as u:
        return outbox.recover_interrupted(u, ctx.store_id, ctx.now)


# --- what the store sees ---------------------------------------------------------------------------------------

_O = outbox.OUT


def backlog(u: Reader, store_id: int, now: datetime) -> list[rules.Backlog]:
    """Per transaction, what the centre has not accepted yet: how many, how many rejected, the oldest's age (the till's
    status bar and the checklist read this, ST-06)."""
    u.flush()
    q = (sa.select(_O.c.txn, sa.func.count(), sa.func.min(_O.c.created_at),
                   sa.func.sum(sa.case((_O.c.state == UploadState.REJECTED.value, 1), else_=0)))
         .where(_O.c.store_id == store_id, _O.c.state != UploadState.ACCEPTED.value,
                _O.c.id.not_in(outbox.replaced_ids(store_id)))
         .group_by(_O.c.txn).order_by(_O.c.txn))
    out = []
    for txn, n, oldest, rejected in u.connection().execute(q):
        oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
        out.append(rules.Backlog(txn, int(n), int(rejected or 0), max(0.0, (now - oldest_at).total_seconds() / 3600)))
    return out


def month_blockers(u: Reader, store_id: int, first_day: date, last_day: date) -> list[Violation]:
    """What stops the month's close (ST-06): each transaction with facts of the month the centre has not accepted."""
    u.flush()
    q = (sa.select(_O.c.txn, sa.func.count(), sa.func.sum(sa.case((_O.c.state == UploadState.REJECTED.value, 1),
                                                                  else_=0)))
         .where(_O.c.store_id == store_id, _O.c.business_date >= first_day, _O.c.business_date <= last_day,
                _O.c.state != UploadState.ACCEPTED.value, _O.c.id.not_in(outbox.replaced_ids(store_id)))
         .group_by(_O.c.txn).order_by(_O.c.txn))
    return rules.month_refusals(first_day, last_day, [(t, int(n), int(r or 0)) for t, n, r in u.connection().execute(q)])


def status(engine: Engine, ctx: Ctx) -> dict[str, Any]:
    """GET /uploads, `dingdian uploads status`: per transaction and state, the backlog's age, the rejected rows with
    the centre's words, the failed rows with the transport's error."""
    with read_unit(engine) as u:
        conn = u.connection()
        counts = conn.execute(sa.select(_O.c.txn, _O.c.state, sa.func.count()).where(_O.c.store_id == ctx.store_id)
                              .group_by(_O.c.txn, _O.c.state)).all()
        rejected = conn.execute(sa.select(_O).where(_O.c.store_id == ctx.store_id,
                                                    _O.c.state == UploadState.REJECTED.value,
                                                    _O.c.id.not_in(outbox.replaced_ids(ctx.store_id)))
                                .order_by(_O.c.id).limit(200)).all()
        # Failed rows are retried by the worker; listed so a person can see why and send one now (the till's screen).
        failed = conn.execute(sa.select(_O).where(_O.c.store_id == ctx.store_id,
                                                  _O.c.state == UploadState.FAILED.value,
                                                  _O.c.id.not_in(outbox.replaced_ids(ctx.store_id)))
                              .order_by(_O.c.id).limit(200)).all()
        lag = backlog(u, ctx.store_id, ctx.now)
        waiting = uploads_caller(orm(u), ctx) is None
    by_txn: dict[str, dict[str, int]] = {}
    for txn, state, n in counts:
        by_txn.setdefault(txn, {})[state] = int(n)
    limit = ctx.settings.rules.upload_backlog_max_hours
    return {
        "by_txn": [{"txn": t, "name_zh": outbox.TXN_ZH.get(t, t), "states": by_txn[t]} for t in sorted(by_txn)],
        "backlog": [b.as_dict() for b in lag],
        "overdue": [v.as_dict() for v in rules.backlog_refusals(lag, limit)],
        "backlog_max_hours": limit,
        "signed_in": not waiting,
        "rejected": [_public(r) for r in rejected],
        "failed": [_public(r) for r in failed],
    }


def _public(r: Any) -> dict[str, Any]:
    return {"id": r.id, "txn": r.txn, "key": r.key, "state": r.state, "attempts": r.attempts,
            "business_date": r.business_date.isoformat(), "centre_message": r.centre_message,
            "last_error": r.last_error, "msgid": r.msgid, "payload": audit_masked(r.payload)}


def audit_masked(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload as shown: identity numbers masked (SEC-06)."""
    from server.insurance.msglog import masked

    return dict(masked(payload or {}))


# --- a person's hand (the 医保 administrator) --------------------------------------------------------------------

def retry(u: Unit, ctx: Ctx, ids: Sequence[int]) -> int:
    """Rejected or failed rows sent again now, as they are (the centre's problem was fixed on its side, or the
    mapping was uploaded since). Audited. The rows."""
    n = outbox.requeue(u, ctx.store_id, list(ids), ctx.now, [UploadState.REJECTED, UploadState.FAILED])
    audit.record(u, ctx.store_id, ctx.actor, "uploads.retry", "upload_outbox", ",".join(map(str, ids))[:60], None,
                 {"ids": list(ids), "requeued": n})
    return n


def _correctable(u: Unit, ctx: Ctx, row_id: int, states: Sequence[UploadState]) -> Any:
    r = outbox.row(u, ctx.store_id, row_id)
    if r is None or r.txn not in outbox.DATA_TYPE:  # 3501–3506: a 3507 or a platform report is no one's to correct
        raise not_found("上传记录", "upload", row_id=row_id)
    if u.connection().execute(sa.select(_O.c.id).where(_O.c.store_id == ctx.store_id, _O.c.replaces_id == row_id)
                              ).first() is not None:
        raise AppError(409, "UPLOAD-STATE", f"记录 #{row_id} 已由重发的记录取代，请更正新的记录",
                       f"upload #{row_id} was replaced by a re-send: correct that one", {"row_id": row_id})
    if r.state not in {s.value for s in states}:
        zh = "、".join(s.label for s in states)
        raise AppError(409, "UPLOAD-STATE", f"只有{zh}的记录可以更正（此记录：{UploadState(r.state).label}）",
                       f"only a {' or '.join(s.value for s in states)} upload can be corrected (this one is {r.state})",
                       {"state": r.state})
    return r


def correct(u: Unit, ctx: Ctx, row_id: int, fields: dict[str, Any], note: str) -> dict[str, Any]:
    """A rejected row corrected by a person (fields of its payload the centre objected to that no record of the store
    holds, e.g. an operator's name, a time's format) and sent again under a new msgid. What a row says of the ledger
    (batch, quantity, amount) is not the person's to change (ST-02: a wrong quantity is a stock correction, which
    sends 3507 and the corrected row); what it takes from the catalog is corrected there and the row derived again
    (`rederive`)."""
    r = _correctable(u, ctx, row_id, [UploadState.REJECTED])
    if locked := sorted(set(fields) & rules.LEDGER_FIELDS):
        raise AppError(422, "ST-02", f"数量、金额、批次来自库存账，不能在上传中修改：{', '.join(locked)}",
                       f"quantities, amounts and batches come from the stock ledger: {', '.join(locked)}",
                       {"fields": locked})
    if from_catalog := sorted(set(fields) & rules.CATALOG_FIELDS):
        raise AppError(422, "UPLOAD-CATALOG", f"{', '.join(from_catalog)} 来自商品目录：请在目录中更正，再按目录重新生成该记录",
                       f"{', '.join(from_catalog)} come(s) from the catalog: correct the item, then derive the row "
                       "again", {"fields": from_catalog})
    if not note.strip():
        raise AppError(422, "VALIDATION", "更正须说明原因", "a correction needs a note")
    before = dict(r.payload or {})
    after = before | fields
    outbox.set_payload(u, ctx.store_id, row_id, after, ctx.now)
    audit.record(u, ctx.store_id, ctx.actor, "uploads.correct", "upload_outbox", row_id,
                 {"payload": audit_masked(before)}, {"payload": audit_masked(after)}, note=note)
    return after


@dataclass(frozen=True, slots=True)
class Rederived:
    row_id: int
    payload: dict[str, Any]  # the row as it will be sent now
    deletion_id: int | None = None  # the centre had taken the row: its 3507, then the batch's facts of the type
    resent: tuple[int, ...] = ()


def rederive(u: Unit, ctx: Ctx, row_id: int, note: str) -> Rederived:
    """A row derived again from the ledger and the catalog as they stand now (the item's 医保 code, maker or 批准文号
    was corrected since), and sent again. A rejected row is sent as derived, under a new msgid. A row the centre
    accepted went out wrong and the centre holds it: a 3507 for its batch and data type goes first, then every fact
    of that batch and type that stands, each derived again (the centre deletes by batch, ST-02). Refused when the
    derived row is the one already sent: fix the catalog first. Audited."""
    r = _correctable(u, ctx, row_id, [UploadState.REJECTED, UploadState.ACCEPTED])
    if not note.strip():
        raise AppError(422, "VALIDATION", "重新生成须说明原因", "deriving a row again needs a note")
    before = dict(r.payload or {})
    after = upload_rows.build(orm(u), ctx, r)
    if {k: v for k, v in after.items() if k != "memo"} == {k: v for k, v in before.items() if k != "memo"}:
        raise AppError(409, "UPLOAD-SAME", "按目录重新生成的记录与已上传的相同：请先在目录中更正",
                       "the row derived again is the one sent: correct the catalog first", {"row_id": row_id})
    out = Rederived(row_id, after)
    if r.state == UploadState.REJECTED.value:
        outbox.set_payload(u, ctx.store_id, row_id, after, ctx.now)
    else:
        deletion = outbox.delete_and_resend(u, ctx, r.batch_id, r.item_id, outbox.DATA_TYPE[r.txn], f"r{row_id}",
                                            "upload_outbox", str(row_id), rebuild=True)
        resent = u.connection().execute(sa.select(_O.c.id).where(_O.c.store_id == ctx.store_id,
                                                                 _O.c.after_id == deletion).order_by(_O.c.id))
        out = Rederived(row_id, after, deletion, tuple(int(i) for i in resent.scalars()))
    audit.record(u, ctx.store_id, ctx.actor, "uploads.rederive", "upload_outbox", row_id,
                 {"state": r.state, "payload": audit_masked(before)},
                 {"payload": audit_masked(after), "deletion_id": out.deletion_id, "resent": list(out.resent)},
                 note=note)
    return out


# --- the replay after a reinstall ----------------------------------------------------------------------------

class Completeness(Protocol):
    """The centre's count and amount per transaction and day (sandbox: its completeness query)."""

    def __call__(self, first: date, last: date) -> dict[tuple[date, str], tuple[int, int]]: ...


def ours(u: Reader, store_id: int, first: date, last: date) -> dict[tuple[date, str], tuple[int, int]]:
    """What the centre should hold per (day, transaction): the standing facts' count and amount (fen, as the
    centre sums count × price)."""
    out: dict[tuple[date, str], tuple[int, int]] = {}
    for r in outbox.standing(u, store_id, first, last):
        n, amount = out.get((r.business_date, r.txn), (0, 0))
        out[(r.business_date, r.txn)] = (n + 1, amount + (int(r.amount_fen) if r.txn != "3501" else 0))
    return out


def compare(mine: dict[tuple[date, str], tuple[int, int]],
            theirs: dict[tuple[date, str], tuple[int, int]]) -> list[dict[str, Any]]:
    """Each (day, transaction) where the centre's count or amount is not ours."""
    return [{"day": d.isoformat(), "txn": t, "ours": list(mine.get((d, t), (0, 0))),
             "centre": list(theirs.get((d, t), (0, 0)))}
            for d, t in sorted(set(mine) | set(theirs)) if mine.get((d, t), (0, 0)) != theirs.get((d, t), (0, 0))]


def replay(engine: Engine, ctx: Ctx, first: date, last: date, centre_holds: Completeness) -> dict[str, Any]:
    """After a reinstall or a restore: each day and transaction the centre does not hold as we do has its standing
    facts sent again (the centre deduplicates what it had). Audited. The differences found and the rows re-queued;
    `prove` after the worker has drained tells whether the days are complete."""
    with read_unit(engine) as r:
        mine = ours(r, ctx.store_id, first, last)
        rows = outbox.standing(r, ctx.store_id, first, last)
    differences = compare(mine, centre_holds(first, last))
    short = {(d["day"], d["txn"]) for d in differences}
    ids = [int(x.id) for x in rows if (x.business_date.isoformat(), x.txn) in short]
    with core_unit(engine) as u:
        n = outbox.requeue(u, ctx.store_id, ids, ctx.now, [UploadState.ACCEPTED, UploadState.FAILED,
                                                          UploadState.PENDING])
        audit.record(u, ctx.store_id, ctx.actor, "uploads.replay", "upload_outbox", f"{first}..{last}", None,
                     {"from": first.isoformat(), "to": last.isoformat(), "differences": differences, "requeued": n})
    return {"differences": differences, "requeued": n}


def prove(engine: Engine, ctx: Ctx, first: date, last: date, centre_holds: Completeness) -> dict[str, Any]:
    """Completeness per day: ours against the centre's count and amount per transaction; complete when none differ."""
    with read_unit(engine) as r:
        mine = ours(r, ctx.store_id, first, last)
    differences = compare(mine, centre_holds(first, last))
    return {"complete": not differences, "differences": differences,
            "days": sorted({d.isoformat() for d, _ in mine}),
            "facts": sum(n for n, _ in mine.values())}
