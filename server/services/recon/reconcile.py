"""Reconciling with the centre (ST-07): 3201 per clearing group for a day or a month; on 不平, our settlement
list uploaded (9101) for 3202 and the centre's result file fetched (9102), each settlement then 平 or 不平 with the
centre's message; a settlement only the centre holds taken back with 2601 (a second person checks it, SEC-01);
a difference that stays acknowledged by the 医保 administrator with a note.

Nothing is sent inside a database transaction: the books are read, the centre asked, and each run recorded in a
unit of its own as soon as its answer is in (a run that failed to reach the centre records nothing).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from server import audit
from server.db.models.recon import run_figures
from server.db.uow import Unit, core_unit, read_unit
from server.errors import AppError, refused
from server.insurance import messages as m
from server.insurance.clearing import ClearingGroup
from server.insurance.errors import GatewayError
from server.insurance.gateway import Caller, InsuranceGateway
from server.insurance.stmtfiles import RESULT_COLUMNS, unzip_rows, zip_rows
from server.rules.recon import ack_refusals, repair_refusals
from server.services.card import counter
from server.services.context import Ctx
from server.services.recon import books, runs
from server.services.store import second_person

KINDS = ("day", "month")


def month_span(month: str) -> tuple[date, date]:
    """'2026-12' → (1 December, 31 December); a malformed month is refused."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])
    except ValueError as exc:
        raise AppError(422, "RECON-MONTH", "月份格式应为 YYYY-MM", "the month is YYYY-MM", {"month": month}) from exc


@dataclass
class Outcome:
    runs: list[Any] = field(default_factory=list)  # the recorded runs (recon_run rows), one per group


def _caller(engine: Engine, ctx: Ctx, admdvs: str) -> Caller:
    with read_unit(engine) as u:
        return counter.caller(u, ctx, admdvs)  # the operator's sign-in of today (9001), as every call needs


def _detail_file(rows: list[books.Booked]) -> bytes:
    """Our settlement list for 3202 (reference §5.2): setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt,
    acct_pay, refd_setl_flag — a refund as its own (negative) row beside its settlement."""
    def yuan(v: Decimal) -> str:
        return format(v, "f")

    return zip_rows("settlements.txt", [(r.setl_id, r.mdtrt_id, r.psn_no, yuan(r.medfee), yuan(r.fund), yuan(r.acct),
                                         r.refd_setl_flag) for r in rows])


def _detail(gateway: InsuranceGateway, caller: Caller, group: ClearingGroup, first: date, last: date, flag: str,
            ours: list[books.Booked]) -> tuple[str, list[dict[str, str]]]:
    """3202 over the group's clearing agency (3202 names no 险种: the list is the agency's, every group of it):
    the 3202's msgid and the centre's rows. Raises GatewayError."""
    listed = books.counted([b for b in ours if (b.group.clr_optins, b.group.clr_type)
                            == (group.clr_optins, group.clr_type)], flag)
    t = books.totals(listed)
    up = gateway.upload_file(caller, f"3202_{group.clr_optins}_{first:%Y%m%d}_{last:%Y%m%d}.zip", _detail_file(listed))
    info = gateway.reconcile_detail(caller, m.ReconDetailRequest(
        setl_optins=group.clr_optins, file_qury_no=up.file_qury_no, stmt_begndate=first, stmt_enddate=last,
        medfee_sumamt_fen=t.medfee_fen, fund_pay_sumamt_fen=t.fund_fen, cash_payamt_fen=t.cash_fen,
        fixmedins_setl_cnt=t.count, clr_type=group.clr_type, refd_setl_flag=flag))
    content = gateway.download_file(caller, info.file_qury_no, info.filename)
    try:
        cells = unzip_rows(content)
    except ValueError as exc:
        raise AppError(502, "RECON-FILE", "中心的对账结果文件无法读取", "the centre's result file is unreadable",
                       {"error": str(exc)}) from exc
    return info.file_qury_no, [dict(zip(RESULT_COLUMNS, c + [""] * (len(RESULT_COLUMNS) - len(c)), strict=False))
                               for c in cells]


def reconcile(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, kind: str, first: date, last: date) -> Outcome:
    """3201 for every clearing group with settlements of ours in [first, last]; on 不平, 3202 names each settlement.
    Each run is recorded and audited as its answer comes in."""
    if kind not in KINDS or last < first:
        raise AppError(422, "RECON-PERIOD", "对账期间无效", "the period is not a day or a month", {"kind": kind})
    store = ctx.settings.store
    flag = ctx.settings.insurance.recon_refd_setl_flag
    with read_unit(engine) as u:
        ours = books.booked(u, ctx.store_id, store.tz, store.admdvs, first, last)
    caller = _caller(engine, ctx, store.admdvs)
    out = Outcome()
    for group in sorted({b.group for b in ours}):
        rows = books.counted([b for b in ours if b.group == group], flag)
        t = books.totals(rows)
        try:
            answer = gateway.reconcile(caller, m.ReconRequest(
                insutype=group.insutype, setl_optins=group.clr_optins, stmt_begndate=first, stmt_enddate=last,
                medfee_sumamt_fen=t.medfee_fen, fund_pay_sumamt_fen=t.fund_fen, acct_pay_fen=t.acct_fen,
                fixmedins_setl_cnt=t.count, clr_type=group.clr_type, refd_setl_flag=flag))
        except GatewayError as exc:
            raise exc.to_app_error() from None
        detail_msgid, detail_error, items = "", "", list[dict[str, str]]()
        if not answer.balanced:
            try:
                detail_msgid, items = _detail(gateway, caller, group, first, last, flag, ours)
            except GatewayError as exc:  # the 3201's 不平 is recorded all the same; 3202 can be asked again
                detail_error = exc.to_app_error().message_zh[:300]
            except AppError as exc:  # a result file we cannot read
                detail_error = exc.message_zh[:300]
        mine = {b.setl_id for b in ours}
        with core_unit(engine) as u:
            run = runs.add_run(u, ctx.actor, {
                "store_id": ctx.store_id, "kind": kind, "stmt_begndate": first, "stmt_enddate": last,
                "insutype": group.insutype, "clr_type": group.clr_type, "clr_optins": group.clr_optins,
                "away": group.nonlocal_, "refd_setl_flag": flag, "medfee_fen": t.medfee_fen, "fund_fen": t.fund_fen,
                "acct_fen": t.acct_fen, "cash_fen": t.cash_fen, "setl_cnt": t.count,
                "setl_ids": [b.setl_id for b in rows], "result": "0" if answer.balanced else "1",
                "result_dscr": answer.stmtinfo.stmt_rslt_dscr[:200], "msgid": answer.receipt.msgid,
                "detail_msgid": detail_msgid[:30], "detail_error": detail_error, "ran_by": ctx.actor.user_id,
                "ran_at": ctx.now})
            for it in items:
                runs.add_item(u, ctx.actor, {
                    "store_id": ctx.store_id, "run_id": run.id, "setl_id": it["setl_id"][:30],
                    "mdtrt_id": it["mdtrt_id"][:30], "psn_no": it["psn_no"][:30], "msgid": it["msgid"][:30],
                    "refd_setl_flag": (it["refd_setl_flag"] or "0")[:1], "stmt_rslt": (it["stmt_rslt"] or "1")[:1],
                    "memo": it["memo"][:300], "ours": it["setl_id"] in mine})
            out.runs.append(run)
    return out


def acknowledge(u: Unit, ctx: Ctx, run_id: int, note: str) -> Any:
    """The 医保 administrator acknowledges a 不平 run's difference with a note (ST-07: a write-off of what the centre
    will not pay, or owes): audited; the latest run of its day × group only, once per difference."""
    run = runs.run(u, ctx.store_id, run_id)
    if run is None:
        raise AppError(404, "NOT_FOUND", "对账记录不存在", "no such reconciliation run", {"run_id": run_id})
    # the same day (or month) × group under the same refund policy: the month close judges each policy's latest
    same = [r for r in runs.runs_between(u, ctx.store_id, run.stmt_begndate, run.stmt_enddate, run.kind)
            if (r.stmt_begndate, r.stmt_enddate, r.insutype, r.clr_type, r.clr_optins, r.away, r.refd_setl_flag)
            == (run.stmt_begndate, run.stmt_enddate, run.insutype, run.clr_type, run.clr_optins, run.away,
                run.refd_setl_flag)]
    acks = runs.acks_of(u, [r.id for r in same])
    already = any(acks[r.id] and run_figures(r) == run_figures(run) for r in same)
    if problems := ack_refusals(note, run.result, same[-1].id == run.id, already):
        raise refused(problems)
    return runs.add_ack(u, ctx.actor, {"store_id": ctx.store_id, "run_id": run.id, "note": note.strip()[:500],
                                       "acked_by": ctx.actor_id, "acked_at": ctx.now})


def repair(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, item_id: int,
           confirmation: second_person.Confirmation | None = None) -> Any:
    """2601 of a settlement (or a cancellation) the centre holds and our books do not — the store lost it, or it was
    made behind the store's back — by the message id the centre's 3202 gave. A reversal: a second person checks it
    (SEC-01), confirmed in place (X-Second; server.services.store.second_person.confirmation_of). The run is not
    changed: reconcile the day again to see it 平."""
    with read_unit(engine) as u:
        row = runs.item(u, ctx.store_id, item_id)
        if row is None:
            raise AppError(404, "NOT_FOUND", "对账明细不存在", "no such reconciliation item", {"item_id": item_id})
        run = runs.run(u, ctx.store_id, row.run_id)
        if problems := repair_refusals(row.stmt_rslt, row.ours, row.msgid):
            raise refused(problems)
        second_person.require(u, ctx, "SEC-01", 0, True, confirmation)
        caller = counter.caller(u, ctx, run.clr_optins)
    oinfno = "2103" if row.refd_setl_flag == "1" else "2102"
    try:
        result = gateway.reverse(caller, m.ReversalRequest(psn_no=row.psn_no, omsgid=row.msgid, oinfno=oinfno))
    except GatewayError as exc:
        raise exc.to_app_error() from None
    with core_unit(engine) as u:
        audit.record(u, ctx.store_id, ctx.actor, "recon.repair", "recon_repair", item_id, None,
                     {"item_id": item_id, "setl_id": row.setl_id, "omsgid": row.msgid, "oinfno": oinfno,
                      "msgid": result.receipt.msgid, "confirmed_by": confirmation.user_id if confirmation else None},
                     note=f"2601 {oinfno} {row.msgid}")
    return {"item_id": item_id, "setl_id": row.setl_id, "omsgid": row.msgid, "oinfno": oinfno,
            "msgid": result.receipt.msgid, "warn_msg": result.receipt.warn_msg}
