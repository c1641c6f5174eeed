"""The NHSA dictionaries (代码表) the pharmacy transactions use (reference §9).

Where provinces disagree on a code's spelling (chrgitm_lv 01/1, clr_way 1/01), reading accepts
both and sending uses the spelling the store's region configures.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from catalog.classes import InsuranceCategory


class MdtrtCertType(StrEnum):
    """就诊凭证类型: what identifies the insured person at the counter (all sources agree)."""

    EC_TOKEN = "01"  # 医保电子凭证 (the QR's token)
    ID_CARD = "02"  # 居民身份证
    SSCARD = "03"  # 社会保障卡

    @property
    def label(self) -> str:
        return {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"}[self.value]


class Insutype(StrEnum):
    """险种类型: the two a retail pharmacy settles day to day (the others pass through as text)."""

    EMPLOYEE = "310"  # 职工基本医疗保险
    RESIDENT = "390"  # 城乡居民基本医疗保险


INSUTYPE_LABELS = {
    "310": "职工基本医疗保险", "320": "公务员医疗补助", "330": "大额医疗费用补助", "340": "离休人员医疗保障",
    "350": "一至六级残废军人医疗补助", "360": "老红军医疗保障", "370": "企业补充医疗保险", "380": "新型农村合作医疗",
    "390": "城乡居民基本医疗保险", "391": "城镇居民基本医疗保险", "392": "城乡居民大病医疗保险",
    "399": "其他特殊人员医疗保障", "410": "长期照护保险", "510": "生育保险",
}

MED_TYPE_PHARMACY = "41"  # 定点药店购药
MED_TYPE_CHRONIC = "14"  # 门诊慢特病
CLR_TYPE_PHARMACY = "41"  # 清算类别: 药店购药
OPTER_TYPE_CLERK = "1"  # 经办人类别: 经办人

# drug_trac_info (reference §8): 拆零标志 trdn_flag (0 否 / 1 是, [JX] 表315) and min_prcunt_type. The latter has no
# dictionary in the copies found: "2" is "by the smallest package" (the one implementation seen sends it for a box
# scanned whole); "1", by the smallest dose unit, is inferred for a 拆零 line. Confirm with the province's spec.
TRDN_WHOLE, TRDN_SPLIT = "0", "1"
MIN_PRCUNT_DOSE, MIN_PRCUNT_PACKAGE = "1", "2"

FUND_PAY_TYPE_LABELS = {
    "310100": "职工基本医疗保险统筹基金", "310200": "职工基本医疗保险个人账户基金", "320100": "公务员医疗补助基金",
    "330100": "职工大额医疗费用补助基金", "390100": "城乡居民基本医疗保险基金", "390200": "城乡居民大病医疗保险基金",
    "610100": "医疗救助基金", "999997": "其他",
}

# chrgitm_lv 收费项目等级: [HN] 01/02/03 vs [JX]/[OI] 1/2/3 — both read, one sent.
_CHRGITM_LV: dict[str, InsuranceCategory] = {
    "01": InsuranceCategory.JIA, "1": InsuranceCategory.JIA,
    "02": InsuranceCategory.YI, "2": InsuranceCategory.YI,
    "03": InsuranceCategory.BING, "3": InsuranceCategory.BING,
}
ChrgitmLvStyle = Literal["2digit", "1digit"]


def chrgitm_lv_category(raw: object) -> InsuranceCategory:
    """甲/乙/丙 from either spelling; anything else (empty, unknown) is off-list: self-pay."""
    text = str(raw).strip() if raw is not None else ""
    return _CHRGITM_LV.get(text, InsuranceCategory.NONE)


def chrgitm_lv_code(category: InsuranceCategory, style: ChrgitmLvStyle = "2digit") -> str:
    """The code for 甲/乙/丙 in the region's spelling; off-list items carry none."""
    number = {InsuranceCategory.JIA: 1, InsuranceCategory.YI: 2, InsuranceCategory.BING: 3}.get(category)
    if number is None:
        return ""
    return f"{number:02d}" if style == "2digit" else str(number)


# clr_way 清算方式: [HN] 1..4, 9, 40 vs [OI] 01..05, 99 — compared by value, not by spelling.
def same_code(a: object, b: object) -> bool:
    """Two dictionary codes equal up to leading zeros ('1' == '01'); non-numeric codes compare as text."""
    sa, sb = str(a or "").strip(), str(b or "").strip()
    if sa.isdigit() and sb.isdigit():
        return int(sa) == int(sb)
    return sa == sb


class StmtRslt(StrEnum):
    """对账结果."""

    BALANCED = "0"  # 平
    UNBALANCED = "1"  # 不平
