"""The uploads' outbox (3501–3507) as the API shows it and what a person may ask of it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class UploadRowOut(BaseModel):
    id: int
    txn: str
    key: str
    state: str
    attempts: int
    business_date: str
    centre_message: str
    last_error: str
    msgid: str
    payload: dict[str, Any]


class UploadsOut(BaseModel):
    by_txn: list[dict[str, Any]]
    backlog: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    backlog_max_hours: int
    signed_in: bool
    rejected: list[UploadRowOut]


class RetryIn(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=10_000)


class RetryOut(BaseModel):
    requeued: int


class CorrectIn(BaseModel):
    fields: dict[str, str | int | list[dict[str, str]]] = Field(min_length=1)
    note: str = Field(min_length=1, max_length=200)


class CorrectOut(BaseModel):
    id: int
    payload: dict[str, Any]
