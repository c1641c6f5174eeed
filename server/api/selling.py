"""Shifts, the pharmacist on duty, the sale lifecycle and returns. The till is a client of exactly this."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import AwareDatetime
from sqlalchemy import Engine
from sqlmodel import Session

from catalog.classes import GspClass, InsuranceCategory
from server.api.deps import Acting, CtxDep, ReadSession, RowId, Who, get_state, guarded, second_of, unit_of_work
from server.api.lane import hot, serve
from server.api.schemas.common import UUID_PATTERN
from server.api.schemas.selling import (
    CompleteIn,
    DutyOut,
    ErrorOut,
    LineIn,
    LineQtyIn,
    ReadinessOut,
    RefundOut,
    ReturnIn,
    ReturnOut,
    SaleOpenIn,
    SaleOut,
    ShiftCloseIn,
    ShiftOpenIn,
    ShiftOut,
    TraceCodeIn,
    UnattendedOut,
    UnattendedPeriodOut,
    VoidIn,
)
from server.auth.grants import Authoriser
from server.db.models import Sale, SaleReturn, User
from server.db.models.base import id_of
from server.db.uow import Reader, core_unit, loop_unit, orm, read_unit
from server.errors import AppError
from server.permissions import Action
from server.rules.tenders import TenderOffer
from server.services import records
from server.services.context import Ctx
from server.services.sale import basket, completion, returns, trace_codes
from server.services.sale.lines import line_views
from server.services.store import presence, second_person, shifts, z_report
from server.services.store.shifts import ZReport
from server.services.store.users import Principal

router = APIRouter(tags=["selling"])
SalePath = Annotated[str, Path(pattern=UUID_PATTERN)]


def till_of(who: Principal) -> str:
    """Selling happens at a registered till: the one this session logged in at (AGR-02, CARD-06)."""
    if not who.till_code:
        raise AppError(403, "CARD-06", "请在已登记的收款机上登录后再收款", "log in at a registered till to sell")
    return who.till_code


def till_id_of(who: Principal) -> int:
    till_of(who)
    assert who.till_id is not None  # a session's till code comes with its till (users.resolve_token)
    return who.till_id


def sale_out(r: Reader, ctx: Ctx, sale: Sale, replayed: bool = False,
             just_paid: list[TenderOffer] | None = None, lines: list[dict[str, Any]] | None = None) -> SaleOut:
    """The sale as the till shows it, read from a read session or from the unit that just changed it.
    `just_paid`: the tenders of a completion in this very transaction (nothing can have been returned yet),
    so neither is read back. `lines`: the sale's line views, when the use case has them already (a scan)."""
    final = sale.status == "completed" and just_paid is None  # an open basket has no tenders or returns either
    if lines is None:
        lines = line_views(r, sale.id)
    back = records.returned_so_far(r, [ln["id"] for ln in lines]) if final else {}
    codes = trace_codes.codes_by_line(r, sale.id) if any(ln["traced"] for ln in lines) else {}
    # Validated in one call, nested dicts and all: building a model per line in Python cost more.
    return SaleOut.model_validate({
        "id": sale.id, "status": sale.status, "till_id": sale.till_id, "shift_id": sale.shift_id,
        "sale_no": sale.sale_no, "business_date": sale.business_date, "opened_at": sale.opened_at,
        "completed_at": sale.completed_at, "total_fen": sale.total_fen, "change_fen": sale.change_fen,
        "void_reason": sale.void_reason, "replayed": replayed, "prescription_id": sale.prescription_id,
        "lines": [{"id": ln["id"], "line_no": ln["line_no"], "item_id": ln["item_id"], "item_code": ln["code"],
                   "name": ln["name"], "spec": ln["spec"], "gsp_class": ln["gsp_class"],
                   "gsp_class_label": _CLASS_LABEL[ln["gsp_class"]],
                   "insurance_label": _INSURANCE_LABEL[ln["insurance_category"]],
                   "unit": (ln["split_unit"] or ln["unit"]) if ln["split"] else ln["unit"], "split": ln["split"],
                   "split_unit": ln["split_unit"],
                   "qty": ln["qty"], "unit_price_fen": ln["unit_price_fen"], "amount_fen": ln["amount_fen"],
                   "returned_qty": back.get(ln["id"], 0), "traced": ln["traced"],
                   "trace_codes": codes.get(ln["id"], [])} for ln in lines],
        "tenders": [{"kind": t.kind, "amount_fen": t.amount_fen, "tendered_fen": t.tendered_fen,
                     "reference": t.reference} for t in (records.tenders_of(r, sale.id) if final else just_paid or [])],
    })


_CLASS_LABEL = {c.value: c.label for c in GspClass}
_INSURANCE_LABEL = {c.value: c.label for c in InsuranceCategory}


# --- shifts -----------------------------------------------------------------------------------------

@router.post("/shifts", response_model=ShiftOut, status_code=201, **guarded(Action.SHIFT))
def open_shift(body: ShiftOpenIn, request: Request, ctx: CtxDep, who: Who) -> ShiftOut:
    with unit_of_work(request) as u:
        return ShiftOut.model_validate(shifts.open_shift(u, ctx, till_of(who), body.float_fen).model_dump())


@router.get("/shifts/current", response_model=ShiftOut, **guarded(Action.SALE_READ))
def current_shift(s: ReadSession, ctx: CtxDep, who: Who) -> ShiftOut:
    """The till's open shift: the till's, not the person's — whoever logs in at the till joins it (and closes it
    with F12, counting the drawer); the name of who opened it comes with it, for the till to say so."""
    _, shift = shifts.open_shift_for(s, ctx, till_of(who))
    opener = s.get(User, shift.opened_by)
    return ShiftOut.model_validate(shift.model_dump() | {"opened_by_name": opener.display_name if opener else ""})


# The Z report is the use case's own dataclass: one definition of its fields, served as it is.
@router.post("/shifts/{shift_id}/close", response_model=ZReport, **guarded(Action.SHIFT))
def close_shift(shift_id: RowId, body: ShiftCloseIn, request: Request, ctx: CtxDep) -> ZReport:
    with unit_of_work(request) as u:
        shift = shifts.close_shift(u, ctx, shift_id, body.counted_cash_fen)
        z_report.enqueue_z_report(u, ctx, id_of(shift))
        return shifts.z_report(orm(u), ctx, shift)


@router.get("/shifts/{shift_id}/report", response_model=ZReport, **guarded(Action.SALE_READ))
def shift_report(shift_id: RowId, s: ReadSession, ctx: CtxDep) -> ZReport:
    return shifts.z_report(s, ctx, shifts.get_shift(s, ctx, shift_id))


@router.post("/shifts/{shift_id}/duty", response_model=DutyOut, status_code=201, **guarded(Action.DUTY))
def duty_on(shift_id: RowId, request: Request, ctx: CtxDep, by: Acting) -> DutyOut:
    """The pharmacist logged in, or one who typed their PIN at this till (X-Grant): any till will do (RX-10)."""
    with unit_of_work(request) as u:
        return DutyOut.model_validate(shifts.duty_on(u, ctx, shift_id, by.roles).model_dump())


@router.delete("/shifts/{shift_id}/duty", response_model=DutyOut, **guarded(Action.DUTY))
def duty_off(shift_id: RowId, request: Request, ctx: CtxDep) -> DutyOut:
    with unit_of_work(request) as u:
        return DutyOut.model_validate(shifts.duty_off(u, ctx, shift_id).model_dump())


@router.get("/shifts/unattended", response_model=UnattendedOut, **guarded(Action.STAFF_READ))
def unattended(s: ReadSession, ctx: CtxDep, start: AwareDatetime | None = None,
               end: AwareDatetime | None = None) -> UnattendedOut:
    """RX-10's record: when the store sold without a pharmacist on duty (default: the store's day so far)."""
    end = end or ctx.now
    start = start or datetime.combine(ctx.today, time.min, ctx.settings.store.tz)
    if start >= end:
        raise AppError(422, "VALIDATION", "开始时间须早于结束时间", "start must be before end",
                       {"start": start.isoformat(), "end": end.isoformat()})
    periods = [UnattendedPeriodOut(start=p.start, end=p.end, seconds=p.seconds, sales=p.sales)
               for p in presence.unattended(s, ctx, start.astimezone(UTC), end.astimezone(UTC))]
    return UnattendedOut(start=start, end=end, store_24h=ctx.settings.rules.store_24h, periods=periods,
                         total_seconds=sum(p.seconds for p in periods))


# --- sales ------------------------------------------------------------------------------------------

@router.post("/sales", response_model=SaleOut, status_code=201, **guarded(Action.SELL))
def open_sale(body: SaleOpenIn, request: Request, ctx: CtxDep, who: Who) -> SaleOut:
    with unit_of_work(request) as u:
        return sale_out(u, ctx, basket.open_sale(u, ctx, body.id.lower(), till_of(who)))


@router.get("/sales/suspended", response_model=list[SaleOut], **guarded(Action.SALE_READ))
def suspended(s: ReadSession, ctx: CtxDep) -> list[SaleOut]:
    return [sale_out(s, ctx, sale) for sale in basket.suspended_sales(s, ctx)]


@router.get("/sales/by-number/{sale_no}", response_model=SaleOut, **guarded(Action.SALE_READ))
def sale_by_number(sale_no: Annotated[str, Path(max_length=20)], s: ReadSession, ctx: CtxDep) -> SaleOut:
    return sale_out(s, ctx, records.sale_by_number(s, ctx, sale_no))


@router.get("/sales/{sale_id}/readiness", response_model=ReadinessOut, **guarded(Action.SALE_READ))
def readiness(sale_id: SalePath, request: Request, ctx: CtxDep, who: Who) -> ReadinessOut:
    """May the sale be paid now? Every refusal its completion would give before a tender is offered (the same
    checks: server.services.sale.completion.missing), so the till offers payment only when there is none, and
    lists what is missing otherwise. Reads only."""
    with read_unit(get_state(request).engine) as u:
        found = completion.missing(u, ctx, sale_id.lower(), till_of(who))
    return ReadinessOut(ready=not found, missing=[ErrorOut.model_validate(e.body()) for e in found])


@router.get("/sales/{sale_id}", response_model=SaleOut, **guarded(Action.SALE_READ))
def get_sale(sale_id: SalePath, s: ReadSession, ctx: CtxDep) -> SaleOut:
    return sale_out(s, ctx, records.get_sale(s, ctx, sale_id.lower()))


def scan(engine: Engine, ctx: Ctx, who: Principal, sale_id: str, body: LineIn, on_loop: bool = False) -> bytes:
    """A scan (or a pick) into the basket; the basket as the till shows it (add_line, and the till's hot lane).

    on_loop: in the event loop's unit of work (server.db.uow.loop_unit), which raises NotOnLoop, with
    nothing written, rather than wait for another writer or use the ORM."""
    if (body.barcode is None) == (body.item_id is None):
        raise AppError(422, "VALIDATION", "请扫描条码或选择商品（二选一）", "give either a barcode or an item id")
    # an unpaid basket's edit: durable=False
    with loop_unit(engine) if on_loop else core_unit(engine, durable=False) as u:
        after = basket.scan(u, ctx, sale_id.lower(), till_id_of(who), body.qty, body.split, body.barcode,
                            body.item_id)
        out = sale_out(u, ctx, after.sale, lines=after.lines)
        if after.warnings:  # GSP-06: the batch the sale takes first is near expiry (the till's message line)
            out.warnings = [ErrorOut.model_validate(v.as_dict()) for v in after.warnings]
        return out.model_dump_json().encode()


@router.patch("/sales/{sale_id}/lines/{line_id}", response_model=SaleOut, **guarded(Action.SELL))
def set_qty(sale_id: SalePath, line_id: RowId, body: LineQtyIn, request: Request, ctx: CtxDep, who: Who) -> SaleOut:
    with unit_of_work(request, durable=False) as u:  # an unpaid basket's edit
        return sale_out(u, ctx, basket.set_line_qty(u, ctx, sale_id.lower(), till_id_of(who), line_id, body.qty))


@router.delete("/sales/{sale_id}/lines/{line_id}", response_model=SaleOut, **guarded(Action.SELL))
def remove_line(sale_id: SalePath, line_id: RowId, request: Request, ctx: CtxDep, who: Who) -> SaleOut:
    with unit_of_work(request, durable=False) as u:  # an unpaid basket's edit
        return sale_out(u, ctx, basket.remove_line(u, ctx, sale_id.lower(), till_id_of(who), line_id))


@router.post("/sales/{sale_id}/lines/{line_id}/trace-codes", response_model=SaleOut, status_code=201,
             **guarded(Action.SELL))
def add_trace_code(sale_id: SalePath, line_id: RowId, body: TraceCodeIn, request: Request, ctx: CtxDep,
                   who: Who) -> SaleOut:
    with unit_of_work(request, durable=False) as u:  # an unpaid basket's edit
        sale = records.get_sale(orm(u), ctx, sale_id.lower())
        basket.check_basket(u, ctx, sale.id, till_id_of(who))
        trace_codes.add_code(u, ctx, sale, line_id, body.code)
        return sale_out(u, ctx, sale)


@router.delete("/sales/{sale_id}/lines/{line_id}/trace-codes/{code}", response_model=SaleOut, **guarded(Action.SELL))
def remove_trace_code(sale_id: SalePath, line_id: RowId, code: Annotated[str, Path(max_length=40)], request: Request,
                      ctx: CtxDep, who: Who) -> SaleOut:
    with unit_of_work(request, durable=False) as u:
        sale = records.get_sale(orm(u), ctx, sale_id.lower())
        basket.check_basket(u, ctx, sale.id, till_id_of(who))
        trace_codes.remove_code(u, ctx, sale, line_id, code)
        return sale_out(u, ctx, sale)


@router.post("/sales/{sale_id}/suspend", response_model=SaleOut, **guarded(Action.SELL))
def suspend(sale_id: SalePath, request: Request, ctx: CtxDep, who: Who) -> SaleOut:
    with unit_of_work(request) as u:
        return sale_out(u, ctx, basket.suspend(u, ctx, sale_id.lower(), till_id_of(who)))


@router.post("/sales/{sale_id}/resume", response_model=SaleOut, **guarded(Action.SELL))
def resume(sale_id: SalePath, request: Request, ctx: CtxDep, who: Who) -> SaleOut:
    with unit_of_work(request) as u:
        return sale_out(u, ctx, basket.resume(u, ctx, sale_id.lower(), till_of(who)))


@router.post("/sales/{sale_id}/void", response_model=SaleOut, **guarded(Action.SALE_VOID))
def void(sale_id: SalePath, body: VoidIn, request: Request, ctx: CtxDep,
         by: Annotated[Authoriser | None, Depends(second_of(Action.SALE_VOID))]) -> SaleOut:
    second = second_person.confirmation_of(get_state(request).engine, by)
    with unit_of_work(request) as u:
        return sale_out(u, ctx, basket.void(u, ctx, sale_id.lower(), body.reason, second))


def pay(engine: Engine, ctx: Ctx, who: Principal, sale_id: str, body: CompleteIn, on_loop: bool = False) -> bytes:
    """Complete the sale with its tenders; the final sale (complete, and the till's hot lane).

    on_loop: in the event loop's unit of work, durable (server.db.uow.loop_unit), which raises NotOnLoop,
    with nothing written, rather than wait for another writer or use the ORM (an Rx sale, a trace code,
    a retry, a refusal): the worker's core_unit then does it all."""
    offers = [TenderOffer(t.kind, t.amount_fen, t.tendered_fen if t.tendered_fen is not None else t.amount_fen,
                          t.reference) for t in body.tenders]
    with loop_unit(engine, durable=True) if on_loop else core_unit(engine) as u:
        done = completion.complete(u, ctx, sale_id.lower(), till_of(who), offers)
        return sale_out(u, ctx, done.sale, done.replayed, None if done.replayed else offers,
                        done.lines).model_dump_json().encode()


# The till's two hottest requests: declared here once, served by the hot lane on their happy path
# (server.api.lane) and by these routes otherwise, both through the same runner (server.api.run).

@router.post("/sales/{sale_id}/lines", response_model=SaleOut, status_code=201, **guarded(Action.SELL))
@hot(scan, durable=False)  # an unpaid basket's edit
async def add_line(sale_id: SalePath, body: LineIn, request: Request, ctx: CtxDep, who: Who) -> Response:
    return await serve(request, ctx, who, sale_id, body)


@router.post("/sales/{sale_id}/complete", response_model=SaleOut, **guarded(Action.SELL))
@hot(pay, durable=True)
async def complete(sale_id: SalePath, body: CompleteIn, request: Request, ctx: CtxDep, who: Who) -> Response:
    return await serve(request, ctx, who, sale_id, body)


# --- returns ----------------------------------------------------------------------------------------

def return_out(s: Session, ret: SaleReturn) -> ReturnOut:
    sale = s.get(Sale, ret.sale_id)
    return ReturnOut(id=ret.id, sale_id=ret.sale_id, sale_no=sale.sale_no if sale else None, created_at=ret.created_at,
                     reason=ret.reason, to_quarantine=ret.to_quarantine, total_fen=ret.total_fen,
                     confirmed_by=ret.confirmed_by,
                     lines=[{"sale_line_id": rl.sale_line_id, "qty": rl.qty, "amount_fen": rl.amount_fen}
                            for rl in returns.return_lines(s, ret.id)],
                     refunds=[RefundOut(kind=r.kind, amount_fen=r.amount_fen, reference=r.reference)
                              for r in returns.refunds_of(s, ret.id)])


@router.post("/returns", response_model=ReturnOut, status_code=201, **guarded(Action.SALE_RETURN))
def create_return(body: ReturnIn, request: Request, ctx: CtxDep, who: Who,
                  by: Annotated[Authoriser | None, Depends(second_of(Action.SALE_RETURN))]) -> ReturnOut:
    second = second_person.confirmation_of(get_state(request).engine, by)
    with unit_of_work(request) as u:
        ret = returns.create_return(u, ctx, body.id.lower(), body.sale_id.lower(), till_of(who),
                                    [returns.ReturnRequest(ln.sale_line_id, ln.qty) for ln in body.lines],
                                    body.reason, body.to_quarantine, confirmation=second)
        return return_out(orm(u), ret)
