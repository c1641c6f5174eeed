"""Stock care: counts (盘点), losses (报损, 过期报损, 销毁), recalls (召回), upkeep (养护), the near-expiry pull list."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from sqlmodel import Session

from server.api.deps import CtxDep, ReadSession, RowId, get_state, guarded, unit_of_work
from server.api.schemas.care import (
    CountEntriesIn,
    CountPostIn,
    CountSheetIn,
    CountSheetOut,
    DoubtOut,
    FoundBatchOut,
    LossIn,
    LossOut,
    NearExpiryOut,
    RecallIn,
    RecallOut,
    UpkeepClearIn,
    UpkeepIn,
    UpkeepLineOut,
    UpkeepOut,
    ZoneDueOut,
)
from server.db.models.base import id_of
from server.db.models.care import Loss, Recall, Upkeep
from server.db.uow import orm
from server.permissions import Action
from server.services.context import Ctx
from server.services.stock import care, counts, upkeep
from server.services.store.witnesses import witness

router = APIRouter(tags=["stock care"])


def sheet_out(s: Session, ctx: Ctx, sheet_id: int) -> CountSheetOut:
    return CountSheetOut.model_validate(counts.view(s, ctx, sheet_id))


@router.post("/counts", response_model=CountSheetOut, status_code=201, **guarded(Action.STOCK_COUNT))
def create_count(body: CountSheetIn, request: Request, ctx: CtxDep) -> CountSheetOut:
    with unit_of_work(request) as u:
        sheet = counts.create_sheet(u, ctx, body.zone_code, body.blind, body.note, body.quarantine)
        return sheet_out(orm(u), ctx, id_of(sheet))


@router.get("/counts/{sheet_id}", response_model=CountSheetOut, **guarded(Action.STOCK_READ))
def get_count(sheet_id: RowId, s: ReadSession, ctx: CtxDep) -> CountSheetOut:
    return sheet_out(s, ctx, sheet_id)


@router.post("/counts/{sheet_id}/entries", response_model=CountSheetOut, **guarded(Action.STOCK_COUNT))
def enter_counts(sheet_id: RowId, body: CountEntriesIn, request: Request, ctx: CtxDep) -> CountSheetOut:
    with unit_of_work(request) as u:
        counts.enter(u, ctx, sheet_id, [counts.Entry(**e.model_dump()) for e in body.entries])
        return sheet_out(orm(u), ctx, sheet_id)


@router.post("/counts/{sheet_id}/submit", response_model=CountSheetOut, **guarded(Action.STOCK_COUNT))
def submit_count(sheet_id: RowId, body: CountPostIn, request: Request, ctx: CtxDep) -> CountSheetOut:
    with unit_of_work(request) as u:
        counts.submit(u, ctx, sheet_id, body.note)
        return sheet_out(orm(u), ctx, sheet_id)


@router.post("/counts/{sheet_id}/post", response_model=CountSheetOut, **guarded(Action.BATCH_WRITE))
def post_count(sheet_id: RowId, body: CountPostIn, request: Request, ctx: CtxDep) -> CountSheetOut:
    with unit_of_work(request) as u:
        counts.post(u, ctx, sheet_id, body.note, body.reasons)
        return sheet_out(orm(u), ctx, sheet_id)


def loss_out(s: Session, loss: Loss) -> LossOut:
    return LossOut.model_validate(loss.model_dump() | {"lines": [ln.model_dump() for ln in
                                                                 care.loss_lines(s, id_of(loss))]})


@router.post("/losses", response_model=LossOut, status_code=201, **guarded(Action.STOCK_LOSS))
def write_off(body: LossIn, request: Request, ctx: CtxDep) -> LossOut:
    engine = get_state(request).engine
    witnesses = [witness(engine, ctx, w.username, w.pin) for w in body.witnesses]
    with unit_of_work(request) as u:
        loss = care.write_off(u, ctx, body.kind, body.reason,
                              [care.LossLineIn(ln.batch_id, ln.qty, ln.location) for ln in body.lines],
                              body.method, witnesses, body.recall_id)
        return loss_out(orm(u), loss)


@router.get("/losses/{loss_id}", response_model=LossOut, **guarded(Action.STOCK_READ))
def get_loss(loss_id: RowId, s: ReadSession, ctx: CtxDep) -> LossOut:
    return loss_out(s, care.get_loss(s, ctx, loss_id))


def recall_out(s: Session, ctx: Ctx, recall: Recall) -> RecallOut:
    return RecallOut.model_validate(recall.model_dump() | {"buyers": care.buyers(s, ctx, recall.batch_id)})


@router.post("/recalls", response_model=RecallOut, status_code=201, **guarded(Action.BATCH_STOP))
def start_recall(body: RecallIn, request: Request, ctx: CtxDep) -> RecallOut:
    with unit_of_work(request) as u:
        return recall_out(orm(u), ctx, care.start_recall(u, ctx, body.batch_id, body.reason, body.notice_no))


@router.get("/recalls/{recall_id}", response_model=RecallOut, **guarded(Action.STOCK_READ))
def get_recall(recall_id: RowId, s: ReadSession, ctx: CtxDep) -> RecallOut:
    return recall_out(s, ctx, care.get_recall(s, ctx, recall_id))


def upkeep_out(s: Session, rec: Upkeep) -> UpkeepOut:
    return UpkeepOut.model_validate(rec.model_dump() | {"lines": [ln.model_dump() for ln in
                                                                  upkeep.lines_of(s, id_of(rec))]})


@router.post("/upkeep", response_model=UpkeepOut, status_code=201, **guarded(Action.STOCK_UPKEEP))
def record_upkeep(body: UpkeepIn, request: Request, ctx: CtxDep) -> UpkeepOut:
    with unit_of_work(request) as u:
        checks = [upkeep.Check(**c.model_dump()) for c in body.checks]
        return upkeep_out(orm(u), upkeep.record(u, ctx, body.zone_code, checks, body.note))


@router.get("/upkeep/due", response_model=list[ZoneDueOut], **guarded(Action.STOCK_READ))
def zones_due(s: ReadSession, ctx: CtxDep, month: str | None = None) -> list[ZoneDueOut]:
    return [ZoneDueOut.model_validate(z) for z in upkeep.zones_due(s, ctx, month)]


@router.get("/upkeep/doubts", response_model=list[DoubtOut], **guarded(Action.STOCK_READ))
def open_doubts(s: ReadSession, ctx: CtxDep) -> list[DoubtOut]:
    """Upkeep lines with a quality doubt not yet cleared (their batches stopped), oldest first."""
    return [DoubtOut.model_validate(d) for d in upkeep.open_doubts(s, ctx)]


@router.get("/upkeep/{upkeep_id}", response_model=UpkeepOut, **guarded(Action.STOCK_READ))
def get_upkeep(upkeep_id: RowId, s: ReadSession, ctx: CtxDep) -> UpkeepOut:
    return upkeep_out(s, upkeep.get(s, ctx, upkeep_id))


@router.post("/upkeep/lines/{line_id}/clear", response_model=UpkeepLineOut, **guarded(Action.BATCH_STOP))
def clear_doubt(line_id: RowId, body: UpkeepClearIn, request: Request, ctx: CtxDep) -> UpkeepLineOut:
    with unit_of_work(request) as u:
        return UpkeepLineOut.model_validate(upkeep.clear(u, ctx, line_id, body.reason).model_dump())


@router.get("/near-expiry", response_model=list[NearExpiryOut], **guarded(Action.STOCK_READ))
def near_expiry(s: ReadSession, ctx: CtxDep, zone: str | None = None) -> list[NearExpiryOut]:
    return [NearExpiryOut.model_validate(r) for r in care.pull_list(s, ctx, zone)]


@router.get("/stock/batches", response_model=list[FoundBatchOut], **guarded(Action.STOCK_READ))
def find_batches(s: ReadSession, ctx: CtxDep, zone: str | None = Query(default=None, min_length=1, max_length=20),
                 number: str | None = Query(default=None, min_length=1, max_length=50)) -> list[FoundBatchOut]:
    """Batches by a label's number (our 批次号 or the maker's 批号; any batch) and/or zone (those holding stock)."""
    return [FoundBatchOut.model_validate(b) for b in care.find_batches(s, ctx, zone, number)]
