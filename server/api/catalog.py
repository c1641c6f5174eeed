"""Items, barcodes, zones, search and import."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from catalog.classes import GspClass, InsuranceCategory
from catalog.importer import FILE_ROW, HEADER_ROW
from catalog.items import check_item
from server.api.deps import CtxDep, ReadSession, RowId, Who, approval_of, get_state, guarded, second_of, unit_of_work
from server.api.lane import hot, serve
from server.api.schemas.catalog import (
    BarcodeIn,
    ImportOut,
    ItemIn,
    ItemOut,
    ItemPatch,
    PlaceIn,
    SearchHitOut,
    ZoneIn,
    ZoneOut,
    item_fields,
    search_hits_json,
)
from server.api.schemas.common import SECOND_PERSON_FIELDS, SecondPerson
from server.auth.grants import Authoriser
from server.db.models import Item, Zone
from server.db.models.base import id_of
from server.db.uow import loop_read, orm, read_unit
from server.errors import AppError, not_found, refused
from server.permissions import Action, allowed
from server.services.catalog import importing as catalog_import
from server.services.catalog import items as catalog_service
from server.services.catalog import search as catalog_search
from server.services.context import Ctx
from server.services.stock import ledger
from server.services.store.users import Principal

router = APIRouter(tags=["catalog"])

MAX_IMPORT_BYTES = 20 * 1024 * 1024


def items_out(s: Session, ctx: Ctx, items: list[Item]) -> list[ItemOut]:
    ids = [id_of(i) for i in items]
    stock = ledger.sellable_by_item(s, ctx, ids)
    zone_ids = {i.zone_id for i in items if i.zone_id}
    zones = {z.id: z.code for z in s.exec(select(Zone).where(col(Zone.id).in_(zone_ids)))} if zone_ids else {}
    codes = catalog_service.barcodes_by_item(s, ids)
    out = []
    for i, item_id in zip(items, ids, strict=True):
        out.append(ItemOut.model_validate(i.model_dump() | {
            "gsp_class_label": GspClass(i.gsp_class).label,
            "insurance_label": InsuranceCategory(i.insurance_category).label,
            "zone_code": zones.get(i.zone_id),
            "barcodes": codes.get(item_id, []),
            "stock": stock.get(item_id, 0),
        }))
    return out


@router.get("/zones", response_model=list[ZoneOut], **guarded(Action.CATALOG_READ))
def list_zones(s: ReadSession, ctx: CtxDep) -> list[ZoneOut]:
    return [ZoneOut.model_validate(z.model_dump()) for z in catalog_service.list_zones(s, ctx)]


@router.post("/zones", response_model=ZoneOut, status_code=201, **guarded(Action.ZONE_WRITE))
def create_zone(body: ZoneIn, request: Request, ctx: CtxDep) -> ZoneOut:
    with unit_of_work(request) as u:
        zone = catalog_service.create_zone(u, ctx, body.code, body.name, body.purpose, set(body.admits),
                                           body.route_group, body.storage, body.odour_prone)
        return ZoneOut.model_validate(zone.model_dump())


def find(engine: Engine, ctx: Ctx, _who: Principal, q: str, limit: int, on_loop: bool = False) -> bytes:
    """The search's answer, list[SearchHitOut] as JSON (search_items, and the till's hot lane): asked on every
    keystroke at the till, so read with prepared statements and serialised at once, without a model per hit.
    on_loop: read on the event loop (server.db.uow.loop_read), which raises NotOnLoop, nothing read, rather
    than wait (server.api.run)."""
    with loop_read(engine) if on_loop else read_unit(engine) as s:
        hits = catalog_search.index_of(engine, ctx.store_id).hits(s, q, limit, on_loop)
        shown = catalog_search.shown_items(s, ctx, [h.item_id for h in hits])
        stock = ledger.sellable_by_item(s, ctx, list(shown))
    return search_hits_json((h.rank, h.field, item_fields(shown[h.item_id], stock[h.item_id]))
                            for h in hits if h.item_id in shown)


@router.get("/items/search", response_model=list[SearchHitOut], **guarded(Action.CATALOG_READ))
@hot(find, durable=False)  # a read: nothing to make durable
async def search_items(request: Request, ctx: CtxDep, who: Who, q: Annotated[str, Query(min_length=1, max_length=50)],
                       limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Response:
    return await serve(request, ctx, who, q, limit)


@router.get("/items/by-barcode/{code}", response_model=ItemOut, **guarded(Action.CATALOG_READ))
def item_by_barcode(code: str, s: ReadSession, ctx: CtxDep) -> ItemOut:
    item = catalog_service.find_by_barcode(s, ctx, code)
    if item is None:
        raise not_found(f"条码 {code} 对应的商品", f"item with barcode {code}", barcode=code)
    return items_out(s, ctx, [item])[0]


@router.get("/items/{item_id}", response_model=ItemOut, **guarded(Action.CATALOG_READ))
def get_item(item_id: RowId, s: ReadSession, ctx: CtxDep) -> ItemOut:
    return items_out(s, ctx, [catalog_service.get_item(s, ctx, item_id)])[0]


def _approval(request: Request, ctx: Ctx, by: Authoriser | None, body: SecondPerson) -> catalog_service.Approval | None:
    return approval_of(request, ctx, by, body.reason)


# The second person of a loosening change confirmed in place (X-Second): a pharmacist (RX-01), the other 医保
# administrator (CARD-07).
SecondForCatalog = Annotated[Authoriser | None, Depends(second_of(Action.CATALOG_WRITE))]
SecondForMapping = Annotated[Authoriser | None, Depends(second_of(Action.MAPPING_WRITE))]


def _mapping_refusal(values: dict[str, object], who: Principal) -> None:
    """CARD-07: the 医保 mapping is the 医保 administrator's to set, not the catalog clerk's."""
    if set(values) & catalog_service.MAPPING_FIELDS and not allowed(who.roles, Action.MAPPING_WRITE):
        raise AppError(403, "CARD-07", "医保编码与类别只能由医保管理员修改",
                       "only the insurance administrator may change the 医保 code or category",
                       {"action": Action.MAPPING_WRITE.value})


@router.post("/items", response_model=ItemOut, status_code=201, **guarded(Action.CATALOG_WRITE))
def create_item(body: ItemIn, request: Request, ctx: CtxDep, who: Who, by: SecondForCatalog) -> ItemOut:
    values = body.model_dump(exclude={"barcodes", "zone_code"} | SECOND_PERSON_FIELDS)
    if problems := check_item(catalog_service.item_facts(values)):  # what is wrong with the item, before who may
        raise refused(problems)
    _mapping_refusal({k: v for k, v in values.items() if v not in (None, "none")}, who)
    approval = _approval(request, ctx, by, body)
    with unit_of_work(request) as u:
        item = catalog_service.create_item(u, ctx, values, body.barcodes, body.zone_code, approval)
        return items_out(orm(u), ctx, [item])[0]


@router.patch("/items/{item_id}", response_model=ItemOut, **guarded(Action.CATALOG_WRITE))
def update_item(item_id: RowId, body: ItemPatch, request: Request, ctx: CtxDep, who: Who,
                by: SecondForCatalog) -> ItemOut:
    """A loosening change of the item's class (处方药 to anything, 甲类 OTC to 乙类 …) names a pharmacist who
    approves it with their PIN, and a reason (RX-01)."""
    changes = body.model_dump(exclude_unset=True, exclude=set(SECOND_PERSON_FIELDS) | {"zone_code"})
    _mapping_refusal(changes, who)
    if body.zone_code is not None and not allowed(who.roles, Action.ZONE_WRITE):
        raise AppError(403, "SEC-01", "无权调整陈列区域", "moving items between zones is not this post's",
                       {"action": Action.ZONE_WRITE.value})
    approval = _approval(request, ctx, by, body)
    with unit_of_work(request) as u:
        item = catalog_service.update_item(u, ctx, item_id, changes, approval, body.zone_code)
        return items_out(orm(u), ctx, [item])[0]


@router.patch("/items/{item_id}/mapping", response_model=ItemOut, **guarded(Action.MAPPING_WRITE))
def update_mapping(item_id: RowId, body: ItemPatch, request: Request, ctx: CtxDep, by: SecondForMapping) -> ItemOut:
    """A loosening mapping change (a new national code, a category made 甲/乙 or turned from one into the other)
    names the other 医保 administrator, who approves it with their PIN, and a reason (CARD-07)."""
    changes = body.model_dump(exclude_unset=True, exclude=set(SECOND_PERSON_FIELDS))
    if set(changes) - catalog_service.MAPPING_FIELDS or body.zone_code is not None:
        raise AppError(422, "VALIDATION", "此处只能修改医保编码与类别", "only nhsa_code and insurance_category here")
    approval = _approval(request, ctx, by, body)
    with unit_of_work(request) as u:
        item = catalog_service.update_item(u, ctx, item_id, changes, approval)
        return items_out(orm(u), ctx, [item])[0]


@router.post("/items/{item_id}/barcodes", response_model=ItemOut, status_code=201, **guarded(Action.CATALOG_WRITE))
def add_barcode(item_id: RowId, body: BarcodeIn, request: Request, ctx: CtxDep) -> ItemOut:
    with unit_of_work(request) as u:
        catalog_service.add_barcode(u, ctx, item_id, body.code)
        return items_out(orm(u), ctx, [catalog_service.get_item(orm(u), ctx, item_id)])[0]


@router.put("/items/{item_id}/zone", response_model=ItemOut, **guarded(Action.ZONE_WRITE))
def place_item(item_id: RowId, body: PlaceIn, request: Request, ctx: CtxDep) -> ItemOut:
    with unit_of_work(request) as u:
        item = catalog_service.place_item(u, ctx, item_id, body.zone_code)
        return items_out(orm(u), ctx, [item])[0]


_FILE_BODY = {"required": True,
              "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


@router.post("/catalog/import", response_model=ImportOut, **guarded(Action.CATALOG_WRITE, requestBody=_FILE_BODY))
async def import_catalog(request: Request, ctx: CtxDep, who: Who, by: SecondForCatalog,
                         format: Annotated[str, Query(pattern="^(csv|xlsx)$")],
                         valid_only: bool = False,
                         reason: Annotated[str, Query(max_length=200)] = "") -> ImportOut:
    """A row that loosens an item's controlled facts (a class 处方药 no more, a new 医保 code …) is refused unless
    the file comes with a second person's approval of the post it needs: the reason as a query parameter, the
    second person's grant (POST /auth/authorise with `second`, action catalog.write) in the X-Second header."""
    data = bytearray()
    async for chunk in request.stream():  # stop reading at the limit instead of buffering any size
        data += chunk
        if len(data) > MAX_IMPORT_BYTES:
            raise AppError(413, "IMPORT", "导入文件过大（上限 20 MB）", "the file is larger than 20 MB")
    if not data:
        raise AppError(422, "IMPORT", "导入文件为空", "the uploaded file is empty")
    may_map = allowed(who.roles, Action.MAPPING_WRITE)  # CARD-07: only the 医保 administrator maps
    approval = await run_in_threadpool(approval_of, request, ctx, by, reason)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload.{format}"
        path.write_bytes(bytes(data))
        result = await run_in_threadpool(catalog_import.import_file, get_state(request).engine, ctx, path, valid_only,
                                         may_map, approval)
    if not result.rows_valid and result.errors and all(e.get("row") in (FILE_ROW, HEADER_ROW) for e in result.errors):
        # The file as a whole is unusable (unreadable, empty, no usable header): a 4xx like an empty body,
        # not a report about rows.
        first = result.errors[0]
        raise AppError(422, "IMPORT", first["message_zh"], first["message_en"], {"errors": result.errors})
    return ImportOut.model_validate(asdict(result))
