"""The reconciliation with the centre (ST-07) as pure functions: what keeps a month from closing, and when a
difference may be acknowledged.

A day × clearing group is reconciled when its latest daily 3201 run (a run of that day and that group: a month's
run, or another day's, never stands in for it) counted exactly the settlements the books hold for it now, and the
centre said 平 — or said 不平 and the 医保 administrator acknowledged that very difference with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from catalog.violations import Violation

ACK_NOTE_MIN = 4  # characters: "ok" is not a reason


@dataclass(frozen=True, slots=True)
class LatestRun:
    run_id: int
    result: str  # 0 平 | 1 不平
    result_dscr: str
    setl_ids: tuple[str, ...]  # what it counted
    figures: tuple[int, ...]  # what it sent (medfee, fund, acct, cash, count)
    acknowledged: bool  # this difference (these figures, the centre's same words) acknowledged


@dataclass(frozen=True, slots=True)
class DayGroup:
    day: date
    group: str  # ClearingGroup.label_zh
    setl_ids: tuple[str, ...]  # the settlements the books hold for it now (under the latest run's refund policy)
    figures: tuple[int, ...]  # their totals now
    latest: LatestRun | None


def day_group_refusal(f: DayGroup) -> Violation | None:
    """ST-07: why this day × group keeps its month from closing, or None."""
    where = {"day": f.day.isoformat(), "group": f.group}
    if f.latest is None:
        if not f.setl_ids:
            return None
        return Violation("ST-07", f"{f.day} {f.group}：有{len(f.setl_ids)}笔结算从未对账",
                         f"{f.day} {f.group}: {len(f.setl_ids)} settlement(s) never reconciled",
                         where | {"reason": "never", "setl_ids": list(f.setl_ids)})
    run = f.latest
    if sorted(run.setl_ids) != sorted(f.setl_ids) or run.figures != f.figures:
        return Violation("ST-07", f"{f.day} {f.group}：对账后结算有变动，须重新对账",
                         f"{f.day} {f.group}: the settlements changed since the last reconciliation: run it again",
                         where | {"reason": "stale", "run_id": run.run_id})
    if run.result != "0" and not run.acknowledged:
        return Violation("ST-07", f"{f.day} {f.group}：对账不平（{run.result_dscr}），未经医保管理员确认",
                         f"{f.day} {f.group}: unbalanced ({run.result_dscr}) and not acknowledged by the 医保 "
                         "administrator", where | {"reason": "unbalanced", "run_id": run.run_id})
    return None


def month_refusals(facts: Sequence[DayGroup]) -> list[Violation]:
    return [v for f in sorted(facts, key=lambda f: (f.day, f.group)) if (v := day_group_refusal(f)) is not None]


def unresolved_refusals(msgids: Sequence[str]) -> list[Violation]:
    """ST-07: a settlement whose outcome is unknown is neither in our books nor out of them: resolved first."""
    if not msgids:
        return []
    return [Violation("ST-07", f"有{len(msgids)}笔医保结算结果未确认（待冲正处理），须先处理再结账",
                      f"{len(msgids)} settlement(s) of unknown outcome: resolve them (2601) before the close",
                      {"reason": "unresolved", "msgids": list(msgids)})]


def ack_refusals(note: str, result: str, is_latest: bool, already: bool) -> list[Violation]:
    """ST-07: a difference is acknowledged with a note, on the latest run of its day × group, once."""
    out: list[Violation] = []
    if len(note.strip()) < ACK_NOTE_MIN:
        out.append(Violation("ST-07", f"确认对账差异须写明原因（至少{ACK_NOTE_MIN}个字）",
                             f"acknowledging a difference needs a note (at least {ACK_NOTE_MIN} characters)",
                             {"field": "note"}))
    if result == "0":
        out.append(Violation("ST-07", "该次对账已平，无差异可确认", "this run balanced: there is no difference to "
                                                            "acknowledge"))
    elif not is_latest:
        out.append(Violation("ST-07", "该日该组已有更新的对账结果，请确认最新一次", "a later run of this day and group "
                                                                     "exists: acknowledge that one"))
    elif already:
        out.append(Violation("ST-07", "该差异已确认", "this difference is already acknowledged"))
    return out


def repair_refusals(stmt_rslt: str, ours: bool, msgid: str) -> list[Violation]:
    """ST-07: 2601 repairs only a settlement the centre holds and our books do not, by its message id."""
    if stmt_rslt == "0":
        return [Violation("ST-07", "该结算对账一致，无需冲正", "this settlement balanced: nothing to reverse")]
    if ours:
        return [Violation("ST-07", "本店账上有该结算：冲正会使其与中心不一致，请走撤销（2103）或确认差异",
                          "our books hold this settlement: a 2601 would unbalance it; cancel it (2103) or "
                          "acknowledge the difference")]
    if not msgid:
        return [Violation("ST-07", "中心未给出原报文ID，不能冲正", "the centre gave no message id to reverse")]
    return []
