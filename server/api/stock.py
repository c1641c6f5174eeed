"""Suppliers, batches (opening stock, quality stop) and stock per batch."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.api.deps import CtxDep, ReadSession, RowId, guarded, unit_of_work
from server.api.schemas.stock import BatchOut, OpeningBatchIn, SupplierIn, SupplierOut, SupplierUpdateIn
from server.api.schemas.store import ReasonIn
from server.db.models import Batch, Supplier
from server.db.uow import orm
from server.permissions import Action
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.stock import batches as stock
from server.services.stock import ledger
from server.services.stock import suppliers as supplier_service

router = APIRouter(tags=["stock"])


def _supplier_out(sup: Supplier, ctx: Ctx) -> SupplierOut:
    return SupplierOut.model_validate(sup.model_dump() | {
        "licence_valid_today": not supplier_service.supplier_licence_refusals(sup, ctx.today)})


def _batch_out(b: Batch, qty: int, ctx: Ctx) -> BatchOut:
    return BatchOut.model_validate(b.model_dump() | {"stock": qty, "expired": b.expires_on < ctx.today})


@router.get("/suppliers", response_model=list[SupplierOut], **guarded(Action.CATALOG_READ))
def list_suppliers(s: ReadSession, ctx: CtxDep) -> list[SupplierOut]:
    return [_supplier_out(x, ctx) for x in supplier_service.list_suppliers(s, ctx)]


@router.post("/suppliers", response_model=SupplierOut, status_code=201, **guarded(Action.SUPPLIER_WRITE))
def add_supplier(body: SupplierIn, request: Request, ctx: CtxDep) -> SupplierOut:
    with unit_of_work(request) as u:
        return _supplier_out(supplier_service.add_supplier(u, ctx, **body.model_dump()), ctx)


@router.patch("/suppliers/{supplier_id}", response_model=SupplierOut, **guarded(Action.SUPPLIER_WRITE))
def update_supplier(supplier_id: RowId, body: SupplierUpdateIn, request: Request, ctx: CtxDep) -> SupplierOut:
    with unit_of_work(request) as u:
        return _supplier_out(supplier_service.update_supplier(u, ctx, supplier_id, **body.model_dump()), ctx)


@router.get("/items/{item_id}/batches", response_model=list[BatchOut], **guarded(Action.STOCK_READ))
def item_batches(item_id: RowId, s: ReadSession, ctx: CtxDep) -> list[BatchOut]:
    get_item(s, ctx, item_id)
    return [_batch_out(b, q, ctx) for b, q in ledger.batch_stock(s, ctx, item_id)]


@router.post("/batches/opening", response_model=BatchOut, status_code=201, **guarded(Action.BATCH_WRITE))
def add_opening_batch(body: OpeningBatchIn, request: Request, ctx: CtxDep) -> BatchOut:
    with unit_of_work(request) as u:
        batch = stock.add_opening_batch(u, ctx, **body.model_dump())
        return _batch_out(batch, body.qty, ctx)


def _stop(batch_id: int, stopped: bool, body: ReasonIn, request: Request, ctx: Ctx) -> BatchOut:
    with unit_of_work(request) as u:
        batch = stock.set_batch_stop(u, ctx, batch_id, stopped, body.reason)
        qty = dict((b.id, q) for b, q in ledger.batch_stock(orm(u), ctx, batch.item_id))[batch.id]
        return _batch_out(batch, qty, ctx)


@router.post("/batches/{batch_id}/stop", response_model=BatchOut, **guarded(Action.BATCH_STOP))
def stop_batch(batch_id: RowId, body: ReasonIn, request: Request, ctx: CtxDep) -> BatchOut:
    return _stop(batch_id, True, body, request, ctx)


@router.post("/batches/{batch_id}/release", response_model=BatchOut, **guarded(Action.BATCH_STOP))
def release_batch(batch_id: RowId, body: ReasonIn, request: Request, ctx: CtxDep) -> BatchOut:
    return _stop(batch_id, False, body, request, ctx)
