"""Request and response bodies of the API. The till reads these (or /openapi.json); nothing else."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog.classes import GspClass, InsuranceCategory, Route, Storage, ZonePurpose
from server.db.models import AgreementStatus, Qualification
from server.roles import Role

Code = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_.\-]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Patch(Strict):
    """A partial update: absent means unchanged; null is accepted only where the field may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Patch:
        bad = sorted(k for k in self.model_fields_set if getattr(self, k) is None and k not in self.nullable)
        if bad:
            raise ValueError(f"these fields cannot be empty (不能为空): {', '.join(bad)}")
        return self


# --- auth -------------------------------------------------------------------------------------------

class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=30)
    pin: str = Field(min_length=1, max_length=64)
    till_code: str | None = Field(default=None, max_length=20)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    status: str
    roles: list[Role]


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut


# --- store, agreement, tills ------------------------------------------------------------------------

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
    drug_licence_no: str | None = Field(default=None, max_length=50)
    drug_licence_expiry: date | None = None
    business_licence_no: str | None = Field(default=None, max_length=50)
    business_licence_expiry: date | None = None


class AgreementEventIn(Strict):
    status: AgreementStatus
    effective_on: date
    ends_on: date | None = None
    agreement_no: str | None = Field(default=None, max_length=50)
    reason: str = Field(default="", max_length=500)


class AgreementEventOut(BaseModel):
    id: int
    status: str
    effective_on: date
    ends_on: date | None
    reason: str
    recorded_by: int | None
    recorded_at: datetime


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


# --- users and staff --------------------------------------------------------------------------------

class UserIn(Strict):
    username: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=50)
    pin: str = Field(min_length=4, max_length=12, pattern=r"^\d+$")
    roles: list[Role] = Field(min_length=1, max_length=5)


class StaffIn(Strict):
    id_number: str = Field(default="", max_length=18, pattern=r"^(\d{17}[\dXx])?$")
    qualification: Qualification = Qualification.NONE
    qualification_no: str = Field(default="", max_length=50)
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
    registered_store_code: str
    contract_start: date | None
    contract_end: date | None
    work_cert_no: str
    work_cert_expiry: date | None
    pharmacist_signoff_refusals: list[dict[str, Any]]


# --- catalog ----------------------------------------------------------------------------------------

class ZoneIn(Strict):
    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=50)
    purpose: ZonePurpose = ZonePurpose.DISPLAY
    admits: list[GspClass] = Field(min_length=1, max_length=10)
    route_group: str = Field(pattern=r"^(internal|external|none)$")
    storage: Storage = Storage.NORMAL
    odour_prone: bool = False


class ZoneOut(BaseModel):
    id: int
    code: str
    name: str
    purpose: str
    admits: list[str]
    route_group: str
    storage: str
    odour_prone: bool


class ItemBase(Strict):
    name: str = Field(min_length=1, max_length=100)
    generic_name: str = Field(default="", max_length=100)
    spec: str = Field(default="", max_length=100)
    dosage_form: str = Field(default="", max_length=30)
    manufacturer: str = Field(default="", max_length=100)
    approval_no: str = Field(default="", max_length=50)
    gsp_class: GspClass
    route: Route = Route.OTHER
    odour_prone: bool = False
    storage: Storage = Storage.NORMAL
    nhsa_code: str | None = Field(default=None, max_length=50)
    insurance_category: InsuranceCategory = InsuranceCategory.NONE
    price_fen: int = Field(ge=0, le=100_000_000)
    unit: str = Field(default="盒", min_length=1, max_length=10)
    split_unit: str | None = Field(default=None, min_length=1, max_length=10)
    split_ratio: int = Field(default=1, ge=1, le=10_000)
    split_price_fen: int | None = Field(default=None, ge=0, le=100_000_000)
    traced: bool = False
    no_code_stock: bool = False


class ItemIn(ItemBase):
    code: str = Code
    barcodes: list[str] = Field(default_factory=list, max_length=20)
    zone_code: str | None = Field(default=None, max_length=20)


class ItemPatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"nhsa_code", "split_unit", "split_price_fen"})

    name: str | None = Field(default=None, min_length=1, max_length=100)
    generic_name: str | None = Field(default=None, max_length=100)
    spec: str | None = Field(default=None, max_length=100)
    dosage_form: str | None = Field(default=None, max_length=30)
    manufacturer: str | None = Field(default=None, max_length=100)
    approval_no: str | None = Field(default=None, max_length=50)
    gsp_class: GspClass | None = None
    route: Route | None = None
    odour_prone: bool | None = None
    storage: Storage | None = None
    nhsa_code: str | None = Field(default=None, max_length=50)
    insurance_category: InsuranceCategory | None = None
    price_fen: int | None = Field(default=None, ge=0, le=100_000_000)
    unit: str | None = Field(default=None, min_length=1, max_length=10)
    split_unit: str | None = Field(default=None, min_length=1, max_length=10)
    split_ratio: int | None = Field(default=None, ge=1, le=10_000)
    split_price_fen: int | None = Field(default=None, ge=0, le=100_000_000)
    traced: bool | None = None
    no_code_stock: bool | None = None
    active: bool | None = None


class ItemOut(BaseModel):
    id: int
    code: str
    name: str
    generic_name: str
    spec: str
    dosage_form: str
    manufacturer: str
    approval_no: str
    gsp_class: str
    gsp_class_label: str
    route: str
    odour_prone: bool
    storage: str
    nhsa_code: str | None
    insurance_category: str
    insurance_label: str
    price_fen: int
    unit: str
    split_unit: str | None
    split_ratio: int
    split_price_fen: int | None
    traced: bool
    no_code_stock: bool
    zone_code: str | None
    mnemonic: str
    active: bool
    barcodes: list[str]
    stock: int  # in split units (= units where the item is not split)


class BarcodeIn(Strict):
    code: str = Field(min_length=1, max_length=14)


class PlaceIn(Strict):
    zone_code: str = Field(min_length=1, max_length=20)


class SearchHitOut(BaseModel):
    rank: str
    matched: str
    item: ItemOut


class ImportOut(BaseModel):
    applied: bool
    rows_total: int
    rows_valid: int
    errors: list[dict[str, Any]]
    created: int = 0
    updated: int = 0
    unchanged: int = 0


# --- suppliers and batches --------------------------------------------------------------------------

class SupplierIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    licence_no: str = Field(min_length=1, max_length=50)
    licence_expiry: date
    business_licence_no: str = Field(default="", max_length=50)
    contact: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=30)


class SupplierOut(BaseModel):
    id: int
    name: str
    licence_no: str
    licence_expiry: date
    business_licence_no: str
    contact: str
    phone: str
    active: bool
    licence_valid_today: bool


class OpeningBatchIn(Strict):
    item_id: int = Field(ge=1, le=2_147_483_647)
    supplier_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    batch_no: str = Code
    lot_no: str = Field(min_length=1, max_length=30)
    manufactured_on: date
    expires_on: date
    cost_fen: int = Field(ge=0, le=100_000_000)
    qty: int = Field(ge=0, le=10_000_000)
    zone_code: str | None = Field(default=None, max_length=20)


class BatchOut(BaseModel):
    id: int
    item_id: int
    batch_no: str
    lot_no: str
    manufactured_on: date
    expires_on: date
    cost_fen: int
    status: str
    stop_reason: str
    stock: int
    expired: bool


# --- audit ------------------------------------------------------------------------------------------

class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    rows_checked: int
    problems: list[dict[str, Any]]


class HealthOut(BaseModel):
    status: str
    database: str
    backend: str
    migrations: dict[str, Any]
    configuration: dict[str, Any]
    store: dict[str, Any]


# --- shifts and selling -----------------------------------------------------------------------------

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
SaleId = Field(pattern=UUID_PATTERN, description="a UUID the till generates; retries send the same one")
Fen = Field(ge=0, le=100_000_000)


class ShiftOpenIn(Strict):
    float_fen: int = Fen


class ShiftCloseIn(Strict):
    counted_cash_fen: int = Fen


class ShiftOut(BaseModel):
    id: int
    till_id: int
    status: str
    business_date: date
    float_fen: int
    opened_by: int
    opened_at: datetime
    closed_at: datetime | None
    counted_cash_fen: int | None


class DutyOut(BaseModel):
    id: int
    shift_id: int
    user_id: int
    on_at: datetime
    off_at: datetime | None


class SaleOpenIn(Strict):
    id: str = SaleId


class LineIn(Strict):
    barcode: str | None = Field(default=None, min_length=1, max_length=14)
    item_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    qty: int = Field(default=1, ge=1, le=10_000)
    split: bool = False


class LineQtyIn(Strict):
    qty: int = Field(ge=1, le=10_000)


class TenderIn(Strict):
    kind: str = Field(pattern=r"^[a-z_]{1,12}$", description="cash | other")
    amount_fen: int = Fen
    tendered_fen: int | None = Field(default=None, ge=0, le=100_000_000, description="cash handed over")
    reference: str = Field(default="", max_length=64)


class CompleteIn(Strict):
    tenders: list[TenderIn] = Field(min_length=1, max_length=5)


class SaleLineOut(BaseModel):
    id: int
    line_no: int
    item_id: int
    item_code: str
    name: str
    spec: str
    gsp_class: str
    gsp_class_label: str
    insurance_label: str
    unit: str
    split: bool
    qty: int
    unit_price_fen: int
    amount_fen: int
    returned_qty: int = 0
    traced: bool = False  # sold with a 药品追溯码 per box
    trace_codes: list[str] = Field(default_factory=list)  # 药品追溯码 scanned for this line


class TenderOut(BaseModel):
    kind: str
    amount_fen: int
    tendered_fen: int
    reference: str


class SaleOut(BaseModel):
    id: str
    status: str
    till_id: int
    shift_id: int
    sale_no: str | None
    business_date: date | None
    opened_at: datetime
    completed_at: datetime | None
    total_fen: int
    change_fen: int
    void_reason: str
    lines: list[SaleLineOut]
    tenders: list[TenderOut]
    replayed: bool = False
    prescription_id: int | None = None  # the prescription the Rx lines are dispensed against (RX-01)


class VoidIn(Strict):
    reason: str = Field(min_length=1, max_length=200)


class ReturnLineIn(Strict):
    sale_line_id: int = Field(ge=1, le=2_147_483_647)
    qty: int = Field(ge=1, le=10_000)


class ReturnIn(Strict):
    id: str = SaleId
    sale_id: str = SaleId
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=200)
    to_quarantine: bool = False


class RefundOut(BaseModel):
    kind: str
    amount_fen: int
    reference: str


class ReturnOut(BaseModel):
    id: str
    sale_id: str
    sale_no: str | None
    created_at: datetime
    reason: str
    to_quarantine: bool
    total_fen: int
    lines: list[dict[str, int]]
    refunds: list[RefundOut]


# --- the till ---------------------------------------------------------------------------------------

class TillStatusOut(BaseModel):
    """What the till's status bar shows that the service knows (devices and links come on GET /events)."""
    store_name: str
    till_code: str
    user: str
    shift_id: int | None
    business_date: date | None
    on_duty: list[str]  # display names of the pharmacists on duty in the open shift (RX-10)


class ReturnableLineOut(BaseModel):
    sale_line_id: int
    returnable_qty: int
    quarantine_required: bool  # store policy sends it to quarantine whatever the pharmacist chooses (GSP-06)


class ReturnableSaleOut(BaseModel):
    """A past sale found by its receipt number, with what is left to return of each line."""
    sale: SaleOut
    lines: list[ReturnableLineOut]
