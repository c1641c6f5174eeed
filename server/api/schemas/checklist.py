"""The compliance checklist's wire shapes (issue #22)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class CountdownOut(BaseModel):
    what_zh: str
    due: date
    days_left: int


class FindingOut(BaseModel):
    no: int
    title_zh: str
    rules: list[str]
    verdict: str  # pass | fail | manual
    verdict_zh: str  # 合格 | 不合格 | 需人工确认
    summary_zh: str
    summary_en: str
    evidence: list[dict[str, Any]]
    count: int
    missing: str
    countdowns: list[CountdownOut]


class ChecklistOut(BaseModel):
    first: date
    last: date
    today: date
    failed: int
    findings: list[FindingOut]
    changes: dict[int, list[str]]  # item no -> [then, now] against the last run of the same period
    previous_at: str | None


class AttestationIn(Strict):
    topic: str = Field(max_length=30)
    note: str = Field(min_length=1, max_length=500)
    photo_b64: str | None = Field(default=None, max_length=7_000_000, pattern=r"^[A-Za-z0-9+/=\s]*$")


class AttestationOut(BaseModel):
    id: int
    topic: str
    business_date: date
    valid_until: date
    note: str


class TrainingIn(Strict):
    held_on: date
    topic: str = Field(min_length=1, max_length=200)
    trainer: str = Field(min_length=1, max_length=50)
    attendees: list[str] = Field(min_length=1, max_length=200)


class TrainingOut(BaseModel):
    id: int
    held_on: date
    topic: str
    trainer: str
    attendees: list[int]


class ChecklistRunOut(BaseModel):
    """One past run (checklist_run): its period, when and by whom, its verdicts, and what changed against the run
    before it of the same period."""

    id: int
    first: date
    last: date
    at: datetime
    run_by: str
    passed: int
    failed: int
    manual: int
    failed_items: list[int]
    verdicts: dict[int, str]  # item no -> pass | fail | manual
    changes: dict[int, list[str]]  # item no -> [then, now]
