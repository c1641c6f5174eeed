"""Items, their barcodes, the store's display zones and its suppliers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk, updated_at
from server.db.types import JSONDoc, UTCDateTime


class Zone(Table, table=True):
    """A display / storage zone. What it admits is data (GSP-01..03, GSP-07)."""

    __tablename__ = "zone"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    code: str = Field(max_length=20)
    name: str = Field(max_length=50)
    purpose: str = Field(default="display", max_length=20)  # catalog.classes.ZonePurpose
    admits: list[str] = Field(default_factory=list, sa_type=JSONDoc)  # GspClass values
    route_group: str = Field(default="none", max_length=20)  # internal | external | none (non-drug)
    storage: str = Field(default="normal", max_length=20)  # catalog.classes.Storage
    odour_prone: bool = False
    created_at: datetime = created_at()


class Item(Table, table=True):
    __tablename__ = "item"
    __audit_exclude__ = ("rev",)
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    code: str = Field(max_length=30)  # the store's own item code (fixmedins_hilist_id / medins_list_codg)
    name: str = Field(max_length=100, index=True)
    generic_name: str = Field(default="", max_length=100, index=True)  # 通用名
    spec: str = Field(default="", max_length=100)  # 规格
    dosage_form: str = Field(default="", max_length=30)  # 剂型
    manufacturer: str = Field(default="", max_length=100)  # 生产企业
    origin: str = Field(default="", max_length=50)  # 产地: what a 中药饮片's shelf label shows (GSP-04, 0030)
    approval_no: str = Field(default="", max_length=50, index=True)  # 批准文号
    gsp_class: str = Field(max_length=20)  # catalog.classes.GspClass
    route: str = Field(default="other", max_length=20)  # catalog.classes.Route
    odour_prone: bool = False  # 易串味 (GSP-03)
    storage: str = Field(default="normal", max_length=20)  # catalog.classes.Storage (GSP-07)
    nhsa_code: str | None = Field(default=None, max_length=50, index=True)  # 国家统一医保编码 med_list_codg
    insurance_category: str = Field(default="none", max_length=10)  # catalog.classes.InsuranceCategory
    mapping_uploaded_on: date | None = None  # CARD-07: the day the mapping (code, 甲/乙) reached the centre
    # CARD-03: one price per item. There is deliberately no per-tender price column.
    price_fen: int = Field(ge=0)
    unit: str = Field(default="盒", max_length=10)
    split_unit: str | None = Field(default=None, max_length=10)  # 拆零 unit, e.g. 片
    split_ratio: int = Field(default=1, ge=1)  # split units per unit; stock is kept in split units
    split_price_fen: int | None = Field(default=None, ge=0)
    pharm_class: str = Field(default="", max_length=30)  # 药理分类, for RX-06's same-class limit
    traced: bool = False  # sold with 药品追溯码 per box
    no_code_stock: bool = False  # 无码库: old stock without trace codes
    zone_id: int | None = Field(default=None, foreign_key="zone.id", index=True)
    mnemonic: str = Field(default="", max_length=100, index=True)  # 助记码 (pinyin initials)
    active: bool = True
    rev: int = Field(default=0, index=True)  # the store's catalog_rev at this item's last change
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class Barcode(Table, table=True):
    """A barcode belongs to one item only (unique per store)."""

    __tablename__ = "barcode"
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    item_id: int = Field(foreign_key="item.id", index=True)
    code: str = Field(max_length=14)
    kind: str = Field(max_length=10)  # gtin8 | gtin12 | gtin13 | gtin14


class Supplier(Table, table=True):
    """A supplier; goods come only from one whose licence is valid that day (GSP-05)."""

    __tablename__ = "supplier"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    name: str = Field(max_length=200)
    licence_no: str = Field(max_length=50)  # 药品经营许可证号 spler_pmtno
    licence_expiry: date
    business_licence_no: str = Field(default="", max_length=50)  # 统一社会信用代码 (check character validated)
    contact: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=30)
    active: bool = True
    created_at: datetime = created_at()
    # 经营范围: what its licences let it supply (server.rules.stock.Scope values)
    scope: list[str] = Field(default_factory=list, sa_type=JSONDoc)
    # 首营企业审核: who approved it as a first-time supplier, and when (no goods from it before)
    first_approved_by: int | None = Field(default=None, foreign_key="app_user.id")
    first_approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
