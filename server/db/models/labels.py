"""Shelf labels printed (GSP-04): each print run and, per item, the facts its label showed.

Both are evidence: what hung on the shelf, printed by whom and when, is what a stale label is judged against (the
catalog changed after it). Append-only: a label printed anew is a new row of a new run.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import JSONDoc, UTCDateTime


class LabelRun(Table, table=True):
    """One print of labels: which (items, a zone, what changed), on what template, by whom."""

    __tablename__ = "label_run"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    printed_at: datetime = Field(sa_type=UTCDateTime)
    business_date: date
    printed_by: int = Field(foreign_key="app_user.id")
    selection: str = Field(max_length=20)  # items | zone | changed
    zone_code: str = Field(default="", max_length=20)
    template: str = Field(max_length=20)  # server.rules.labels.Template
    labels: int = 0


class ShelfLabel(Table, table=True):
    """One item's label as printed: the catalog's facts at that moment (server.rules.labels.LabelFacts)."""

    __tablename__ = "shelf_label"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    run_id: int = Field(foreign_key="label_run.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    price_fen: int
    facts: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
