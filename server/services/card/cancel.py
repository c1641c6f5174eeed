"""Cancelling a settled sale (2103): the card part goes back to the fund and the account, never as cash
(CARD-04); a later-day reversal, or one above the store's amount, needs a second person (SEC-01); a 2103 of unknown outcome is taken back (2601)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import Engine

from server import audit
from server.db.models import CardSettlement, SaleReturn, SettlementStatus
from server.db.uow import Unit, core_unit, orm, read_unit
from server.errors import AppError, conflict
from server.insurance import messages as m
from server.insurance.errors import GatewayError
from server.insurance.gateway import Caller, InsuranceGateway
from server.services import records, sales_ledger
from server.services.card import counter, rows
from server.services.context import Ctx
from server.services.insurance import sign_in as ins
from server.services.sale import returns
from server.services.store import second_person
from server.services.store.shifts import open_shift_for

log = logging.getLogger(__name__)


def cancel(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, sale_id: str, till_code: str, return_id: str,
           reason: str, to_quarantine: bool, confirmation: second_person.Confirmation | None = None,
           ip: str = "127.0.0.1") -> Any:
    """Return a card-paid sale whole: 2103 cancels the settlement, then the return puts stock back by batch
    and refunds the cash part in cash; the card part is never refunded as cash (CARD-04).

    Authorised in place (F11 at a cashier's till), the authoriser is the operator the centre records: if they are
    not signed in today, they are signed in (9001) for this 2103 and signed out (9002) after it. `ip`: the till's.

    The cancellation is committed on its own as soon as the centre confirms it; the return follows. A
    retry with the same return id gets the first result; a return that failed after a confirmed 2103 is
    made by the retry without a second 2103.
    """
    if not reason.strip():
        raise AppError(422, "CARD-04", "撤销医保结算须填写原因", "cancelling a card settlement needs a reason")
    confirmed_by: int | None = None
    with core_unit(engine) as u:
        done = orm(u).get(SaleReturn, return_id)
        if done is not None:
            if done.store_id != ctx.store_id or done.sale_id != sale_id:
                raise conflict("RETURN-ID", "退货单号已被使用", "this return id is already used")
            return done  # a retried cancellation: the first result, nothing sent again
        open_shift_for(orm(u), ctx, till_code)  # the return will need the till's open shift: known before 2103
        sale = sales_ledger.sale(u, ctx, sale_id, lock=True)
        if _cancelled_awaiting_return(u, sale.id):
            settlement_id = None
        else:
            row = rows.settled_of(u, sale.id)
            if row is None:
                raise conflict("CARD-04", "该销售单没有有效的医保结算", "the sale has no settlement in effect",
                               sale_id=sale_id)
            if row.cancel_msgid:
                raise conflict("CARD-04", "上一次撤销结果待确认，请稍后再试", "a previous 2103 is still being resolved")
            # a later-day reversal, or one above the store's amount, is checked by a second person (SEC-01)
            later_day = sale.business_date is not None and sale.business_date < ctx.today
            confirmed_by = second_person.require(u, ctx, "CARD-04", sale.total_fen, later_day, confirmation)
            insured = rows.insured_of(u, sale.id)
            # Authorised in place, the authoriser acts with the centre (the envelope's 经办人): not signed in today,
            # they are signed in for this call below (9001), after the intent and before the 2103.
            caller = counter.caller(u, ctx, insured.insuplc_admdvs if insured else "",
                                    signed_in=ctx.actor.till_user is None)
            # intent first: the 2103's msgid is on record
            after = rows.change(u, row.id, cancel_msgid=ins.settlement_msgid(u, ctx))
            audit.record(u, ctx.store_id, ctx.actor, "settlement.cancel_intent", "card_settlement", row.id,
                         rows.image(CardSettlement, row), rows.image(CardSettlement, after), note=reason)
            request = m.CancelRequest(setl_id=row.setl_id, mdtrt_id=row.mdtrt_id,
                                      psn_no=insured.psn_no if insured else "")
            settlement_id, cancel_msgid = int(row.id), str(after.cancel_msgid)
    if settlement_id is not None:
        for_call = None
        if not caller.sign_no:  # an authoriser in place not signed in today: signed in for this call
            for_call = _sign_in_for_call(engine, ctx, gateway, settlement_id, ip)
            caller = dataclasses.replace(caller, sign_no=for_call.sign_no)
        try:
            gateway.cancel(caller, request, msgid=cancel_msgid)
        except GatewayError as e:
            # Certainly not cancelled, or an uncertain 2103 taken back by 2601: the settlement stands and the
            # intent is cleared. An uncertain one that 2601 could not take back stays for `recover`.
            if not e.uncertain:
                _clear_cancel(engine, ctx, settlement_id, e.message_en)
            elif _reverse_cancel(gateway, caller, request.psn_no, cancel_msgid):
                _clear_cancel(engine, ctx, settlement_id, e.message_en)
                cause = e.to_app_error()  # said plainly: taken back, so nothing went back to the card
                raise AppError(cause.status, "CANCEL-REVERSED",
                               f"医保撤销（2103）结果不确定，已自动冲正：原医保结算仍然有效，没有退回医保卡，也没有办理退货。"
                               f"原因：{cause.message_zh}。请稍后重新办理退货",
                               f"the 2103's outcome was uncertain and it was reversed automatically: the settlement "
                               f"stands, nothing went back to the card and no return was made ({cause.message_en}); "
                               "make the return again later",
                               {"msgid": cancel_msgid, "settlement_id": settlement_id, "status": "settled",
                                "cause": cause.body()}) from None
            raise e.to_app_error() from None
        else:
            with core_unit(engine) as u:  # the centre has cancelled: recorded at once, on its own
                row = rows.settlement(u, settlement_id, lock=True)
                assert row is not None
                after = rows.change(u, settlement_id, status=SettlementStatus.CANCELLED.value,
                                    cancel_reason=reason.strip(), cancelled_by=ctx.actor.user_id,
                                    cancel_confirmed_by=confirmed_by)
                audit.record(u, ctx.store_id, ctx.actor, "settlement.cancelled", "card_settlement", settlement_id,
                             rows.image(CardSettlement, row), rows.image(CardSettlement, after), note=reason)
        finally:
            if for_call is not None:
                _sign_out_after_call(engine, ctx, gateway, for_call.row_id)
    with core_unit(engine) as u:
        return _return_whole(u, ctx, sale_id, till_code, return_id, reason, to_quarantine, confirmation)


def _sign_in_for_call(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, settlement_id: int,
                      ip: str) -> ins.SignInState:
    """9001 for the authoriser in place, who acts with the centre in this call and has no sign-in of today (they
    are not logged in at this till, so cannot sign in here first): recorded and audited with both people, as any
    sign-in. Refused by the centre: the 2103's intent is cleared, nothing was sent."""
    try:
        return ins.sign_in(engine, ctx, gateway, ins.terminal_mac(), ip,
                           note="for one 2103 authorised in place at another's till")
    except GatewayError as e:
        _clear_cancel(engine, ctx, settlement_id, f"9001 for the authoriser refused: {e.message_en}")
        raise e.to_app_error() from None


def _sign_out_after_call(engine: Engine, ctx: Ctx, gateway: InsuranceGateway, row_id: int) -> None:
    """9002 of the sign-in made for the call: the authoriser is not left signed in at a till they are not at. A
    refused or lost 9002 changes nothing of the reversal (the sign-in lapses with the business day)."""
    try:
        ins.sign_out(engine, ctx, gateway, row_id)
    except (GatewayError, AppError) as e:
        log.warning("9002 after an in-place 2103 not done (sign-in %s): %s", row_id, e)


def _cancelled_awaiting_return(u: Unit, sale_id: str) -> bool:
    if rows.cancelled_of(u, sale_id) is None or rows.settled_of(u, sale_id) is not None:
        return False
    lines = sales_ledger.lines(u, sale_id)
    back = records.returned_so_far(u, [ln["id"] for ln in lines])
    return any(ln["qty"] > back.get(ln["id"], 0) for ln in lines)


def _return_whole(u: Unit, ctx: Ctx, sale_id: str, till_code: str, return_id: str, reason: str,
                  to_quarantine: bool, confirmation: second_person.Confirmation | None) -> Any:
    lines = sales_ledger.lines(u, sale_id)
    back = records.returned_so_far(u, [ln["id"] for ln in lines])
    requests = [returns.ReturnRequest(ln["id"], ln["qty"] - back.get(ln["id"], 0)) for ln in lines
                if ln["qty"] - back.get(ln["id"], 0) > 0]
    return returns.create_return(u, ctx, return_id, sale_id, till_code, requests, reason, to_quarantine,
                                 card_cancelled=True, confirmation=confirmation, rule_id="CARD-04")


def _reverse_cancel(gateway: InsuranceGateway, caller: Caller, psn_no: str, cancel_msgid: str) -> bool:
    try:
        gateway.reverse(caller, m.ReversalRequest(psn_no=psn_no, omsgid=cancel_msgid, oinfno="2103"))
        return True
    except GatewayError:
        return False


def _clear_cancel(engine: Engine, ctx: Ctx, settlement_id: int, why: str) -> None:
    with core_unit(engine) as u:
        row = rows.settlement(u, settlement_id, lock=True)
        assert row is not None
        after = rows.change(u, settlement_id, cancel_msgid="")
        audit.record(u, ctx.store_id, ctx.actor, "settlement.cancel_failed", "card_settlement", settlement_id,
                     rows.image(CardSettlement, row), rows.image(CardSettlement, after), note=why[:300])


def recover_cancels(engine: Engine, ctx: Ctx, gateway: InsuranceGateway) -> dict[int, str]:
    """A 2103 whose outcome is unknown (its intent left by a crash, or its 2601 failed): take it back
    with 2601 so the settlement certainly stands; the return can then be made again."""
    with read_unit(engine) as u:
        work = []
        for row in rows.cancels_pending(u, ctx.store_id):
            insured = rows.insured_of(u, row.sale_id)
            acting = ctx if ctx.actor.user_id is not None else ctx.acting(audit.Actor(row.created_by, "system"))
            work.append((int(row.id), str(row.cancel_msgid), insured.psn_no if insured else "",
                         counter.caller(u, acting, insured.insuplc_admdvs if insured else "", signed_in=False)))
    out: dict[int, str] = {}
    for settlement_id, msgid, psn_no, caller in work:
        if _reverse_cancel(gateway, caller, psn_no, msgid):
            _clear_cancel(engine, ctx, settlement_id, "2103 of unknown outcome reversed by 2601")
            out[settlement_id] = "settled"
        else:
            out[settlement_id] = "cancel_uncertain"
    return out
