"""Shelf labels (药品标签 / 价签, GSP-04): what a label shows, and when a label may not be printed or hung.

A label is never typed: its facts are the catalog's (name, spec, manufacturer, unit, the one price, barcode, GSP
class, 医保 category, zone). The marks GSP asks for are derived here once: the class mark (处方药 / 甲类OTC /
乙类OTC / 中药饮片 / 非药品) and the 医保 mark (医保甲类 / 医保乙类) on every 医保 drug.

Refused (GSP-04):
- a template with no room for the 医保 mark (the small price tag) for a 医保 drug: its label would carry no mark;
- printing again a label that no longer says what the catalog says (its price, class, 医保 category … changed
  since it was printed): it would hang the old price or the wrong mark; labels are printed anew from the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from catalog.classes import GspClass, InsuranceCategory
from catalog.violations import Violation

RULE = "GSP-04"


class Template(StrEnum):
    STANDARD = "standard"  # 标准价签: every field and both marks
    SMALL = "small"  # 小价签: name, spec, price and the class mark; no room for the 医保 mark

    @property
    def label(self) -> str:
        return {"standard": "标准价签", "small": "小价签"}[self.value]

    @property
    def has_insurance_mark(self) -> bool:
        return self is Template.STANDARD


@dataclass(frozen=True, slots=True)
class LabelFacts:
    """What one label shows, as the catalog has it (the label row keeps these as printed)."""

    item_id: int
    code: str
    name: str
    spec: str
    manufacturer: str
    unit: str
    price_fen: int
    barcode: str
    gsp_class: str
    insurance_category: str
    zone_code: str
    origin: str = ""  # 产地, shown for 中药饮片

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LabelFacts:
        return cls(**{k: raw[k] for k in cls.__slots__ if k in raw})


# What makes a hung label stale when it changes: what the customer reads off it and what it marks.
WATCHED = ("name", "spec", "manufacturer", "unit", "price_fen", "barcode", "gsp_class", "insurance_category",
           "zone_code", "origin")
WATCHED_ZH = {"name": "品名", "spec": "规格", "manufacturer": "生产企业", "unit": "单位", "price_fen": "价格",
              "barcode": "条码", "gsp_class": "分类", "insurance_category": "医保类别", "zone_code": "陈列区",
              "origin": "产地"}

_CLASS_MARKS = {GspClass.RX: "处方药", GspClass.OTC_A: "甲类OTC", GspClass.OTC_B: "乙类OTC", GspClass.HERBAL: "中药饮片"}


def class_mark(gsp_class: str) -> str:
    """The class mark GSP's separated display asks for; every non-drug is 非药品."""
    try:
        return _CLASS_MARKS.get(GspClass(gsp_class), "非药品")
    except ValueError:
        return "非药品"


def is_drug(gsp_class: str) -> bool:
    try:
        return GspClass(gsp_class).is_drug
    except ValueError:
        return False


def insurance_mark(facts: LabelFacts) -> str:
    """医保甲类 / 医保乙类 on a 医保 drug; nothing on a self-pay (丙, 目录外) item or a non-drug."""
    if not is_drug(facts.gsp_class):
        return ""
    return {InsuranceCategory.JIA.value: "医保甲类", InsuranceCategory.YI.value: "医保乙类"}.get(
        facts.insurance_category, "")


def print_refusals(labels: list[LabelFacts], template: Template) -> list[Violation]:
    """GSP-04: a 医保 drug's label carries its 医保 mark, so a template without one is refused for it."""
    if template.has_insurance_mark:
        return []
    return [Violation(RULE, f"{f.name}（{f.code}）为医保药品，{template.label}没有医保标识的位置：请用标准价签",
                      f"{f.code} is a 医保 drug: the {template.value} template has no room for its 医保 mark; "
                      "use the standard one", {"item_id": f.item_id, "item": f.code, "mark": insurance_mark(f),
                                               "template": template.value})
            for f in labels if insurance_mark(f)]


def changed(printed: LabelFacts, now: LabelFacts | None) -> list[str]:
    """What of the printed label the catalog no longer says (the fields, WATCHED order); ["item"] when the item
    left the catalog (inactive) — its label should come off the shelf."""
    if now is None:
        return ["item"]
    return [k for k in WATCHED if getattr(printed, k) != getattr(now, k)]


def reprint_refusals(stale: list[tuple[LabelFacts, list[str]]]) -> list[Violation]:
    """GSP-04: a label printed again must say what the catalog says now — never the old price or mark."""
    return [Violation(RULE, f"{p.name}（{p.code}）的标签印后{'、'.join(WATCHED_ZH.get(k, '商品已停用') for k in fields)}"
                      "已变更，不得按旧标签重印：请按目录重新打印",
                      f"{p.code}: its {', '.join(fields)} changed since the label was printed; the old label is not "
                      "printed again: print it anew from the catalog", {"item_id": p.item_id, "item": p.code,
                                                                         "changed": fields})
            for p, fields in stale if fields]
