"""Catalog search for the till: an in-memory index per store, kept in step with the database, and the
items its hits show.

Every catalog write bumps the store's catalog_rev and stamps the item with it; a search first
reads that one integer and, when it moved, reloads only the items stamped since. So a write made
by another process (an import from the CLI) is seen on the next search.

A search runs on every keystroke at the till: its reads are prepared statements (server.db.prepared),
and it can be served on the event loop (on_loop), where it never waits — for the index's lock while
another request or the start-up load holds it, or to load changed items: NotOnLoop, and a worker does it.
"""

from __future__ import annotations

import gc
import threading
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from catalog.search import SearchDoc, SearchHit, SearchIndex
from server.db.models import Barcode, Item, Store, Zone
from server.db.models.base import table_of
from server.db.prepared import Prepared, PreparedIn
from server.db.uow import NotOnLoop, Unit, read_unit
from server.services.context import Ctx

ITEM: sa.Table = table_of(Item)
BARCODE: sa.Table = table_of(Barcode)
ZONE: sa.Table = table_of(Zone)
STORE: sa.Table = table_of(Store)

_DOC_COLUMNS = [ITEM.c[k] for k in ("id", "code", "name", "generic_name", "mnemonic", "nhsa_code", "approval_no",
                                    "active", "rev")]
_CATALOG_REV = Prepared(sa.select(STORE.c.catalog_rev).where(STORE.c.id == sa.bindparam("sid")))

# What an answer shows of an item: its own columns and the code of the zone it stands in. (Its stock is the
# stock wing's: ledger.sellable_by_item.)
SHOWN_COLUMNS = ("id", "code", "name", "generic_name", "spec", "dosage_form", "manufacturer", "approval_no",
                 "gsp_class", "route", "odour_prone", "storage", "nhsa_code", "insurance_category", "price_fen", "unit",
                 "split_unit", "split_ratio", "split_price_fen", "pharm_class", "traced", "no_code_stock", "mnemonic",
                 "active")
_SHOWN = PreparedIn(lambda ids: sa.select(*(ITEM.c[k] for k in SHOWN_COLUMNS), ZONE.c.code.label("zone_code"))
                    .outerjoin(ZONE, ZONE.c.id == ITEM.c.zone_id)
                    .where(ITEM.c.store_id == sa.bindparam("sid"), ITEM.c.id.in_(ids)))
_BARCODES = PreparedIn(lambda ids: sa.select(BARCODE.c.item_id, BARCODE.c.code)
                       .where(BARCODE.c.item_id.in_(ids)).order_by(BARCODE.c.id))


def _docs(conn: Connection, store_id: int, since_rev: int) -> tuple[list[SearchDoc], int]:
    # Plain column rows, not ORM objects: loading 100k full items costs seconds, these a fraction.
    rows = conn.execute(sa.select(*_DOC_COLUMNS).where(ITEM.c.store_id == store_id, ITEM.c.rev > since_rev)).all()
    if not rows:
        return [], since_rev
    ids = [r.id for r in rows]
    codes: dict[int, list[str]] = defaultdict(list)
    # Chunked IN lists keep the statement within every backend's parameter limit.
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for item_id, code in conn.execute(sa.select(BARCODE.c.item_id, BARCODE.c.code)
                                          .where(BARCODE.c.item_id.in_(chunk))):
            codes[item_id].append(code)
    docs = [SearchDoc(item_id=r.id, code=r.code, name=r.name, generic_name=r.generic_name, mnemonic=r.mnemonic,
                      barcodes=tuple(codes.get(r.id, ())), nhsa_code=r.nhsa_code, approval_no=r.approval_no,
                      active=r.active) for r in rows]
    return docs, max(r.rev for r in rows)


def shown_items(s: Unit, ctx: Ctx, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What an answer shows of these items (SHOWN_COLUMNS, zone_code, barcodes in the order they were added),
    by id; an id not of this store is left out."""
    if not item_ids:
        return {}
    s.flush()
    conn = s.connection()
    out = {row.id: row._asdict() for row in _SHOWN.rows(conn, item_ids, {"sid": ctx.store_id})}
    for item in out.values():
        item["barcodes"] = []
    for item_id, code in _BARCODES.rows(conn, item_ids, {}):
        if item_id in out:
            out[item_id]["barcodes"].append(code)
    return out


def index_of(engine: Engine, store_id: int) -> CatalogSearch:
    """The store's search index on this database, one per process: made on first ask (the service's start-up
    warms it up). Kept on the engine itself, as its writer is (server.db.sqlite.writer_of): the two go together."""
    indexes: dict[int, CatalogSearch] = vars(engine).setdefault("_dingdian_search", {})
    index = indexes.get(store_id)
    if index is None:
        with _index_creation:
            index = indexes.get(store_id)
            if index is None:
                index = indexes[store_id] = CatalogSearch(engine, store_id)
    return index


_index_creation = threading.Lock()


class CatalogSearch:
    def __init__(self, engine: Engine, store_id: int) -> None:
        self._engine = engine
        self._store_id = store_id
        self._index = SearchIndex()
        self._rev = -1
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with read_unit(self._engine) as s:
            conn = s.connection()
            self._catch_up(conn, _CATALOG_REV.scalar(conn, {"sid": self._store_id}))

    def _catch_up(self, conn: Connection, current: int) -> None:
        """Load the items changed since the index's revision; `current`: the store's, read in `conn`'s snapshot."""
        if current == self._rev:
            return
        with self._lock:
            if current == self._rev:
                return
            first_load = self._rev < 0
            docs, _ = _docs(conn, self._store_id, max(self._rev, -1))
            for doc in docs:
                self._index.upsert(doc)
            self._index.flush()
            self._rev = current
        if first_load:
            # The index is long-lived: keep the collector from walking its 100k objects on a keystroke.
            gc.collect()
            gc.freeze()

    def warm_up(self) -> None:
        """Load the index off the request path (a thread at start-up), so the first search is fast."""
        threading.Thread(target=self.refresh, name="catalog-index", daemon=True).start()

    def hits(self, s: Unit, query: str, limit: int = 20, on_loop: bool = False) -> list[SearchHit]:
        """The index's hits, once it has caught up with the catalog as `s` reads it.

        on_loop: it never waits — NotOnLoop when the index has items to load or another thread holds it."""
        conn = s.connection()
        current = _CATALOG_REV.scalar(conn, {"sid": self._store_id})
        if current != self._rev:
            if on_loop:
                raise NotOnLoop
            self._catch_up(conn, current)
        if not self._lock.acquire(blocking=not on_loop):
            raise NotOnLoop
        try:  # the index applies queued writes inside search: one caller at a time
            return self._index.search(query, limit)
        finally:
            self._lock.release()

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        with read_unit(self._engine) as s:
            return self.hits(s, query, limit)

    def __len__(self) -> int:
        return len(self._index)
