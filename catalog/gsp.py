"""GSP classified and separated display (GSP-01, -02, -03, -07): which zone may hold which item.

Pure functions over plain data. A zone admits the classes of one display area (ZoneKind), one route group (internal /
external for drugs, none for non-drugs), one storage condition, and is odour-prone or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from catalog.classes import DRUG_CLASSES, GspClass, Route, Storage, ZonePurpose
from catalog.violations import Violation


class ZoneKind(StrEnum):
    """GSP-02's display areas, and the further zones a store keeps (rules.md): a display or storage zone admits
    the classes of one of them. A 拆零专柜 is a zone of the 处方药 or the 非处方药 kind; 待验/不合格 is a zone's
    purpose (quarantine), which holds any class and displays none."""

    RX = "rx"  # 处方药区
    OTC = "otc"  # 非处方药区
    HERBAL = "herbal"  # 中药饮片区
    HEALTH_FOOD = "health_food"  # 保健食品区
    FOOD = "food"  # 普通食品区
    DAILY_CHEMICAL = "daily_chemical"  # 日化用品区 (cosmetics and other sundries, e.g. 消毒用品, stand here too)
    DEVICE = "device"  # 医疗器械区

    @property
    def label(self) -> str:
        return ZONE_KIND_LABELS[self]


ZONE_KIND_LABELS: dict[ZoneKind, str] = {
    ZoneKind.RX: "处方药区", ZoneKind.OTC: "非处方药区", ZoneKind.HERBAL: "中药饮片区", ZoneKind.HEALTH_FOOD: "保健食品区",
    ZoneKind.FOOD: "普通食品区", ZoneKind.DAILY_CHEMICAL: "日化用品区", ZoneKind.DEVICE: "医疗器械区",
}

# Which classes each kind admits. 处方药 admits nothing else (RX-01: a prescription drug never stands where goods
# sold without one do, so reclassifying it cannot happen by moving it there first).
ZONE_KIND_ADMITS: dict[ZoneKind, frozenset[GspClass]] = {
    ZoneKind.RX: frozenset({GspClass.RX}),
    ZoneKind.OTC: frozenset({GspClass.OTC_A, GspClass.OTC_B}),
    ZoneKind.HERBAL: frozenset({GspClass.HERBAL}),
    ZoneKind.HEALTH_FOOD: frozenset({GspClass.HEALTH_FOOD}),
    ZoneKind.FOOD: frozenset({GspClass.FOOD}),
    ZoneKind.DAILY_CHEMICAL: frozenset({GspClass.DAILY_CHEMICAL, GspClass.COSMETIC, GspClass.OTHER}),
    ZoneKind.DEVICE: frozenset({GspClass.DEVICE}),
}


def zone_kind(admits: Iterable[GspClass]) -> ZoneKind | None:
    """The one display area whose classes include all these (None: none does, or nothing is admitted)."""
    wanted = frozenset(admits)
    if not wanted:
        return None
    return next((k for k, classes in ZONE_KIND_ADMITS.items() if wanted <= classes), None)


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    code: str
    name: str
    admits: frozenset[GspClass]
    route_group: str  # "internal" | "external" | "none"
    storage: Storage
    odour_prone: bool = False
    purpose: ZonePurpose = ZonePurpose.DISPLAY


@dataclass(frozen=True, slots=True)
class ItemSpec:
    code: str
    name: str
    gsp_class: GspClass
    route: Route
    storage: Storage
    odour_prone: bool = False


def route_group(gsp_class: GspClass, route: Route) -> str:
    """内服外用分开: external-use drugs form one group; every other drug route the other."""
    if gsp_class not in DRUG_CLASSES:
        return "none"
    return "external" if route is Route.EXTERNAL else "internal"


def check_zone(zone: ZoneSpec) -> list[Violation]:
    """A zone definition itself must not mix what GSP keeps apart."""
    out: list[Violation] = []
    if not zone.admits:
        out.append(Violation("GSP-02", f"区域 {zone.name} 未指定可陈列类别",
                             f"zone {zone.code} admits no class", {"zone": zone.code}))
        return out
    if zone.purpose is ZonePurpose.QUARANTINE:
        # 待验 / 不合格 / 退货: goods wait here, never sold or displayed, whatever their class.
        return out
    drugs = {c for c in zone.admits if c in DRUG_CLASSES}
    others = set(zone.admits) - drugs
    if drugs and others:
        out.append(Violation(
            "GSP-01", f"区域 {zone.name} 不能同时陈列药品与非药品",
            f"zone {zone.code} may not admit drugs and non-drugs together",
            {"zone": zone.code, "drugs": sorted(drugs), "non_drugs": sorted(others)}))
    if drugs and zone.route_group not in ("internal", "external"):
        out.append(Violation(
            "GSP-01", f"药品区域 {zone.name} 必须指定内服或外用",
            f"drug zone {zone.code} must be internal-use or external-use",
            {"zone": zone.code, "route_group": zone.route_group}))
    if not drugs and zone.route_group != "none":
        out.append(Violation(
            "GSP-01", f"非药品区域 {zone.name} 不分内服外用",
            f"non-drug zone {zone.code} has no route group",
            {"zone": zone.code, "route_group": zone.route_group}))
    if zone_kind(zone.admits) is None:
        rx_with_others = GspClass.RX in zone.admits
        out.append(Violation(
            "GSP-02",
            f"区域 {zone.name} 不能将处方药与其他类别同区陈列" if rx_with_others else
            f"区域 {zone.name} 只能陈列一个分区的商品（{'、'.join(k.label for k in ZoneKind)}）",
            f"zone {zone.code} may not admit prescription drugs with any other class" if rx_with_others else
            f"zone {zone.code} must admit the classes of one display area ({', '.join(ZoneKind)})",
            {"zone": zone.code, "admits": sorted(c.value for c in zone.admits)}))
    if zone.odour_prone and others:
        out.append(Violation(
            "GSP-03", f"易串味区域 {zone.name} 只陈列易串味药品",
            f"odour-prone zone {zone.code} holds only odour-prone drugs", {"zone": zone.code}))
    return out


def check_placement(item: ItemSpec, zone: ZoneSpec) -> list[Violation]:
    """May this item stand in this zone? Every failed condition is reported, each with its rule."""
    out: list[Violation] = []
    if zone.purpose is not ZonePurpose.DISPLAY:
        out.append(Violation(
            "GSP-02", f"{zone.name} 不是陈列区，商品不能上架于此",
            f"zone {zone.code} is a {zone.purpose.value} zone, not a display zone",
            {"zone": zone.code, "purpose": zone.purpose.value}))
        return out  # the other checks are about displaying it there, which cannot happen
    if item.gsp_class not in zone.admits:
        out.append(Violation(
            "GSP-02", f"{item.name} 属于{item.gsp_class.label}，{zone.name} 不允许陈列该类别",
            f"item {item.code} is {item.gsp_class.value}; zone {zone.code} does not admit that class",
            {"item": item.code, "zone": zone.code, "class": item.gsp_class.value,
             "admits": sorted(c.value for c in zone.admits)}))
    group = route_group(item.gsp_class, item.route)
    if group != zone.route_group and item.gsp_class in zone.admits:
        out.append(Violation(
            "GSP-01", f"{item.name} 为{'外用' if group == 'external' else '内服'}药品，"
                      f"不能放在{'外用' if zone.route_group == 'external' else '内服'}药品区 {zone.name}",
            f"item {item.code} is {group}-use; zone {zone.code} is {zone.route_group}-use",
            {"item": item.code, "zone": zone.code, "item_route": group, "zone_route": zone.route_group}))
    if item.odour_prone and not zone.odour_prone:
        out.append(Violation(
            "GSP-03", f"{item.name} 为易串味药品，只能陈列于易串味专区",
            f"item {item.code} is odour-prone; zone {zone.code} is not an odour-prone zone",
            {"item": item.code, "zone": zone.code}))
    if zone.odour_prone and not item.odour_prone:
        out.append(Violation(
            "GSP-03", f"易串味专区 {zone.name} 只陈列易串味药品，{item.name} 不是",
            f"zone {zone.code} is reserved for odour-prone drugs; item {item.code} is not one",
            {"item": item.code, "zone": zone.code}))
    if item.storage is not zone.storage:
        out.append(Violation(
            "GSP-07", f"{item.name} 需{item.storage.label}贮藏，{zone.name} 为{zone.storage.label}",
            f"item {item.code} needs {item.storage.value} storage; zone {zone.code} is {zone.storage.value}",
            {"item": item.code, "zone": zone.code, "item_storage": item.storage.value,
             "zone_storage": zone.storage.value}))
    return out


def zones_admitting(item: ItemSpec, zones: Iterable[ZoneSpec]) -> list[ZoneSpec]:
    """The zones this item may be placed in (for suggestions and the demo layout)."""
    return [z for z in zones if not check_placement(item, z)]
