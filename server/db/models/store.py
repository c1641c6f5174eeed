"""The store (定点零售药店) profile, its 医保协议 history and its registered tills (AGR-01/02)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk, updated_at
from server.db.types import UTCDateTime
from server.rules.agreement import AgreementStatus  # the vocabulary is the rules'; kept importable here


class Store(Table, table=True):
    __tablename__ = "store"
    # Bumped by every catalog write so each service's in-memory search index knows to refresh.
    __audit_exclude__ = ("catalog_rev",)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=12, unique=True, index=True)  # 定点医药机构编号 fixmedins_code
    name: str = Field(max_length=100)
    admdvs: str = Field(max_length=6)  # 医保区划
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    site_code: str = Field(max_length=40)  # the registered business site (AGR-02)
    address: str = Field(default="", max_length=200)
    legal_representative: str = Field(default="", max_length=50)
    person_in_charge: str = Field(default="", max_length=50)
    business_scope: str = Field(default="", max_length=500)
    # The chain the store belongs to (连锁总部的编码): stock is transferred only between stores of one chain. "": none.
    chain_code: str = Field(default="", max_length=30)
    # 医保协议: the current state; every change is an AgreementEvent (the audited history).
    agreement_no: str = Field(default="", max_length=50)
    agreement_start: date | None = None
    agreement_end: date | None = None
    agreement_status: str = Field(default=AgreementStatus.NONE.value, max_length=20)
    # Licences (AGR-01): 药品经营许可证 gates card settlement; 营业执照 for the checklist.
    drug_licence_no: str = Field(default="", max_length=50)
    drug_licence_expiry: date | None = None
    business_licence_no: str = Field(default="", max_length=50)
    business_licence_expiry: date | None = None
    catalog_rev: int = 0
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class AgreementEvent(Table, table=True):
    """Append-only history of the 医保协议 status: signed, renewed, suspended, resumed, terminated."""

    __tablename__ = "agreement_event"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    status: str = Field(max_length=20)
    effective_on: date
    ends_on: date | None = None  # the agreement end after this event (renewal) or a suspension's end
    reason: str = Field(default="", max_length=500)
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    # The agency's decision (a suspension, its lifting, a termination) is confirmed by a second 医保 administrator
    # (no foreign key: SQLite would rebuild the guarded table to add one).
    confirmed_by: int | None = None


class TillStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class Till(Table, table=True):
    """A registered settlement device, bound to one store and its site (AGR-02, CARD-06)."""

    __tablename__ = "till"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    code: str = Field(max_length=20)
    name: str = Field(default="", max_length=50)
    site_code: str = Field(max_length=40)
    device_no: str = Field(default="", max_length=100)  # dev_no of the NHSA envelope
    status: str = Field(default=TillStatus.ACTIVE.value, max_length=20)
    registered_at: datetime = created_at()
