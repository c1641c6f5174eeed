"""Catalog search for the till: an in-memory index per store, kept in step with the database.

Every catalog write bumps the store's catalog_rev and stamps the item with it; a search first
reads that one integer and, when it moved, reloads only the items stamped since. So a write made
by another process (an import from the CLI) is seen on the next search.
"""

from __future__ import annotations

import gc
import threading
from collections import defaultdict

from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from catalog.search import SearchDoc, SearchHit, SearchIndex
from server.db.models import Barcode, Item, Store
from server.db.uow import read_session

_DOC_COLUMNS = (col(Item.id), col(Item.code), col(Item.name), col(Item.generic_name), col(Item.mnemonic),
                col(Item.nhsa_code), col(Item.approval_no), col(Item.active), col(Item.rev))


def _docs(s: Session, store_id: int, since_rev: int) -> tuple[list[SearchDoc], int]:
    # Plain column rows, not ORM objects: loading 100k full items costs seconds, these a fraction.
    rows = s.execute(sa_select(*_DOC_COLUMNS).where(col(Item.store_id) == store_id, col(Item.rev) > since_rev)).all()
    if not rows:
        return [], since_rev
    ids = [r.id for r in rows]
    codes: dict[int, list[str]] = defaultdict(list)
    # Chunked IN lists keep the statement within every backend's parameter limit.
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for item_id, code in s.execute(select(Barcode.item_id, Barcode.code).where(col(Barcode.item_id).in_(chunk))):
            codes[item_id].append(code)
    docs = [SearchDoc(item_id=r.id, code=r.code, name=r.name, generic_name=r.generic_name, mnemonic=r.mnemonic,
                      barcodes=tuple(codes.get(r.id, ())), nhsa_code=r.nhsa_code, approval_no=r.approval_no,
                      active=r.active) for r in rows]
    return docs, max(r.rev for r in rows)


class CatalogSearch:
    def __init__(self, engine: Engine, store_id: int) -> None:
        self._engine = engine
        self._store_id = store_id
        self._index = SearchIndex()
        self._rev = -1
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with read_session(self._engine) as s:
            current = s.exec(select(Store.catalog_rev).where(Store.id == self._store_id)).one()
            if current == self._rev:
                return
            with self._lock:
                if current == self._rev:
                    return
                first_load = self._rev < 0
                docs, _ = _docs(s, self._store_id, max(self._rev, -1))
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

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        self.refresh()
        with self._lock:  # the index applies queued writes inside search: one caller at a time
            return self._index.search(query, limit)

    def __len__(self) -> int:
        return len(self._index)
