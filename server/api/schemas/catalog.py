"""Items, zones, barcodes, search, the catalog import."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field
from pydantic_core import to_json

from catalog.classes import GspClass, InsuranceCategory, Route, Storage, ZonePurpose
from server.api.schemas.common import Code, Patch, SecondPerson, Strict


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
    origin: str = Field(default="", max_length=50, description="产地（中药饮片的价签所示）")
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
    pharm_class: str = Field(default="", max_length=30, description="药理分类（RX-06 同类药品限量）")
    traced: bool = False
    no_code_stock: bool = False


class ItemIn(ItemBase, SecondPerson):
    code: str = Code
    barcodes: list[str] = Field(default_factory=list, max_length=20)
    zone_code: str | None = Field(default=None, max_length=20)


class ItemPatch(Patch, SecondPerson):
    nullable: ClassVar[frozenset[str]] = frozenset({"nhsa_code", "split_unit", "split_price_fen"})

    name: str | None = Field(default=None, min_length=1, max_length=100)
    generic_name: str | None = Field(default=None, max_length=100)
    spec: str | None = Field(default=None, max_length=100)
    dosage_form: str | None = Field(default=None, max_length=30)
    manufacturer: str | None = Field(default=None, max_length=100)
    origin: str | None = Field(default=None, max_length=50)
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
    pharm_class: str | None = Field(default=None, max_length=30)
    traced: bool | None = None
    no_code_stock: bool | None = None
    active: bool | None = None
    zone_code: str | None = Field(default=None, min_length=1, max_length=20,
                                  description="where the changed item stands from now (a reclassified drug moves too)")


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
    pharm_class: str
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


_ITEM_FIELDS = tuple(ItemOut.model_fields)
_GSP_LABEL = {c.value: c.label for c in GspClass}
_INSURANCE_LABEL = {c.value: c.label for c in InsuranceCategory}


def item_fields(shown: Mapping[str, Any], stock: int) -> dict[str, Any]:
    """ItemOut's fields, in its order, with the values it would hold: from what the catalog shows of an item (its
    columns, zone_code, barcodes) and its sellable stock."""
    values = {**shown, "gsp_class_label": _GSP_LABEL[shown["gsp_class"]],
              "insurance_label": _INSURANCE_LABEL[shown["insurance_category"]], "stock": stock}
    return {k: values[k] for k in _ITEM_FIELDS}


def search_hits_json(hits: Iterable[tuple[str, str, dict[str, Any]]]) -> bytes:
    """A search's answer, list[SearchHitOut], from (rank, matched, item_fields) — serialised at once, as pydantic
    serialises the models, without building and validating a model per hit: the search runs on every
    keystroke, and for twenty hits the models cost more than the search and its reads together."""
    return to_json([{"rank": rank, "matched": matched, "item": item} for rank, matched, item in hits])


class ImportOut(BaseModel):
    applied: bool
    rows_total: int
    rows_valid: int
    errors: list[dict[str, Any]]
    created: int = 0
    updated: int = 0
    unchanged: int = 0
