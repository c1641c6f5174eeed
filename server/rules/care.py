"""Stock care as pure functions: counts (盘点), losses (报损, 过期报损, 销毁), recalls (召回), upkeep (养护, GSP-06) and
near-expiry (近效期).

Each function takes plain facts (persons as server.rules.duties.person_key strings) and returns the
violations (empty or None: allowed). The stock wing gathers the facts (server.services.stock.counts, care,
upkeep) and refuses with these; tests call them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from catalog.violations import Violation

# --- counts ---------------------------------------------------------------------------------------------------


def count_approver_refusal(approver: str, counters: Iterable[str]) -> Violation | None:
    """SEC-01 (mutually checked): a count's variances are posted by the person in charge who did not count it —
    neither typed a quantity on the sheet nor submitted it (persons: another account of a counter is the counter)."""
    if approver in set(counters):
        return Violation("SEC-01", "盘点审核人不能是盘点人本人（含本人的其他账号）",
                         "a count is approved by someone who did not count it (nor another account of theirs)",
                         {"same_person": True})
    return None


def count_posting_refusal(sheet_id: int, status: str) -> Violation | None:
    """ST-02: a count sheet is posted once, after it was submitted; a correction is a new count, never a second
    posting of the same sheet."""
    if status == "posted":
        return Violation("ST-02", f"盘点单 {sheet_id} 已过账，不能再次过账",
                         f"count sheet {sheet_id} is posted already: it is posted once", {"status": status})
    if status != "submitted":
        return Violation("ST-02", f"盘点单 {sheet_id} 尚未提交，不能过账",
                         f"count sheet {sheet_id} has not been submitted: it cannot be posted", {"status": status})
    return None


def variance_refusals(lines: Sequence[tuple[str, int, int | None, str]], need_reasons: bool = True) -> list[Violation]:
    """ST-01 (recorded truthfully): every line is counted before the sheet is submitted, and a line whose count
    differs from the book says why (盘盈/盘亏原因) before it is posted — a blind count's counter cannot know which
    differ, so there the reasons are the approver's. Lines: (batch no., book at the snapshot, counted, reason)."""
    out = []
    for batch_no, book, counted, reason in lines:
        if counted is None:
            out.append(Violation("ST-01", f"批次 {batch_no} 尚未盘点", f"batch {batch_no} has not been counted",
                                 {"batch": batch_no}))
        elif need_reasons and counted != book and not reason.strip():
            out.append(Violation("ST-01", f"批次 {batch_no} 盘点差异须填写原因",
                                 f"batch {batch_no}: a variance needs a reason", {"batch": batch_no}))
    return out


def quarantine_gain_refusal(batch_no: str, location: str, variance: int, unreleased: int) -> Violation | None:
    """GSP-05: stock held in quarantine (待验) reaches the shelf only by re-inspection (放行), never by a count. A batch
    with stock that came into quarantine and was never released — held there now, or gone from there otherwise —
    gains on the shelf by no count: goods of it found are counted into quarantine, and released if found fit."""
    if location != "sellable" or variance <= 0 or unreleased <= 0:
        return None
    return Violation("GSP-05", f"批次 {batch_no} 有 {unreleased} 未经复检放行的待验库存：盘盈只能记入待验区，复检放行后方可销售",
                     f"batch {batch_no} has {unreleased} in quarantine never released: a count gain goes to quarantine, "
                     "and the shelf only by re-inspection", {"batch": batch_no, "unreleased": unreleased})


def gain_cost(cost_on_hand: int, qty_on_hand: int, gain: int, receipt_unit_cost: int, split_ratio: int) -> int:
    """What a count gain (盘盈) of `gain` split units is worth: at the batch's current unit cost — its cost on hand
    over its stock, half up — or, when the batch is at zero, at its receipt cost (the pack's cost over the
    split ratio, half up). Either way the gain moves the batch's average only by rounding."""
    if qty_on_hand > 0:
        return (2 * cost_on_hand * gain + qty_on_hand) // (2 * qty_on_hand)
    ratio = max(split_ratio, 1)
    return (2 * receipt_unit_cost * gain + ratio) // (2 * ratio)


# --- losses, destruction, recalls ------------------------------------------------------------------------------


def loss_reason_refusal(reason: str) -> Violation | None:
    """ST-01: stock written off (报损, 过期, 销毁, 召回) says why."""
    if reason.strip():
        return None
    return Violation("ST-01", "报损、销毁须填写原因", "a write-off needs a reason", {})


def expiry_writeoff_refusal(batch_no: str, expires_on: date, today: date) -> Violation | None:
    """GSP-06: an expiry write-off (过期报损) is for a batch that has expired; a good batch is written off as
    damage with its reason, not as expired."""
    if expires_on < today:
        return None
    return Violation("GSP-06", f"批次 {batch_no} 有效期至 {expires_on}，尚未过期，不能按过期报损",
                     f"batch {batch_no} has not expired (until {expires_on}): it is no expiry write-off",
                     {"batch": batch_no, "expires_on": expires_on.isoformat()})


def destruction_refusals(actor: str, witnesses: Sequence[str], method: str) -> list[Violation]:
    """GSP-06: goods are destroyed (销毁) before two witnesses — two persons other than the one who destroys them
    and other than each other (persons, not accounts) — and the record says how (the method)."""
    out = []
    if not method.strip():
        out.append(Violation("GSP-06", "销毁须记录销毁方式", "a destruction records its method", {"method": ""}))
    if len(witnesses) != 2:
        out.append(Violation("GSP-06", "销毁须有两名监督人", "a destruction needs two witnesses",
                             {"witnesses": len(witnesses)}))
    elif actor in witnesses:
        out.append(Violation("GSP-06", "监督人不能是销毁操作人本人（含本人的其他账号）",
                             "a witness cannot be the one who destroys (nor another account of theirs)",
                             {"same_person": True}))
    elif witnesses[0] == witnesses[1]:
        out.append(Violation("GSP-06", "两名监督人须为不同的人", "the two witnesses are two different persons",
                             {"same_witness": True}))
    return out


def recall_release_refusal(batch_no: str, recalls: Sequence[str]) -> Violation | None:
    """GSP-06: a recalled batch stays stopped. A recall (召回) has no lifting: its stock leaves by a loss document of
    kind recall, never back to the shelf — so no path lifts its stop (a released stop, an upkeep doubt cleared, a
    second stop with another reason lifted), whoever asks, whenever. `recalls`: the batch's recalls (notice or id)."""
    if not recalls:
        return None
    return Violation("GSP-06", f"批次 {batch_no} 已召回（{'、'.join(recalls)}），不能解除停售",
                     f"batch {batch_no} is recalled ({', '.join(recalls)}): its stop cannot be lifted",
                     {"batch": batch_no, "recalls": list(recalls)})


# --- upkeep -----------------------------------------------------------------------------------------------------

UPKEEP_OK, UPKEEP_DOUBT = "ok", "doubt"


def upkeep_line_refusals(n: int, appearance: str, packaging: str, storage: str, outcome: str,
                         note: str) -> list[Violation]:
    """GSP-06: each inspected batch's record says what was seen (appearance, packaging, storage conditions) and
    the outcome; a quality doubt says what the doubt is."""
    out = []
    if not (appearance.strip() and packaging.strip() and storage.strip()):
        out.append(Violation("GSP-06", f"第 {n} 行须记录外观、包装和储存条件",
                             f"line {n}: record the appearance, packaging and storage conditions", {"line": n}))
    if outcome not in (UPKEEP_OK, UPKEEP_DOUBT):
        out.append(Violation("VALIDATION", f"第 {n} 行养护结论 {outcome} 不认识", f"line {n}: unknown outcome {outcome}",
                             {"line": n}))
    elif outcome == UPKEEP_DOUBT and not note.strip():
        out.append(Violation("GSP-06", f"第 {n} 行有质量疑问须写明疑问", f"line {n}: a quality doubt says what it is",
                             {"line": n}))
    return out


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


# --- near-expiry ------------------------------------------------------------------------------------------------


def near_expiry(expires_on: date, today: date, days: int) -> bool:
    """GSP-06: a batch not expired but within `near_expiry_days` (config) of its expiry is near expiry (近效期)."""
    return today <= expires_on and (expires_on - today).days <= days


def near_expiry_warning(item: str, lot_no: str, expires_on: date, today: date) -> Violation:
    """The till's warning when the batch a sale takes first is near expiry: a warning, not a refusal."""
    left = (expires_on - today).days
    return Violation("GSP-06", f"近效期：{item} 批号 {lot_no} 有效期至 {expires_on}（剩 {left} 天），请提示顾客",
                     f"near expiry: {item} lot {lot_no} expires on {expires_on} ({left} days left)",
                     {"lot_no": lot_no, "expires_on": expires_on.isoformat(), "days_left": left})
