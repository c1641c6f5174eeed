"""GSP-05 as pure functions: goods enter stock only from a lawful supplier, with a voucher, inspected (验收) by a
named person and approved by the person in charge who is not the inspector; the first inventory is the one
way stock enters without a supplier, once.

Each function takes plain facts and returns the violations (empty: allowed). The stock wing gathers the facts
(server.services.stock.receiving) and refuses with these; tests call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from catalog.classes import GspClass
from catalog.violations import Violation


class Scope(StrEnum):
    """What a supplier's licences let it supply (经营范围), by the classes of goods the store keeps."""

    DRUGS = "drugs"  # 药品经营许可证: 处方药, 非处方药, 中药饮片
    DEVICES = "devices"  # 医疗器械经营许可证 / 备案
    HEALTH_FOOD = "health_food"  # 保健食品 (食品经营许可证, 保健食品)
    FOOD = "food"  # 食品经营许可证
    COSMETICS = "cosmetics"
    SUNDRIES = "sundries"  # 日用品 and other goods that need no licence of their own

    @property
    def label(self) -> str:
        return SCOPE_LABELS[self]


SCOPE_LABELS: dict[Scope, str] = {Scope.DRUGS: "药品", Scope.DEVICES: "医疗器械", Scope.HEALTH_FOOD: "保健食品",
                                  Scope.FOOD: "食品", Scope.COSMETICS: "化妆品", Scope.SUNDRIES: "日用品及其他"}

SCOPE_OF_CLASS: dict[GspClass, Scope] = {
    GspClass.RX: Scope.DRUGS, GspClass.OTC_A: Scope.DRUGS, GspClass.OTC_B: Scope.DRUGS, GspClass.HERBAL: Scope.DRUGS,
    GspClass.DEVICE: Scope.DEVICES, GspClass.HEALTH_FOOD: Scope.HEALTH_FOOD, GspClass.FOOD: Scope.FOOD,
    GspClass.COSMETIC: Scope.COSMETICS, GspClass.DAILY_CHEMICAL: Scope.SUNDRIES, GspClass.OTHER: Scope.SUNDRIES,
}


@dataclass(frozen=True, slots=True)
class SupplierFacts:
    name: str
    active: bool
    licence_expiry: date
    first_approved: bool  # 首营企业审核 recorded
    scope: frozenset[str]  # Scope values


def supplier_refusals(s: SupplierFacts, on: date) -> list[Violation]:
    """GSP-05: goods come only from a supplier, approved as a first-time supplier (首营), whose licence is valid on
    `on` (the receipt's business date, back-dated or not) — the refusal names the expiry."""
    out = []
    if not s.active:
        out.append(Violation("GSP-05", f"供应商 {s.name} 已停用", f"supplier {s.name} is inactive",
                             {"supplier": s.name}))
    if s.licence_expiry < on:
        out.append(Violation("GSP-05", f"供应商 {s.name} 的许可证已于 {s.licence_expiry} 过期（入库日期 {on}）",
                             f"supplier {s.name}'s licence expired on {s.licence_expiry} (receipt dated {on})",
                             {"supplier": s.name, "licence_expiry": s.licence_expiry.isoformat(),
                              "on": on.isoformat()}))
    if not s.first_approved:
        out.append(Violation("GSP-05", f"供应商 {s.name} 未经首营企业审核", f"supplier {s.name} has not been approved "
                             "as a first-time supplier (首营企业)", {"supplier": s.name, "first_approved": False}))
    return out


def scope_refusal(supplier: str, scope: frozenset[str], item: str, gsp_class: str) -> Violation | None:
    """GSP-05: a supplier delivers only what its business scope covers (a drugs-only wholesaler, no device)."""
    needed = SCOPE_OF_CLASS[GspClass(gsp_class)]
    if needed.value in scope:
        return None
    return Violation("GSP-05", f"供应商 {supplier} 的经营范围不含{needed.label}，不能供应 {item}",
                     f"supplier {supplier}'s business scope does not cover {needed.value}: it cannot supply {item}",
                     {"supplier": supplier, "item": item, "needs": needed.value, "scope": sorted(scope)})


def first_item_refusal(supplier: str, item: str, approved: bool) -> Violation | None:
    """GSP-05: the first delivery of an item from a supplier needs its 首营品种 approval on record."""
    if approved:
        return None
    return Violation("GSP-05", f"{item} 未经首营品种审核（供应商 {supplier}）",
                     f"{item} from {supplier} has not been approved as a first-time item (首营品种)",
                     {"supplier": supplier, "item": item})


def voucher_refusal(dynt_no: str, purc_invo_no: str) -> Violation | None:
    """GSP-05: a receipt has a lawful voucher — the delivery note (随货同行单) at least; the invoice when it came."""
    if dynt_no.strip():
        return None
    return Violation("GSP-05", "入库须有随货同行单号", "a receipt needs its delivery note (随货同行单) number",
                     {"dynt_no": dynt_no, "purc_invo_no": purc_invo_no})


def approver_refusal(approver: str, inspector: str | None) -> Violation | None:
    """GSP-05: a receipt is approved after its inspection, by a person who is not the inspector (persons: another
    account of the inspector's is the inspector; server.rules.duties.person_key)."""
    if inspector is None:
        return Violation("GSP-05", "入库单尚未验收，不能审核", "the receipt has not been inspected: it cannot be approved",
                         {"inspected": False})
    if approver == inspector:
        return Violation("GSP-05", "审核人不能是验收人本人（含本人的其他账号）",
                         "the approver cannot be the inspector (nor another account of theirs)", {"same_person": True})
    return None


class Outcome(StrEnum):
    """The inspection's verdict on a line (验收结论)."""

    PENDING = "pending"
    ACCEPTED = "accepted"  # 合格: into sellable stock at approval
    REJECTED = "rejected"  # 拒收: never enters stock
    QUARANTINE = "quarantine"  # 待验: into quarantine at approval, never sold from there


def outcome_refusal(line_no: int, outcome: str, reason: str) -> Violation | None:
    """A rejection or a quarantine says why; a line left pending is no verdict."""
    if outcome == Outcome.PENDING.value:
        return Violation("GSP-05", f"第 {line_no} 行未给出验收结论", f"line {line_no} has no inspection outcome",
                         {"line": line_no})
    if outcome in (Outcome.REJECTED.value, Outcome.QUARANTINE.value) and not reason.strip():
        return Violation("GSP-05", f"第 {line_no} 行拒收或待验须填写原因", f"line {line_no}: a rejection or a quarantine "
                         "needs a reason", {"line": line_no, "outcome": outcome})
    return None


def opening_refusal(first_inventory_approved: bool, purchases_approved: bool) -> Violation | None:
    """GSP-05 / ST-02: stock without a supplier enters only as the store's first inventory — one document, until it
    is approved or the store has taken in its first delivery; never afterwards (no back door for goods)."""
    if not first_inventory_approved and not purchases_approved:
        return None
    why = "首次盘点入库已审核" if first_inventory_approved else "本店已有审核的采购入库"
    return Violation("GSP-05", f"{why}，不能再做期初入库：商品只能经采购验收入库",
                     "the store's first inventory is closed: goods enter only through an inspected, approved receipt",
                     {"first_inventory_approved": first_inventory_approved, "purchases_approved": purchases_approved})


def received_code_refusal(code: str, item: str, scanned_item_id: int, received_item_id: int, approved: bool,
                          on_shelf: int) -> Violation | None:
    """A 追溯码 received into this store names one box of one item: sold only as that item, and only once the box is
    on the shelf — its receipt approved and its line accepted (not rejected, not still held 待验), its batch holding
    sellable stock (not all sent back, written off or in quarantine). `on_shelf`: the batch's sellable stock.
    ST-01 (truthful 进销存) when the box was received as another item (a swap); GSP-05 when it is not on the shelf."""
    if scanned_item_id != received_item_id:
        return Violation("ST-01", f"追溯码 {code} 入库时属于另一商品，不是 {item}：疑似串换",
                         f"trace code {code} was received as another item, not {item}: a possible swap",
                         {"code": code})
    if not approved or on_shelf <= 0:
        return Violation("GSP-05", f"追溯码 {code} 这盒尚未合格入库上架（未审核、拒收、待验或已退出），不得销售",
                         f"the box {code} is not on the shelf (receipt not approved, rejected, held or gone back): "
                         "it cannot be sold", {"code": code, "approved": approved, "on_shelf": on_shelf})
    return None
