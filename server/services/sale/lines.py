"""What a sale line is made of, read the way the till's hot path reads it: the item as a scan finds it
(with its placement and its sellable stock), the lines with what the till shows of each, the price and
the quantity in stock units, and the checks a line must pass — its GSP placement and the stock.

Shared by the basket (basket.py) and the completion (complete.py); the statements are built once and
run prepared (server.db.prepared).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa

from catalog.classes import GspClass, Route, Storage, ZonePurpose
from catalog.gsp import ItemSpec, ZoneSpec, check_placement
from catalog.violations import Violation
from server.db.models import Barcode, Item, Sale, SaleLine, Shift, Zone
from server.db.models.base import id_of, table_of
from server.db.prepared import Prepared
from server.db.uow import Reader, Unit, orm
from server.errors import AppError
from server.rules.staff import NEEDS_PHARMACIST_PRESENT, presence_refusal
from server.services.catalog.items import get_item
from server.services.context import Ctx
from server.services.sales_ledger import SNAPSHOT_KEYS
from server.services.stock import ledger, receiving
from server.services.store import presence

MAX_LINE_QTY = 10_000

# The Core tables, once here (table_of: SQLModel declares no typed __table__).
SALE: sa.Table = table_of(Sale)
LINE: sa.Table = table_of(SaleLine)
SHIFT: sa.Table = table_of(Shift)
ITEM: sa.Table = table_of(Item)
BARCODE: sa.Table = table_of(Barcode)
ZONE: sa.Table = table_of(Zone)

ITEM_COLUMNS = [ITEM.c[k] for k in ("id", "code", "name", "unit", "active", "price_fen", "split_unit",
                                    "split_ratio", "split_price_fen", "gsp_class", "traced", "no_code_stock")]
# What the till shows of an item on a basket line, besides ITEM_COLUMNS.
SHOWN_COLUMNS = [ITEM.c.spec, ITEM.c.insurance_category]
# What the till's GSP check needs: the item's class, route, storage, and the zone it stands in.
PLACEMENT_COLUMNS = [ITEM.c.route, ITEM.c.storage, ITEM.c.odour_prone,
                      ZONE.c.code.label("zone_code"), ZONE.c.name.label("zone_name"), ZONE.c.admits,
                      ZONE.c.route_group, ZONE.c.storage.label("zone_storage"),
                      ZONE.c.odour_prone.label("zone_odour_prone"), ZONE.c.purpose]

# What a sale line keeps of its item (SaleLine's columns of the same names): read with the item by the scan and
# by the completion, so keeping them costs no read of its own.
SNAPSHOT_ONLY = [ITEM.c.nhsa_code, ITEM.c.mapping_uploaded_on, ITEM.c.zone_id]  # the others are read already


def snapshot_of(item: Any) -> dict[str, Any]:
    """What a line keeps of its item as read (ITEM_BY_*, or the completion's read)."""
    return {k: getattr(item, k) for k in SNAPSHOT_KEYS}


_TODAY: sa.BindParameter[date] = sa.bindparam("today")
# The item as a scan reads it carries what can be sold of it (the ledger's one sellable rule): no separate
# read for the common case.
_GOOD_STOCK_COLUMN = ledger.sellable_stock_of(ITEM.c.id, _TODAY).scalar_subquery().label("good_stock")
# The expiry of the batch the sale takes first: the scan warns when it is near (GSP-06, near_expiry_days).
_NEXT_EXPIRY_COLUMN = ledger.next_expiry_of(ITEM.c.id, _TODAY).scalar_subquery().label("next_expiry")
_GOOD_STOCK = Prepared(ledger.sellable_stock_of(sa.bindparam("item"), _TODAY))
ITEM_BY_BARCODE = Prepared(sa.select(*ITEM_COLUMNS, *SHOWN_COLUMNS, *PLACEMENT_COLUMNS, *SNAPSHOT_ONLY,
                                     _GOOD_STOCK_COLUMN, _NEXT_EXPIRY_COLUMN)
                           .join(BARCODE, BARCODE.c.item_id == ITEM.c.id)
                           .outerjoin(ZONE, ZONE.c.id == ITEM.c.zone_id)
                           .where(BARCODE.c.store_id == sa.bindparam("sid"), BARCODE.c.code == sa.bindparam("code")))
ITEM_BY_ID = Prepared(sa.select(*ITEM_COLUMNS, *SHOWN_COLUMNS, *PLACEMENT_COLUMNS, *SNAPSHOT_ONLY, _GOOD_STOCK_COLUMN,
                                _NEXT_EXPIRY_COLUMN)
                      .outerjoin(ZONE, ZONE.c.id == ITEM.c.zone_id)
                      .where(ITEM.c.store_id == sa.bindparam("sid"), ITEM.c.id == sa.bindparam("id")))

# The basket's lines with what the till shows of each item: read once by a scan, which changes one of
# them (or adds one) and answers with the list, so the basket is not read again.
LINE_VIEW_KEYS = ("id", "line_no", "item_id", "split", "qty", "unit_price_fen", "amount_fen")
VIEW_KEYS = ("code", "name", "spec", "gsp_class", "insurance_category", "unit", "split_unit", "traced")
# The class and 医保 category shown are the line's own (what it was scanned or sold under); a line sold before
# migration 0013 kept none: the catalog's.
_KEPT = {"gsp_class", "insurance_category"}
LINE_VIEWS = Prepared(sa.select(*(LINE.c[k] for k in LINE_VIEW_KEYS),
                                *(sa.func.coalesce(LINE.c[k], ITEM.c[k]).label(k) if k in _KEPT else ITEM.c[k]
                                  for k in VIEW_KEYS))
                      .join(ITEM, ITEM.c.id == LINE.c.item_id)
                      .where(LINE.c.sale_id == sa.bindparam("sale")).order_by(LINE.c.line_no))


def line_views(r: Reader, sale_id: str) -> list[dict[str, Any]]:
    """The sale's lines with what the till shows of each item, in one read."""
    r.flush()
    return [row._asdict() for row in LINE_VIEWS.rows(r.connection(), {"sale": sale_id})]


def qty_refusal(qty: int) -> AppError | None:
    if 0 < qty <= MAX_LINE_QTY:
        return None
    return AppError(422, "SALE-QTY", f"数量须在 1 到 {MAX_LINE_QTY} 之间", f"quantity must be 1..{MAX_LINE_QTY}",
                    {"qty": qty})


def unit_price(item: Any, split: bool) -> int:
    if split:
        if not item.split_unit or item.split_price_fen is None:
            raise AppError(422, "SALE-SPLIT", f"{item.name} 不允许拆零销售", f"{item.code} cannot be sold split",
                           {"item": item.code})
        return int(item.split_price_fen)
    return int(item.price_fen)


def base_qty(item: Any, split: bool, qty: int) -> int:
    """Stock is kept in split units: a whole box of a split-pack item is split_ratio of them."""
    return qty if split else qty * int(item.split_ratio)


def check_available(u: Unit, ctx: Ctx, item: Any, need_base: int, good: int | None = None) -> None:
    """GSP-06 and stock: the item's sellable stock covers `need_base`. `good`: that stock when the caller
    read it with the item (ITEM_BY_*)."""
    # The common case answered by one aggregate; the refusal, which names batches and reasons, by the full read.
    if good is None:
        good = _GOOD_STOCK.scalar(u.connection(), {"sid": ctx.store_id, "item": item.id, "today": ctx.today})
    if need_base <= good:
        return
    full = get_item(orm(u), ctx, item.id)
    avail = ledger.availability(orm(u), ctx, full)
    if need_base > avail.good:
        if not avail.blocked and (waiting := receiving.pending_qty(orm(u), ctx, id_of(full))):
            # GSP-05: what would cover it is on a receipt not yet inspected and approved — not for sale yet
            ids = "、".join(str(r) for r, _ in waiting)
            raise AppError(409, "GSP-05", f"{full.name} 库存不足：入库单 {ids} 尚未验收审核，审核前不得销售（可售 {avail.good}）",
                           f"{full.code}: receipt(s) {ids} not yet inspected and approved; their goods cannot be "
                           f"sold before (sellable: {avail.good})",
                           {"item": full.code, "available": avail.good, "requested": need_base,
                            "receipts": [{"receipt_id": r, "qty": q} for r, q in waiting]})
        raise ledger.shortage(full, need_base, avail)


def presence_refusals(r: Reader, ctx: Ctx, items: Iterable[Any]) -> list[Violation]:
    """RX-10: 处方药 and 甲类非处方药 are refused while no pharmacist counts as on duty in the store (presence is read
    only when such an item is there, so the other scans do not pay for it)."""
    waiting = [item for item in items if item.gsp_class in NEEDS_PHARMACIST_PRESENT]
    if not waiting:
        return []
    counted = len(presence.present(r, ctx))
    return [v for item in waiting if (v := presence_refusal(item.gsp_class, item.name, counted)) is not None]


def placement_refusals(item: Any) -> list[Violation]:
    """GSP-01..03 at the till: an item not standing in a zone that admits it is not sold until fixed."""
    if item.zone_code is None:
        return [Violation("GSP-02", f"{item.name} 未分配陈列区，须先上架到合规区域才能销售",
                          f"{item.code} is not placed in any zone: place it before selling it", {"item": item.code})]
    return list(_placement_verdict(item.code, item.name, item.gsp_class, item.route, item.storage, item.odour_prone,
                                   item.zone_code, item.zone_name, tuple(item.admits), item.route_group,
                                   item.zone_storage, item.zone_odour_prone, item.purpose))


@functools.lru_cache(maxsize=4096)
def _placement_verdict(code: str, name: str, gsp_class: str, route: str, storage: str, odour_prone: bool,
                       zone_code: str, zone_name: str, admits: tuple[str, ...], route_group: str, zone_storage: str,
                       zone_odour_prone: bool, purpose: str) -> tuple[Violation, ...]:
    """The pure GSP check, remembered: the same item in the same zone gets the same verdict on every scan."""
    zone = ZoneSpec(zone_code, zone_name, frozenset(GspClass(c) for c in admits), route_group, Storage(zone_storage),
                    zone_odour_prone, ZonePurpose(purpose))
    spec = ItemSpec(code, name, GspClass(gsp_class), Route(route), Storage(storage), odour_prone)
    return tuple(check_placement(spec, zone))
