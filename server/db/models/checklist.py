"""What the store manager attests and records for the checklist (CHECK 13, 16, 26; SEC-07, STAFF-02), and each run
of the checklist kept, so the next run shows what changed.

An attestation expires: `valid_until` is set from the store's setting when it is given; a fresh one is a new row.
All three are append-only: what was confirmed, by whom and when, is evidence.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import LargeBinary
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import JSONDoc, UTCDateTime


class AttestationTopic(StrEnum):
    """Items no data can prove (rules.md CHECK 13 and 26)."""

    SYSTEM_DRUGS = "system_drugs"  # 医保药品管理制度
    SYSTEM_FINANCE = "system_finance"  # 财务管理制度
    SYSTEM_STAFF = "system_staff"  # 医保人员管理制度
    SYSTEM_STATISTICS = "system_statistics"  # 统计信息管理制度
    SYSTEM_SETTLEMENT = "system_settlement"  # 医保费用结算制度
    SIGN = "sign"  # 定点医药机构标牌
    COMPLAINT_PHONE = "complaint_phone"  # 投诉电话公示
    POLICY_BOARD = "policy_board"  # 医保政策宣传栏
    NETWORK = "network"  # SEC-07 医保专网
    ANTIVIRUS = "antivirus"  # SEC-07 实时杀毒
    NO_EXTERNAL_MEDIA = "no_external_media"  # SEC-07 禁用外部存储介质

    @property
    def label(self) -> str:
        return ATTESTATION_LABELS[self]


ATTESTATION_LABELS: dict[AttestationTopic, str] = {
    AttestationTopic.SYSTEM_DRUGS: "医保药品管理制度", AttestationTopic.SYSTEM_FINANCE: "财务管理制度",
    AttestationTopic.SYSTEM_STAFF: "医保人员管理制度", AttestationTopic.SYSTEM_STATISTICS: "统计信息管理制度",
    AttestationTopic.SYSTEM_SETTLEMENT: "医保费用结算制度", AttestationTopic.SIGN: "定点标牌悬挂",
    AttestationTopic.COMPLAINT_PHONE: "投诉电话公示", AttestationTopic.POLICY_BOARD: "医保政策宣传栏",
    AttestationTopic.NETWORK: "医保系统专网专用", AttestationTopic.ANTIVIRUS: "实时杀毒软件",
    AttestationTopic.NO_EXTERNAL_MEDIA: "禁用外部存储介质",
}


class Attestation(Table, table=True):
    __tablename__ = "attestation"
    __audit_digest__ = ("photo",)  # the log keeps the photo's digest, not its bytes

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    topic: str = Field(max_length=30)  # AttestationTopic
    confirmed_by: int = Field(foreign_key="app_user.id")
    confirmed_at: datetime = Field(sa_type=UTCDateTime)
    business_date: date
    valid_until: date
    note: str = Field(default="", max_length=500)
    photo_sha256: str = Field(default="", max_length=64)  # a photo or scan of what was checked, by its digest
    photo: bytes | None = Field(default=None, sa_type=LargeBinary)


class TrainingSession(Table, table=True):
    """A training held for the staff (STAFF-02): when, on what, who trained, who attended."""

    __tablename__ = "training_session"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    held_on: date
    topic: str = Field(max_length=200)
    trainer: str = Field(max_length=50)
    attendees: list[int] = Field(default_factory=list, sa_type=JSONDoc)  # app_user ids
    recorded_by: int = Field(foreign_key="app_user.id")
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class ChecklistRun(Table, table=True):
    """One run of the checklist: the period, each item's verdict, who ran it (the history the next run compares)."""

    __tablename__ = "checklist_run"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    first: date
    last: date
    at: datetime = Field(sa_type=UTCDateTime)
    run_by: str = Field(max_length=60)
    verdicts: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)  # item no -> pass | fail | manual
