"""Settling (2102) with the completion, intent first, and resolving what is uncertain (2601): the settlement's
status moves only along its edges; at start-up every intent or uncertain one is resolved (`recover`).

A settlement taken back on its own (its answer lost, or settled but the sale could not complete with it) is told
to the cashier in plain words (SETTLE-REVERSED: nothing was taken from the card, and what to do next), or, when
the reversal did not go through yet, that it waits to be resolved (SETTLE-UNCERTAIN)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from server import audit
from server.db.models import CardSettlement, SaleStatus, SettlementStatus, User
from server.db.uow import Unit, core_unit, orm, read_unit
from server.errors import AppError, conflict, refused
from server.insurance import messages as m
from server.insurance.errors import GatewayError
from server.insurance.gateway import InsuranceGateway
from server.rules.card_answer import answer_refusals
from server.rules.tenders import TenderOffer
from server.services import sales_ledger
from server.services.card import counter, rows
from server.services.card.cancel import recover_cancels
from server.services.card.plan import prepare
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.sale import completion
from server.services.stock import ledger

log = logging.getLogger("dingdian.card")

# What the caller makes of the completed (or replayed) sale, inside its unit of work: (unit, the completion,
# the tenders just paid — None for a replay, whose tenders are the sale's own).
Answer = Callable[[Unit, completion.Completion, list[TenderOffer] | None], Any]


def _as_is(_u: Unit, done: completion.Completion, _paid: list[TenderOffer] | None) -> completion.Completion:
    return done


UNRESOLVED = (SettlementStatus.INTENT.value, SettlementStatus.UNCERTAIN.value)


_MAY_BECOME = {  # a settlement's status moves only along these edges (compare-and-set under a row lock)
    SettlementStatus.UNCERTAIN: {SettlementStatus.INTENT.value, SettlementStatus.UNCERTAIN.value},
    SettlementStatus.FAILED: {SettlementStatus.INTENT.value},
    SettlementStatus.REVERSED: {SettlementStatus.INTENT.value, SettlementStatus.UNCERTAIN.value},
}


def _mark(engine: Engine, ctx: Ctx, settlement_id: int, status: SettlementStatus, error: str = "",
          reopen: bool = False) -> bool:
    """Move the row to `status` if it is still where that may come from; False if someone else moved it first."""
    with core_unit(engine) as u:
        row = rows.settlement(u, settlement_id, lock=True)
        assert row is not None
        if row.status not in _MAY_BECOME[status]:
            return False
        after = rows.change(u, settlement_id, status=status.value, error=error[:300], resolved_at=ctx.now)
        if reopen:
            sale = sales_ledger.sale(u, ctx, row.sale_id, lock=True)
            if sale.status == SaleStatus.SETTLING.value and not rows.live_beside(u, row.sale_id, settlement_id):
                opened = sales_ledger.change_sale(u, row.sale_id, status=SaleStatus.OPEN.value)
                audit.record(u, ctx.store_id, ctx.actor, "sale.reopen", "sale", row.sale_id,
                             audit.row_image(sale._asdict()), audit.row_image(opened._asdict()), note=status.value)
        audit.record(u, ctx.store_id, ctx.actor, f"settlement.{status.value}", "card_settlement", settlement_id,
                     rows.image(CardSettlement, row), rows.image(CardSettlement, after), note=error[:300])
        return True


def settle(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, sale_id: str, till_code: str,
           offers: list[TenderOffer], forced: set[int] | None = None, answer: Answer = _as_is) -> Any:
    """2102 and the completion. `offers` pay what the card does not (the person's cash part and self-pay lines).
    Returns answer(unit, completion, tenders paid), made inside the completion's unit of work (default: the
    completion)."""
    if any(o.kind == "insurance" for o in offers):
        raise AppError(422, "CARD-01", "医保支付金额由医保中心结算决定，不能手工填写",
                       "the card's part comes from the centre's settlement, not from the client")
    # The intent is on disk before 2102 leaves, by the message log's out row: the gateway commits it durably
    # (synchronous=FULL, server.insurance.msglog) before anything is sent, and on SQLite that sync of the
    # WAL carries every commit before it, this one too; a power cut before it loses an intent whose 2102
    # never left. So this commit is not synced on its own (durable=False: one fsync fewer on every card
    # sale, about 4 ms here); on PostgreSQL every commit is durable anyway.
    with core_unit(engine, durable=False) as u:
        sale = sales_ledger.sale(u, ctx, sale_id)
        if sale.status == SaleStatus.COMPLETED.value and rows.settled_of(u, sale.id) is not None:
            # a retried settle of a sale it already paid gets the first result
            if counter.point_of(u, ctx, till_code).id != sale.till_id:
                raise conflict("SALE-TAKEN", f"该销售单已在其他收款机完成（小票号 {sale.sale_no}）",
                               f"the sale was completed on another till ({sale.sale_no})", sale_no=sale.sale_no)
            return answer(u, completion.Completion(sale, replayed=True), None)
        ledger.refuse_closed(u, ctx, "card settlement")  # ST-02: before 2102 leaves, not after (月结)
        prep = prepare(u, ctx, sale_id, till_code, forced, offers)
        msgid = ins.settlement_msgid(u, ctx)
        row = rows.add_intent(u, {"store_id": ctx.store_id, "sale_id": prep.sale.id, "msgid": msgid,
                                  "medfee_sumamt_fen": prep.total_fen, "created_by": ctx.actor_id,
                                  "created_at": ctx.now,
                                  "lines": [_line_json(d, prep.request.drug_trac_info) for d in prep.request.drugdetail]})
        # nothing else happens to the sale until this is resolved
        settling = sales_ledger.change_sale(u, prep.sale.id, status=SaleStatus.SETTLING.value)
        audit.record(u, ctx.store_id, ctx.actor, "settlement.intent", "card_settlement", row.id, None,
                     rows.image(CardSettlement, row))
        audit.record(u, ctx.store_id, ctx.actor, "sale.settling", "sale", prep.sale.id, audit.row_image(prep.sale._asdict()),
                     audit.row_image(settling._asdict()), note=f"2102 msgid {msgid}")
        settlement_id, caller, request = int(row.id), prep.caller, prep.request
    try:
        settled = gateway.settle(caller, request, msgid)
    except GatewayError as e:
        if not e.uncertain:  # certainly not settled: the sale is open again and can be paid otherwise
            _mark(engine, ctx, settlement_id, SettlementStatus.FAILED, e.message_en, reopen=True)
            raise e.to_app_error() from None
        _mark(engine, ctx, settlement_id, SettlementStatus.UNCERTAIN, e.message_en)
        outcome = resolve(engine, ctx, gateway, settlement_id, force=True)
        raise taken_back(outcome, msgid, settlement_id, e.to_app_error()) from None
    try:
        return _record_and_complete(engine, ctx, settlement_id, settled, till_code, offers, answer)
    except Exception as exc:
        # Settled at the centre but the sale cannot complete here (the answer is not the sale's, the tenders do
        # not add up, a database error): take the settlement back, so there is never a settlement without its sale.
        if not _mark(engine, ctx, settlement_id, SettlementStatus.UNCERTAIN, str(getattr(exc, "message_en", exc))):
            raise  # resolved meanwhile by someone else: their outcome stands
        if not isinstance(exc, AppError):
            log.exception("settlement %s: the sale could not complete; taking the settlement back", msgid)
        cause = exc if isinstance(exc, AppError) else AppError(
            500, "INTERNAL", "系统内部错误，销售未能完成", "an internal error: the sale could not complete")
        raise taken_back(resolve(engine, ctx, gateway, settlement_id, force=True), msgid, settlement_id,
                         cause) from None


def taken_back(outcome: str, msgid: str, settlement_id: int, cause: AppError) -> AppError:
    """What the cashier is told when a settlement was taken back on its own (2601) — or could not be yet."""
    details = {"msgid": msgid, "settlement_id": settlement_id, "status": outcome, "cause": cause.body()}
    if outcome == SettlementStatus.REVERSED.value:
        return AppError(cause.status, "SETTLE-REVERSED",
                        f"医保结算已自动冲正撤销，医保卡没有扣款（统筹基金和个人账户都未支付）。原因：{cause.message_zh}。"
                        "本单仍未收款：请重新预结算后再确认，或改用现金等其他方式支付",
                        f"the card settlement was reversed automatically: nothing was taken from the card "
                        f"(cause: {cause.message_en}). The sale is still unpaid: preview and settle again, or pay "
                        "another way", details | {"card_charged": False})
    return AppError(424, "SETTLE-UNCERTAIN",
                    f"医保结算结果待确认：{cause.message_zh}。自动冲正尚未成功，不能确定医保卡是否扣款；"
                    "请稍后在“待确认结算”中冲正确认，处理前该销售不能继续",
                    f"the settlement's outcome is not known ({cause.message_en}); the reversal did not go through "
                    "yet: resolve it before the sale goes on", details)


def _line_json(d: m.DrugDetail, traces: list[m.DrugTracInfo]) -> dict[str, Any]:
    mine = [t for t in traces if t.feedetl_sn == d.feedetl_sn]
    return {"feedetl_sn": d.feedetl_sn, "med_list_codg": d.med_list_codg, "medins_list_codg": d.medins_list_codg,
            "cnt": str(d.cnt), "pric_fen": d.pric_fen, "det_item_fee_sumamt_fen": d.det_item_fee_sumamt_fen,
            "rxno": d.rxno} | ({"trace_codes": [t.drug_trac_codg for t in mine], "trdn_flag": mine[0].trdn_flag}
                               if mine else {})


def _record_and_complete(engine: Engine, ctx: Ctx, settlement_id: int, settled: m.Settlement, till_code: str,
                         offers: list[TenderOffer], answer: Answer) -> Any:
    info, shares = settled.setlinfo, settled.shares()  # booked in fen, half up; the answer kept as received
    with core_unit(engine) as u:
        row = rows.settlement(u, settlement_id, lock=True)
        assert row is not None
        if row.status != SettlementStatus.INTENT.value:  # resolved (reversed) while the answer was on its way
            raise conflict("SETTLE-STALE", "该结算已被冲正处理，本次应答作废", "the settlement was resolved meanwhile",
                           settlement_id=settlement_id, status=row.status)
        if problems := answer_refusals(row.medfee_sumamt_fen, shares.medfee_fen, *settled.parts_exact(), "2102"):
            raise refused(problems)  # CARD-01: never completed with other figures than the sale's
        after = rows.change(
            u, settlement_id, status=SettlementStatus.SETTLED.value, resolved_at=ctx.now,
            fund_pay_fen=shares.fund_fen, acct_pay_fen=shares.acct_fen, cash_pay_fen=shares.cash_fen,
            balc_fen=shares.balc_fen, setl_id=info.setl_id, mdtrt_id=info.mdtrt_id,
            answer={k: str(v) if isinstance(v, Decimal) else v  # as received, the ID number left out (SEC-06)
                    for k, v in settled.receipt.output.get("setlinfo", {}).items() if k != "certno"})
        audit.record(u, ctx.store_id, ctx.actor, "settlement.settled", "card_settlement", settlement_id,
                     rows.image(CardSettlement, row), rows.image(CardSettlement, after), note=f"setl_id {info.setl_id}")
        paid = [TenderOffer("insurance", shares.card_fen, shares.card_fen, info.setl_id), *offers]
        done = completion.complete(u, ctx, row.sale_id, till_code, paid, settling=True)
        if done.replayed:  # never two settlements for one sale
            raise conflict("SALE-STATE", "该销售单已经完成收款", "the sale was already completed")
        return answer(u, done, paid)


def resolve(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, settlement_id: int, force: bool = False) -> str:
    """2601 reversal by msgid of a settlement whose outcome is unknown: afterwards it is certainly not in
    effect and the sale is open again. Returns the settlement's status after the attempt.

    An intent younger than twice the centre's timeout may still have its 2102 in flight: it is left
    alone unless `force` (its own request giving up, or start-up, when nothing is in flight)."""
    with read_unit(engine) as u:
        row = rows.settlement(u, settlement_id)
        if row is None or row.store_id != ctx.store_id:
            raise AppError(404, "NOT_FOUND", "结算记录不存在", "settlement not found", {"settlement_id": settlement_id})
        if row.status not in UNRESOLVED:
            return str(row.status)
        in_flight = timedelta(seconds=2 * ctx.settings.insurance.timeout_seconds)
        if row.status == SettlementStatus.INTENT.value and not force and ctx.now - row.created_at < in_flight:
            return str(row.status)
        insured = rows.insured_of(u, row.sale_id)
        if ctx.actor.user_id is None:  # recovery at start-up: the reversal goes out as the settling operator
            creator = orm(u).get(User, row.created_by)
            ctx = ctx.acting(audit.Actor(row.created_by, creator.username if creator else "system"))
        caller = counter.caller(u, ctx, insured.insuplc_admdvs if insured else "", signed_in=False)
        msgid, psn_no = row.msgid, insured.psn_no if insured else ""
    try:
        gateway.reverse(caller, m.ReversalRequest(psn_no=psn_no, omsgid=msgid, oinfno="2102"))
    except GatewayError as e:
        _mark(engine, ctx, settlement_id, SettlementStatus.UNCERTAIN, f"2601: {e.message_en}")
        return SettlementStatus.UNCERTAIN.value
    _mark(engine, ctx, settlement_id, SettlementStatus.REVERSED, "reversed by 2601", reopen=True)
    return SettlementStatus.REVERSED.value


def unresolved(u: Unit, ctx: Ctx) -> list[Any]:
    """The store's settlements whose outcome is not known yet (card_settlement's rows), oldest first."""
    return rows.unresolved(u, ctx.store_id)


def recover(engine: Engine, ctx: Ctx, gateway: InsuranceGateway) -> dict[int, str]:
    """At start-up: every settlement left as an intent (a crash between commit and answer) or uncertain
    is resolved before its sale can be touched again."""
    with read_unit(engine) as u:
        ids = [int(r.id) for r in unresolved(u, ctx)]
    outcome = {i: resolve(engine, ctx, gateway, i, force=True) for i in ids}
    return outcome | recover_cancels(engine, ctx, gateway)
