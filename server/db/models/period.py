"""The period close (月结, ST-01): a closed month and the stock it closed with.

A close is Tryton's stock period: a snapshot of each batch's stock (quantity, cost, retail) summed over every
movement dated on or before its last day, and a lock — from then on no movement can be dated on or before that
day (the ledger refuses, and a trigger of migration 0024 refuses regardless). The next period's 进销存 opens from
the snapshot instead of replaying the whole history. Both tables are written once and never changed (guarded);
there is no reopening: a correction goes into the open period, referencing what it corrects.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk


class PeriodClose(Table, table=True):
    """One closed period of one store: [first_day, last_day] of its business dates."""

    __tablename__ = "period_close"
    __table_args__ = (UniqueConstraint("store_id", "last_day"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    first_day: date
    last_day: date = Field(index=True)
    closed_by: int | None = Field(default=None, foreign_key="app_user.id")
    closed_at: datetime = created_at()
    last_movement_id: int = 0  # the ledger's last movement when the snapshot was taken
    batches: int = 0  # how many snapshot rows
    note: str = Field(default="", max_length=200)


class PeriodSnapshot(Table, table=True):
    """A batch's stock in one location (sellable, quarantine) at a close: the sums of its movements there dated on
    or before the last day (the report sums the locations; the inspector's walk goes on from each)."""

    __tablename__ = "period_snapshot"
    __table_args__ = (UniqueConstraint("close_id", "batch_id", "location"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    close_id: int = Field(foreign_key="period_close.id", index=True)
    batch_id: int = Field(foreign_key="batch.id")
    item_id: int = Field(foreign_key="item.id")
    location: str = Field(default="sellable", max_length=12)
    qty: int = 0
    cost_fen: int = 0
    retail_fen: int = 0
