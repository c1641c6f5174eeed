"""The operator's sign-in with the insurance centre."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict


class SignInIn(Strict):
    mac: str | None = Field(default=None, max_length=20, description="签到MAC地址; default: this service's")
    ip: str | None = Field(default=None, max_length=20, description="签到IP地址; default: the till's")


class SignInOut(BaseModel):
    opter: str
    opter_name: str
    sign_no: str
    sign_time: str
    business_date: date
    signed_in_at: datetime
    signed_out_at: datetime | None
    sign_out_time: str


class InsuranceStatusOut(BaseModel):
    gateway: str
    url: str
    business_date: date
    signed_in: bool = Field(description="the caller has an open sign-in of today")
    mine: SignInOut | None
    operators: list[dict[str, Any]] = Field(description="everyone signed in today (the till's status bar)")
