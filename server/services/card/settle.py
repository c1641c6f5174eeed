"""Settling (2102) with the completion, intent first, and resolving what is uncertain (2601): the settlement's
status moves only along its edges; at start-up every intent or uncertain one is resolved (`recover`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from server import audit
from server.db.models import CardSettlement, SaleStatus, SettlementStatus, User
from server.db.uow import Unit, core_unit, orm, read_unit
from server.errors import AppError, conflict
from server.insurance import messages as m
from server.insurance.errors import GatewayError
from server.insurance.gateway import InsuranceGateway
from server.rules.tenders import TenderOffer
from server.services import sales_ledger
from server.services.card import counter, rows
from server.services.card.cancel import recover_cancels
from server.services.card.plan import prepare
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.sale import completion

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
        prep = prepare(u, ctx, sale_id, till_code, forced, offers)
        msgid = ins.settlement_msgid(u, ctx)
        row = rows.add_intent(u, {"store_id": ctx.store_id, "sale_id": prep.sale.id, "msgid": msgid,
                                  "medfee_sumamt_fen": prep.total_fen, "created_by": ctx.actor_id,
                                  "created_at": ctx.now, "lines": [_line_json(d) for d in prep.request.drugdetail]})
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
        raise AppError(424, "SETTLE-UNCERTAIN",
                       "医保结算结果不确定，" + ("已冲正撤销，请重新结算或改用其他方式支付" if outcome == "reversed"
                                         else "冲正未成功，请稍后在“待确认结算”中处理"),
                       "the settlement's outcome was uncertain; " + ("it was reversed: settle again or pay otherwise"
                                                                     if outcome == "reversed" else
                                                                     "the reversal did not go through yet: resolve it later"),
                       {"msgid": msgid, "settlement_id": settlement_id, "status": outcome}) from None
    try:
        return _record_and_complete(engine, ctx, settlement_id, settled, till_code, offers, answer)
    except Exception as exc:
        # Settled at the centre but the sale cannot complete here (the tenders do not add up, a database
        # error): take the settlement back, so there is never a settlement without its sale.
        if _mark(engine, ctx, settlement_id, SettlementStatus.UNCERTAIN, str(getattr(exc, "message_en", exc))):
            resolve(engine, ctx, gateway, settlement_id, force=True)
        raise


def _line_json(d: m.DrugDetail) -> dict[str, Any]:
    return {"feedetl_sn": d.feedetl_sn, "med_list_codg": d.med_list_codg, "medins_list_codg": d.medins_list_codg,
            "cnt": str(d.cnt), "pric_fen": d.pric_fen, "det_item_fee_sumamt_fen": d.det_item_fee_sumamt_fen,
            "rxno": d.rxno}


def _record_and_complete(engine: Engine, ctx: Ctx, settlement_id: int, settled: m.Settlement, till_code: str,
                         offers: list[TenderOffer], answer: Answer) -> Any:
    info = settled.setlinfo
    with core_unit(engine) as u:
        row = rows.settlement(u, settlement_id, lock=True)
        assert row is not None
        if row.status != SettlementStatus.INTENT.value:  # resolved (reversed) while the answer was on its way
            raise conflict("SETTLE-STALE", "该结算已被冲正处理，本次应答作废", "the settlement was resolved meanwhile",
                           settlement_id=settlement_id, status=row.status)
        after = rows.change(
            u, settlement_id, status=SettlementStatus.SETTLED.value, resolved_at=ctx.now,
            fund_pay_fen=info.fund_pay_sumamt_fen, acct_pay_fen=info.acct_pay_fen, cash_pay_fen=info.cash_fen,
            balc_fen=info.balc_fen, setl_id=info.setl_id, mdtrt_id=info.mdtrt_id,
            answer={k: str(v) if isinstance(v, Decimal) else v  # as received, the ID number left out (SEC-06)
                    for k, v in settled.receipt.output.get("setlinfo", {}).items() if k != "certno"})
        audit.record(u, ctx.store_id, ctx.actor, "settlement.settled", "card_settlement", settlement_id,
                     rows.image(CardSettlement, row), rows.image(CardSettlement, after), note=f"setl_id {info.setl_id}")
        card_fen = info.fund_pay_sumamt_fen + info.acct_pay_fen
        paid = [TenderOffer("insurance", card_fen, card_fen, info.setl_id), *offers]
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
