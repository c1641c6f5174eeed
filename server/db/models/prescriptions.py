"""Prescriptions (处方 / 外配处方), the registry of designated medical institutions and their doctors,
the pharmacist's reviews, and attached scans.

A prescription and its review are records kept for inspection (RX-08): never deleted, never edited
after review — an amended prescription is a new review, and what was dispensed against each line is
the sum of the completed sale lines that point at it (no counter to drift).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import LargeBinary, Text, UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk
from server.db.types import JSONDoc, UTCDateTime


class MedicalInstitution(Table, table=True):
    """A medical institution in the store's registry; `designated` = 定点医疗机构 (RX-02)."""

    __tablename__ = "medical_institution"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    code: str = Field(max_length=30)  # 定点医药机构编号 (fixmedins_code) or the registry's code
    name: str = Field(max_length=100)
    admdvs: str = Field(default="", max_length=6)
    designated: bool = True
    designated_until: date | None = None
    updated_at: datetime = created_at()


class Doctor(Table, table=True):
    __tablename__ = "doctor"
    __table_args__ = (UniqueConstraint("store_id", "institution_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    institution_id: int = Field(foreign_key="medical_institution.id", index=True)
    code: str = Field(max_length=30)  # 医师编码 (dr_code)
    name: str = Field(max_length=50)
    active: bool = True


class RxStatus(StrEnum):
    PENDING = "pending"  # entered, awaiting the pharmacist's review
    APPROVED = "approved"  # reviewed and signed off: may be dispensed (RX-01)
    REJECTED = "rejected"  # refused with a reason from the fixed list (RX-05)
    REFERRED = "referred"  # cannot be filled here; the patient was sent to another designated pharmacy


class Prescription(Table, table=True):
    __tablename__ = "prescription"
    __table_args__ = (UniqueConstraint("store_id", "institution_code", "rx_no"),)
    __audit_mask__ = ("patient_certno",)
    __audit_exclude__ = ("original",)  # the electronic original carries the whole ID number (SEC-06)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    rx_no: str = Field(max_length=50)  # the institution's 处方编号 (hosp_rxno)
    source: str = Field(default="paper", max_length=12)  # paper | electronic
    for_insurance: bool = False  # a 外配处方 to be paid by the card
    institution_id: int | None = Field(default=None, foreign_key="medical_institution.id", index=True)
    institution_code: str = Field(max_length=30)
    institution_name: str = Field(max_length=100)
    doctor_code: str = Field(default="", max_length=30)
    doctor_name: str = Field(max_length=50)
    doctor_signed: bool = False
    institution_sealed: bool = False
    waipei_sealed: bool = False
    issued_on: date = Field(index=True)
    valid_days: int = 1
    patient_name: str = Field(max_length=50, index=True)
    patient_sex: str = Field(max_length=2)
    patient_age: int
    patient_certno: str = Field(default="", max_length=30)  # whole here; masked in the audit log (SEC-06)
    patient_psn_no: str = Field(default="", max_length=30)
    diagnosis: str = Field(max_length=200)
    diagnosis_code: str = Field(default="", max_length=30)
    course: str = Field(default="acute", max_length=12)  # server.rules.prescriptions.Course
    status: str = Field(default=RxStatus.PENDING.value, max_length=12, index=True)
    original: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)  # an electronic one as received
    entered_by: int = Field(foreign_key="app_user.id")
    entered_at: datetime = created_at()


class PrescriptionLine(Table, table=True):
    __tablename__ = "prescription_line"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    line_no: int
    item_id: int = Field(foreign_key="item.id")
    drug_name: str = Field(max_length=100)  # as written on the prescription
    dosage_form: str = Field(default="", max_length=30)  # 剂型 as written (the catalog's when not written)
    qty: int = Field(gt=0)  # in the item's unit, or in its split unit (拆零) when split
    split: bool = False
    days: int = Field(gt=0)
    dosage: str = Field(max_length=30)  # 单次剂量
    frequency: str = Field(max_length=30)  # 频次
    route: str = Field(max_length=30)  # 用法


class RxReview(Table, table=True):
    """A pharmacist's review (审方): the verdict, the reason for a refusal, where the patient was sent."""

    __tablename__ = "rx_review"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    verdict: str = Field(max_length=12)  # approved | rejected | referred
    reason: str = Field(default="", max_length=20)  # RejectReason, for rejected / referred
    note: str = Field(default="", max_length=300)
    referred_to: str = Field(default="", max_length=100)  # the designated pharmacy the patient was sent to
    pharmacist_id: int = Field(foreign_key="app_user.id")
    shift_id: int | None = Field(default=None, foreign_key="shift.id")
    dispenser_id: int | None = Field(default=None, foreign_key="app_user.id")  # 调配人, where the store separates
    at: datetime = Field(sa_type=UTCDateTime)


class RxAttachment(Table, table=True):
    """A photo or scan of the paper prescription (evidence for RX-08)."""

    __tablename__ = "rx_attachment"
    __audit_exclude__ = ("data",)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    content_type: str = Field(max_length=40)
    sha256: str = Field(max_length=64)
    size: int
    data: bytes = Field(sa_type=LargeBinary)
    uploaded_by: int = Field(foreign_key="app_user.id")
    uploaded_at: datetime = created_at()


class EprxDownload(Table, table=True):
    """An electronic 外配处方 as the insurance platform's 7203 download gave it (issue #23): kept whole, as received
    (the output's JSON, numbers as sent), with the platform's SM2 signature and whether it verified. Written once
    with the prescription it became; never changed (RX-08). The body carries the whole ID number: left out of the
    audit image (SEC-06), its sha256 kept there instead."""

    __tablename__ = "eprx_download"
    __table_args__ = (UniqueConstraint("store_id", "hi_rxno"),)
    __audit_exclude__ = ("body",)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    hi_rxno: str = Field(max_length=50)  # the platform's 医保处方编号
    scanned: str = Field(max_length=60)  # what found it: the patient's code (epc_qrcd) or the auth_rxno
    msgid: str = Field(max_length=30)  # the 7203 message (the message log keeps the exchange's bytes)
    variant: str = Field(max_length=12)  # [eprx] variant at download: how its sale is reported
    signtype: str = Field(default="", max_length=10)
    signdata: str = Field(default="", max_length=300)
    sign_verified: bool = False
    sha256: str = Field(max_length=64)
    body: str = Field(sa_type=Text)  # the 7203 output, JSON as received
    received_by: int = Field(foreign_key="app_user.id")
    received_at: datetime = Field(sa_type=UTCDateTime)


class EprxReviewUpload(Table, table=True):
    """A pharmacist's review of an electronic 外配处方 as the platform took it (7204): its rx_chk_biz_sn, which the
    sale's report (7206/7207) names. Written once when the platform answers."""

    __tablename__ = "eprx_review_upload"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    prescription_id: int = Field(foreign_key="prescription.id", index=True)
    review_id: int = Field(foreign_key="rx_review.id", unique=True)
    verdict: str = Field(max_length=12)
    msgid: str = Field(max_length=30)
    rx_chk_biz_sn: str = Field(max_length=40)
    uploaded_by: int = Field(foreign_key="app_user.id")
    uploaded_at: datetime = Field(sa_type=UTCDateTime)
