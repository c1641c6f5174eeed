"""The store, its agreement with the insurance agency, its tills."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from server.api.schemas.common import Patch, Strict
from server.rules.agreement import AgreementStatus


class StoreOut(BaseModel):
    id: int
    code: str
    name: str
    admdvs: str
    timezone: str
    site_code: str
    address: str
    legal_representative: str
    person_in_charge: str
    business_scope: str
    chain_code: str
    agreement_no: str
    agreement_start: date | None
    agreement_end: date | None
    agreement_status: AgreementStatus
    drug_licence_no: str
    drug_licence_expiry: date | None
    business_licence_no: str
    business_licence_expiry: date | None
    card_settlement_refusals: list[dict[str, Any]] = []


class StoreUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"drug_licence_expiry", "business_licence_expiry"})

    name: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=200)
    legal_representative: str | None = Field(default=None, max_length=50)
    person_in_charge: str | None = Field(default=None, max_length=50)
    business_scope: str | None = Field(default=None, max_length=500)
    chain_code: str | None = Field(default=None, max_length=30)  # the chain's code: transfers stay within it
    drug_licence_no: str | None = Field(default=None, max_length=50)
    drug_licence_expiry: date | None = None
    business_licence_no: str | None = Field(default=None, max_length=50)
    business_licence_expiry: date | None = None


class AgreementEventIn(Strict):
    status: AgreementStatus
    effective_on: date
    ends_on: date | None = None
    agreement_no: str | None = Field(default=None, max_length=50)
    reason: str = Field(default="", max_length=500)  # the agency's decision: the second 医保 administrator's
    # confirmation is their grant in the header X-Second (POST /auth/authorise with `second`), never their PIN


class AgreementEventOut(BaseModel):
    id: int
    status: str
    effective_on: date
    ends_on: date | None
    reason: str
    recorded_by: int | None
    recorded_at: datetime
    confirmed_by: int | None = None


class TillIn(Strict):
    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(default="", max_length=50)
    device_no: str = Field(default="", max_length=100)


class TillOut(BaseModel):
    id: int
    code: str
    name: str
    site_code: str
    device_no: str
    status: str
    registered_at: datetime


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=500)
