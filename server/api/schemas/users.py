"""Users and their staff records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict
from server.roles import Role
from server.rules.staff import Qualification


class UserIn(Strict):
    """A new account for a person: no PIN here — its owner sets it with the one-time code (SEC-01); the posts are
    requests until someone else approves them."""

    username: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(max_length=18, pattern=r"^\d{17}[\dXx]$", description="the owner's 身份证号")
    roles: list[Role] = Field(min_length=1, max_length=5)


class PostRequestIn(Strict):
    role: Role
    note: str = Field(default="", max_length=200)


class TransferIn(Strict):
    roles: list[Role] = Field(min_length=1, max_length=5)
    reason: str = Field(min_length=1, max_length=200)


class GrantOut(BaseModel):
    id: int
    user_id: int
    role: Role
    pending: bool
    granted_by: int | None
    approved_by: int | None
    revoked_at: datetime | None


class ApprovedOut(BaseModel):
    grant: GrantOut
    one_time_code: str | None = Field(description="the new account's first-PIN code: hand it to its owner only")


class StaffIn(Strict):
    id_number: str = Field(default="", max_length=18, pattern=r"^(\d{17}[\dXx])?$")
    qualification: Qualification = Qualification.NONE
    qualification_no: str = Field(default="", max_length=50)
    qualification_expiry: date | None = None  # required for a 执业药师 (the registration's 有效期至)
    registered_store_code: str = Field(default="", max_length=12)
    contract_start: date | None = None
    contract_end: date | None = None
    work_cert_no: str = Field(default="", max_length=50)
    work_cert_expiry: date | None = None


class StaffOut(BaseModel):
    user_id: int
    id_number_masked: str
    qualification: str
    qualification_no: str
    qualification_expiry: date | None
    registered_store_code: str
    contract_start: date | None
    contract_end: date | None
    work_cert_no: str
    work_cert_expiry: date | None
    pharmacist_signoff_refusals: list[dict[str, Any]]
