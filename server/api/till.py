"""What the till reads to draw itself: its status (shift, pharmacists on duty) and a past sale found for a return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from server.api.deps import CtxDep, ReadSession, Who, guarded
from server.api.schemas import ReturnableLineOut, ReturnableSaleOut, TillStatusOut
from server.api.selling import sale_out, till_id_of
from server.permissions import Action
from server.services import returns, selling, shifts

router = APIRouter(tags=["till"])


@router.get("/till/status", response_model=TillStatusOut, **guarded(Action.SALE_READ))
def till_status(s: ReadSession, ctx: CtxDep, who: Who) -> TillStatusOut:
    shift = shifts.current_shift(s, ctx, till_id_of(who))
    return TillStatusOut(store_name=ctx.settings.store.name, till_code=who.till_code or "", user=who.display_name,
                         shift_id=shift.id if shift else None, business_date=shift.business_date if shift else None,
                         on_duty=shifts.on_duty(s, shift.id) if shift else [])  # type: ignore[arg-type]


@router.get("/returns/for-sale/{sale_no}", response_model=ReturnableSaleOut, **guarded(Action.SALE_READ))
def returnable(sale_no: Annotated[str, Path(max_length=20)], s: ReadSession, ctx: CtxDep) -> ReturnableSaleOut:
    sale = selling.sale_by_number(s, ctx, sale_no)
    return ReturnableSaleOut(sale=sale_out(s, ctx, sale),
                             lines=[ReturnableLineOut(sale_line_id=ln.sale_line_id, returnable_qty=ln.returnable_qty,
                                                      quarantine_required=ln.quarantine_required)
                                    for ln in returns.returnable_lines(s, ctx, sale)])
