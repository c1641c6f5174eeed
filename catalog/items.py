"""Rules an item record itself must satisfy, whether typed in, imported or sent over the API."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.classes import DRUG_CLASSES, GspClass, InsuranceCategory, Route
from catalog.violations import Violation

# The category letter a drug's 国家统一医保编码 starts with (nhsa-interface.md §6): 西药 X or 中成药 Z for the
# drugs with an approval number, 中药饮片 T. A code of another kind on an item names some other goods: an Rx
# drug relabelled 中药饮片 keeps its X code and is refused here.
NHSA_PREFIX_BY_CLASS: dict[GspClass, tuple[str, ...]] = {
    GspClass.RX: ("X", "Z"), GspClass.OTC_A: ("X", "Z"), GspClass.OTC_B: ("X", "Z"), GspClass.HERBAL: ("T",),
}


@dataclass(frozen=True, slots=True)
class ItemFacts:
    code: str
    gsp_class: GspClass
    route: Route
    approval_no: str
    nhsa_code: str | None
    insurance_category: InsuranceCategory
    price_fen: int
    split_unit: str | None
    split_ratio: int
    split_price_fen: int | None


def check_item(f: ItemFacts) -> list[Violation]:
    from catalog.codes import check_nhsa_code  # the code rules live beside the GTIN rules

    out: list[Violation] = []
    is_drug = f.gsp_class in DRUG_CLASSES
    covered = f.insurance_category in (InsuranceCategory.JIA, InsuranceCategory.YI)
    if covered and not is_drug:
        out.append(Violation(
            "CARD-02", f"{f.gsp_class.label}不属于医保目录药品，不能设为甲/乙类",
            f"{f.gsp_class.value} goods are never in the insurance drug list (甲/乙)",
            {"item": f.code, "class": f.gsp_class.value}))
    if covered and not f.nhsa_code:
        out.append(Violation(
            "CARD-07", "甲/乙类药品须填写国家统一医保编码", "a 甲/乙 item needs its national insurance code",
            {"item": f.code}))
    if f.nhsa_code:
        if not is_drug:
            out.append(Violation(
                "CARD-02", "非药品不能对照医保药品编码", "non-drug goods cannot carry an insurance drug code",
                {"item": f.code}))
        out.extend(check_nhsa_code(f.nhsa_code))
        expected = NHSA_PREFIX_BY_CLASS.get(f.gsp_class)
        if is_drug and expected and f.nhsa_code[:1] not in expected:
            out.append(Violation(
                "CARD-07", f"医保编码 {f.nhsa_code} 的类别字母 {f.nhsa_code[:1]} 与{f.gsp_class.label}不符，应为 "
                           f"{'/'.join(expected)}",
                f"national code {f.nhsa_code} starts with {f.nhsa_code[:1]!r}, not a {f.gsp_class.value} code "
                f"({'/'.join(expected)})",
                {"item": f.code, "class": f.gsp_class.value, "expected_first": list(expected)}))
    if f.gsp_class in (GspClass.RX, GspClass.OTC_A, GspClass.OTC_B) and not f.approval_no.strip():
        out.append(Violation("CATALOG-APPROVAL", "药品须填写批准文号", "a drug needs its approval number (批准文号)",
                             {"item": f.code}))
    if is_drug and f.gsp_class is not GspClass.HERBAL and f.route is Route.OTHER:
        out.append(Violation("GSP-01", "药品须注明内服、外用或注射", "a drug needs its route: internal, external or injection",
                             {"item": f.code}))
    if f.price_fen < 0:
        out.append(Violation("CATALOG-PRICE", "零售价不能为负", "the retail price cannot be negative",
                             {"item": f.code}))
    if f.split_unit:
        if f.split_ratio < 2:
            out.append(Violation("CATALOG-SPLIT", "拆零商品须填写大于 1 的拆零系数",
                                 "a split-pack item needs a split ratio above 1", {"item": f.code}))
        if f.split_price_fen is None or f.split_price_fen < 0:
            out.append(Violation("CATALOG-SPLIT", "拆零商品须填写拆零价", "a split-pack item needs its split price",
                                 {"item": f.code}))
    elif f.split_ratio != 1 or f.split_price_fen is not None:
        out.append(Violation("CATALOG-SPLIT", "未设拆零单位的商品不能有拆零系数或拆零价",
                             "split ratio and price need a split unit", {"item": f.code}))
    return out
