"""What the till reads to draw itself: its status (shift, pharmacists on duty) and a past sale found for a return."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from server.api.deps import CtxDep, ReadSession, Who, guarded
from server.api.schemas.till import RejectReasonOut, ReturnableLineOut, ReturnableSaleOut, TillStatusOut
from server.api.selling import sale_out, till_id_of
from server.db.models.base import id_of
from server.permissions import Action
from server.rules.prescriptions import REJECT_LABELS, RejectReason
from server.services import records
from server.services.sale import returns
from server.services.store import shifts

router = APIRouter(tags=["till"])


@router.get("/till/status", response_model=TillStatusOut, **guarded(Action.SALE_READ))
def till_status(s: ReadSession, ctx: CtxDep, who: Who) -> TillStatusOut:
    shift = shifts.current_shift(s, ctx, till_id_of(who))
    return TillStatusOut(store_name=ctx.settings.store.name, till_code=who.till_code or "", user=who.display_name,
                         shift_id=shift.id if shift else None, business_date=shift.business_date if shift else None,
                         on_duty=shifts.on_duty(s, ctx, id_of(shift)) if shift else [])


@router.get("/returns/for-sale/{sale_no}", response_model=ReturnableSaleOut, **guarded(Action.SALE_READ))
def returnable(sale_no: Annotated[str, Path(max_length=20)], s: ReadSession, ctx: CtxDep) -> ReturnableSaleOut:
    sale = records.sale_by_number(s, ctx, sale_no)
    return ReturnableSaleOut(sale=sale_out(s, ctx, sale),
                             lines=[ReturnableLineOut(sale_line_id=ln.sale_line_id, returnable_qty=ln.returnable_qty,
                                                      quarantine_required=ln.quarantine_required)
                                    for ln in returns.returnable_lines(s, ctx, sale)])


@router.get("/till/rx-reject-reasons", response_model=list[RejectReasonOut], **guarded(Action.RX_READ))
def rx_reject_reasons() -> list[RejectReasonOut]:
    """RX-05's fixed list, for the till's review screen: a refusal is one of these and nothing else."""
    return [RejectReasonOut(code=r.value, label=REJECT_LABELS[r]) for r in RejectReason]
