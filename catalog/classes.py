"""The vocabulary of the catalog: GSP classes (经营类别), routes, storage conditions, 医保 categories.

Values are stable English identifiers stored in the database; each carries its Chinese label.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class GspClass(StrEnum):
    """GSP goods class. Drives display zones (GSP-01/02), card eligibility (CARD-02) and Rx (RX-01)."""

    RX = "rx"  # 处方药
    OTC_A = "otc_a"  # 甲类非处方药
    OTC_B = "otc_b"  # 乙类非处方药
    HERBAL = "herbal"  # 中药饮片
    HEALTH_FOOD = "health_food"  # 保健食品
    FOOD = "food"  # 普通食品
    DAILY_CHEMICAL = "daily_chemical"  # 日化用品
    COSMETIC = "cosmetic"  # 化妆品
    DEVICE = "device"  # 医疗器械
    OTHER = "other"  # 其他

    @property
    def label(self) -> str:
        return GSP_CLASS_LABELS[self]

    @property
    def is_drug(self) -> bool:
        return self in DRUG_CLASSES


GSP_CLASS_LABELS: dict[GspClass, str] = {
    GspClass.RX: "处方药",
    GspClass.OTC_A: "甲类非处方药",
    GspClass.OTC_B: "乙类非处方药",
    GspClass.HERBAL: "中药饮片",
    GspClass.HEALTH_FOOD: "保健食品",
    GspClass.FOOD: "普通食品",
    GspClass.DAILY_CHEMICAL: "日化用品",
    GspClass.COSMETIC: "化妆品",
    GspClass.DEVICE: "医疗器械",
    GspClass.OTHER: "其他",
}

# 药品: the classes a drug-business licence covers. Everything else is non-drug goods, which the
# insurance card never pays (CARD-02) and which never shares a zone with drugs (GSP-01).
DRUG_CLASSES: frozenset[GspClass] = frozenset({GspClass.RX, GspClass.OTC_A, GspClass.OTC_B, GspClass.HERBAL})


class Route(StrEnum):
    """给药途径. GSP-01 keeps external-use drugs apart from the rest (内服外用分开)."""

    INTERNAL = "internal"  # 内服
    EXTERNAL = "external"  # 外用
    INJECTION = "injection"  # 注射
    OTHER = "other"  # 其他 / 不适用

    @property
    def label(self) -> str:
        return {"internal": "内服", "external": "外用", "injection": "注射", "other": "其他"}[self.value]


class Storage(StrEnum):
    """贮藏条件 (GSP-07)."""

    NORMAL = "normal"  # 常温 10–30 ℃
    COOL = "cool"  # 阴凉 ≤ 20 ℃
    COLD = "cold"  # 冷藏 2–10 ℃

    @property
    def label(self) -> str:
        return {"normal": "常温", "cool": "阴凉", "cold": "冷藏"}[self.value]


class InsuranceCategory(StrEnum):
    """医保目录 category (chrgitm_lv). 甲/乙 may be card-paid (CARD-02); 丙 and none are self-pay."""

    JIA = "jia"  # 甲类
    YI = "yi"  # 乙类
    BING = "bing"  # 丙类 (self-pay)
    NONE = "none"  # 目录外

    @property
    def label(self) -> str:
        return {"jia": "甲", "yi": "乙", "bing": "丙", "none": "—"}[self.value]


class ZonePurpose(StrEnum):
    DISPLAY = "display"  # 陈列区: goods on sale
    STORAGE = "storage"  # 仓储区
    QUARANTINE = "quarantine"  # 待验 / 不合格 / 退货: never sold from


def parse_enum(enum: type[E], raw: str) -> E | None:
    """Accept the identifier or the Chinese label (import files use either)."""
    text = raw.strip()
    for member in enum:
        if text == member.value or text == getattr(member, "label", None):
            return member
    return None
