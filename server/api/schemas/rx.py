"""Request and response bodies of the prescription API (RX-01..RX-11)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict
from server.rules.prescriptions import Course, RejectReason

Text30 = Field(min_length=1, max_length=30)


class DoctorIn(Strict):
    code: str = Field(min_length=1, max_length=30)
    name: str = Field(min_length=1, max_length=50)
    active: bool = True


class InstitutionIn(Strict):
    code: str = Field(min_length=1, max_length=30)
    name: str = Field(min_length=1, max_length=100)
    admdvs: str = Field(default="", pattern=r"^(\d{6})?$")
    designated: bool = True
    designated_until: date | None = None
    doctors: list[DoctorIn] = Field(default_factory=list, max_length=2000)


class RegistryIn(Strict):
    institutions: list[InstitutionIn] = Field(min_length=1, max_length=5000)


class RegistryOut(BaseModel):
    institutions_created: int
    institutions_updated: int
    doctors_created: int
    doctors_updated: int


class DoctorOut(BaseModel):
    code: str
    name: str
    active: bool


class InstitutionOut(BaseModel):
    code: str
    name: str
    admdvs: str
    designated: bool
    designated_until: date | None
    doctors: list[DoctorOut]


class RxLineIn(Strict):
    item_id: int = Field(ge=1, le=2_147_483_647)
    qty: int = Field(ge=1, le=10_000, description="数量（整盒；拆零时为拆零单位）")
    split: bool = False
    days: int | None = Field(default=None, ge=1, le=366,
                             description="不采用：用药天数由数量、单次剂量和频次计算（RX-06）/ ignored: computed")
    dosage: str = Field(min_length=1, max_length=30, description="单次剂量")
    frequency: str = Field(min_length=1, max_length=30, description="频次")
    route: str = Field(min_length=1, max_length=30, description="用法")
    drug_name: str = Field(default="", max_length=100, description="药品名称，按处方书写（纸质处方必填）")
    dosage_form: str = Field(default="", max_length=30, description="剂型（不填则取商品目录）")


class RxIn(Strict):
    rx_no: str = Field(min_length=1, max_length=50)
    institution_code: str = Field(min_length=1, max_length=30)
    institution_name: str = Field(min_length=1, max_length=100)
    doctor_name: str = Field(min_length=1, max_length=50)
    doctor_code: str = Field(default="", max_length=30)
    issued_on: date
    valid_days: int | None = Field(default=None, ge=1, le=30,
                                   description="医师注明的有效天数；不填则按本店 rules.rx_validity_days（RX-07）")
    patient_name: str = Field(min_length=1, max_length=50)
    patient_sex: Literal["男", "女"]
    patient_age: int = Field(ge=0, le=150)
    patient_certno: str = Field(default="", max_length=30)
    patient_psn_no: str = Field(default="", max_length=30)
    diagnosis: str = Field(min_length=1, max_length=200)
    diagnosis_code: str = Field(default="", max_length=30)
    course: Course = Course.ACUTE
    for_insurance: bool = False
    doctor_signed: bool = False
    institution_sealed: bool = False
    waipei_sealed: bool = False
    lines: list[RxLineIn] = Field(min_length=1, max_length=20)


class ReviewIn(Strict):
    verdict: Literal["approved", "rejected", "referred"]
    reason: RejectReason | None = None
    note: str = Field(default="", max_length=300)
    referred_to: str = Field(default="", max_length=100)
    dispenser_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class SaleRxIn(Strict):
    prescription_id: int = Field(ge=1, le=2_147_483_647)


class RxLineOut(BaseModel):
    id: int
    line_no: int
    item_id: int
    drug_name: str  # as written on the prescription
    generic_name: str  # the dispensed item's 通用名, shown beside it at review
    name_matches: bool  # False: a substitution, refused at review (RX-04)
    dosage_form: str
    qty: int
    split: bool
    dispensed_base: int  # in the item's smallest unit (split units)
    remaining_base: int
    days: int  # computed from quantity, dose and frequency
    dosage: str
    frequency: str
    route: str


class ReviewOut(BaseModel):
    id: int
    verdict: str
    reason: str
    reason_label: str
    note: str
    referred_to: str
    pharmacist_id: int
    dispenser_id: int | None
    at: datetime


class AttachmentOut(BaseModel):
    id: int
    content_type: str
    sha256: str
    size: int
    uploaded_at: datetime


class RxOut(BaseModel):
    id: int
    rx_no: str
    source: str
    for_insurance: bool
    status: str
    institution_code: str
    institution_name: str
    doctor_name: str
    issued_on: date
    valid_days: int  # as the prescriber extended it; 0: the store's rx_validity_days
    patient_name: str
    patient_sex: str
    patient_age: int
    patient_certno_masked: str
    diagnosis: str
    course: str
    entered_at: datetime
    lines: list[RxLineOut]
    reviews: list[ReviewOut]
    attachments: list[AttachmentOut]
