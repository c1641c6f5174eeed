"""The stock ledger's tables: stock_movement (append-only; stock is the sum of movements, ST-02) and
batch_balance (the running sum per batch and location).

Written only by server.services.stock.ledger, the one door for every movement: these models are not
re-exported by server.db.models, and an import contract (pyproject: importlinter) refuses any other
module of the service that imports them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import UTCDateTime


class StockMovement(Table, table=True):
    """One change of one batch's stock, in split units (the smallest unit the item is sold in), with what it
    cost and what it is worth at retail, in fen, signed like the quantity (server.rules.movements: the kinds).

    Never updated or deleted: a correction is a new row pointing at what it corrects.
    """

    __tablename__ = "stock_movement"
    # A return finds what its sale line took, and what came back already, by reference: without this
    # the lookup reads the whole ledger, which grows by every line sold.
    __table_args__ = (Index("ix_stock_movement_ref", "ref_type", "ref_id"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    batch_id: int = Field(foreign_key="batch.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    kind: str = Field(max_length=20)
    qty: int  # signed, in split units
    # sellable stock, or held in quarantine (returned goods awaiting inspection): never sold from there
    location: str = Field(default="sellable", max_length=12)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    ref_type: str = Field(default="", max_length=30)  # sale | sale_return | receipt | count | ...
    ref_id: str = Field(default="", max_length=40)
    corrects_id: int | None = Field(default=None, foreign_key="stock_movement.id")
    note: str = Field(default="", max_length=200)
    # What the stock moved cost (the batch's cost on hand taken or added: ledger.py says how) and its retail
    # value, both signed like qty; the store's business date (the 进销存 period it belongs to). Rows written
    # before migration 0017: see there for what could be derived.
    cost_fen: int = 0
    retail_fen: int = 0
    business_date: date | None = Field(default=None, index=True)


class BatchBalance(Table, table=True):
    """What a batch holds now per location: the running sum of its movements, kept in the same
    transaction as each movement (the ledger stays the truth; audit verify recomputes this).

    It lets a sale find sellable batches without summing years of history, and gives PostgreSQL
    one row to lock per batch while stock is taken.
    """

    __tablename__ = "batch_balance"
    # Stock never goes below zero: the use cases refuse first; the database refuses regardless.
    # Its cost on hand likewise, and stock at zero costs zero (the rounding stays in the ledger).
    __table_args__ = (CheckConstraint("qty >= 0", name="ck_batch_balance_not_negative"),
                      CheckConstraint("cost_fen >= 0", name="ck_batch_balance_cost_not_negative"),
                      CheckConstraint("qty > 0 OR cost_fen = 0", name="ck_batch_balance_no_cost_without_stock"))

    batch_id: int = Field(foreign_key="batch.id", primary_key=True)
    location: str = Field(primary_key=True, max_length=12)
    store_id: int = store_fk()
    item_id: int = Field(foreign_key="item.id", index=True)
    qty: int = 0
    cost_fen: int = 0  # what the stock on hand cost: the sum of its movements' cost_fen
