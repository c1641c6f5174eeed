"""Batches and the kinds of stock movement; the ledger's own tables are in ledger.py (ST-02)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk
from server.rules.movements import MovementKind  # the one list of kinds (re-exported for the models' users)

__all__ = ["Batch", "BatchStatus", "MovementKind"]


class BatchStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"  # quality doubt: never sold until cleared (GSP-06)


class Batch(Table, table=True):
    __tablename__ = "batch"
    __table_args__ = (UniqueConstraint("store_id", "batch_no"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    item_id: int = Field(foreign_key="item.id", index=True)
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id")
    batch_no: str = Field(max_length=30)  # the store's own batch serial: fixmedins_bchno
    lot_no: str = Field(max_length=30)  # 生产批号 manu_lotnum
    manufactured_on: date
    expires_on: date = Field(index=True)
    cost_fen: int = Field(ge=0)  # purchase price per unit (not per split unit)
    zone_id: int | None = Field(default=None, foreign_key="zone.id")  # where the batch is kept
    status: str = Field(default=BatchStatus.ACTIVE.value, max_length=20)
    stop_reason: str = Field(default="", max_length=200)
    received_at: datetime = created_at()
