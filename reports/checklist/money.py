"""Items 4, 5, 6 and 8 of the checklist: the reports handed in, the money from the fund and the reconciliation, the
reserve, the inspection export — judged from the plain rows their wings hand over (Facts.extra), since reports/
reads no use case. An absent key means the caller could not gather it: 需人工确认, saying so."""

from __future__ import annotations

from typing import Any

from reports.checklist.facts import Facts
from reports.checklist.verdict import Finding, failed, manual, passed


def _rows(found: Any, key: str) -> list[dict[str, Any]]:
    value = found.get(key) if isinstance(found, dict) else None
    if not isinstance(value, list):
        return []
    return [dict(r) if isinstance(r, dict) else {"period": r} for r in value]


def uploads(f: Facts, no: int, title: str, rules: tuple[str, ...]) -> Finding:
    """ST-06, ST-01: every fact the centre must hear of accepted in time; a rejected row waits for a person."""
    found = f.extra.get("uploads")
    if not isinstance(found, dict):
        return manual(no, title, rules, "未能读取上传记录", "the uploads could not be read")
    late, rejected = _rows(found, "late"), [b for b in _rows(found, "backlog") if b.get("rejected")]
    bad = ([{"zh": r.get("message_zh", ""), "en": r.get("message_en", ""), "rule": r.get("code")} for r in late]
           + [{"zh": f"{b.get('txn')} 有 {b.get('rejected')} 条被中心拒收，待人工更正", "txn": b.get("txn")}
              for b in rejected])
    if bad:
        return failed(no, title, rules, f"{len(bad)} 类上传逾期或被拒收", f"{len(bad)} upload backlog(s) late or "
                      "rejected", bad)
    waiting = _rows(found, "backlog")
    return passed(no, title, rules, "上传及时完整" + (f"（{sum(int(b.get('count', 0)) for b in waiting)} 条在途，未超时）"
                                                  if waiting else ""),
                  "uploads complete and on time", waiting)


def submissions(f: Facts, no: int, title: str, rules: tuple[str, ...]) -> Finding:
    found = f.extra.get("submissions")
    if found is None:
        return manual(no, title, rules, "未能读取报表报送记录", "the reports handed in could not be read")
    overdue, unset = _rows(found, "overdue"), _rows(found, "unset")
    if overdue:
        return failed(no, title, rules, f"{len(overdue)} 份报表逾期未报送", f"{len(overdue)} report(s) overdue",
                      [{"zh": f"{r.get('kind_zh', r.get('kind'))} {r.get('period')} 应于 {r.get('due_on')} 前报送"} | r
                       for r in overdue])
    if unset:
        return manual(no, title, rules, f"{len(unset)} 种报表未设置报送期限，无法判断是否逾期",
                      f"{len(unset)} report kind(s) without a deadline set: overdue cannot be judged",
                      [{"zh": r.get("message_zh", ""), "en": r.get("message_en", "")} for r in unset])
    return passed(no, title, rules, "今年各报表均按期报送", "every report this year handed in on time")


def receivables(f: Facts, no: int, title: str, rules: tuple[str, ...]) -> Finding:
    found, recon = f.extra.get("receivables"), f.extra.get("reconciliation")
    if found is None:
        return manual(no, title, rules, "未能读取申报与回款记录", "declarations and payments could not be read")
    bad: list[dict[str, Any]] = []
    for r in _rows(found, "overdue"):
        bad.append({"zh": f"{r.get('period')} 回款逾期（应于 {r.get('due_on')} 前），未付 {r.get('outstanding_fen')} 分"} | r)
    for r in _rows(found, "due_back"):
        bad.append({"zh": f"{r.get('period')} 重复或超额回款 {r.get('due_back_fen')} 分，应退回基金"} | r)
    for r in _rows(found, "undeclared"):
        bad.append({"zh": f"{r.get('period', r)} 期间已结束但未申报"} | r)
    for v in recon or []:
        bad.append({"zh": str(v.get("message_zh", "")), "en": str(v.get("message_en", "")), "rule": v.get("code")})
    if bad:
        return failed(no, title, rules, f"{len(bad)} 处回款、申报或对账问题", f"{len(bad)} receivable, declaration or "
                      "reconciliation problem(s)", bad)
    missing = found.get("calendar_missing_years") if isinstance(found, dict) else None
    if missing:
        return manual(no, title, rules, f"{missing} 年的节假日日历未维护，30 个工作日无法准确计算",
                      f"no holiday calendar for {missing}: 30 working days cannot be counted")
    if recon is None:
        return manual(no, title, rules, "未能读取对账结果", "the reconciliation could not be read")
    return passed(no, title, rules, f"回款在期限内；已核销 {found.get('written_off_fen', 0)} 分；期间对账已平或已确认",
                  "payments within the deadline; write-offs recorded; every day reconciled or acknowledged")


def reserve(f: Facts, no: int, title: str, rules: tuple[str, ...]) -> Finding:
    found = f.extra.get("receivables")
    deposits = _rows(found, "deposits")
    if found is None or not deposits:
        return manual(no, title, rules, "尚无保证金记录（无申报）", "no reserve on record (nothing declared yet)")
    return passed(no, title, rules, "各年度保证金留存、扣减、返还均有记录", "each year's reserve held, deducted and "
                  "returned on record", deposits)


def inspection(f: Facts, no: int, title: str, rules: tuple[str, ...]) -> Finding:
    found = f.extra.get("inspection")
    if found is None:
        return manual(no, title, rules, "未能读取检查数据导出记录", "the inspection exports could not be read")
    exports = [dict(r) for r in found] if isinstance(found, list) else []
    if not exports:
        return manual(no, title, rules, "尚未导出过检查数据（dingdian inspection export），请试导出并校验",
                      "no inspection export made yet: run `dingdian inspection export` and verify it")
    latest = exports[0]
    return passed(no, title, rules, f"最近一次检查数据导出：{latest.get('at')}（{latest.get('by')}）",
                  f"last inspection export {latest.get('at')} by {latest.get('by')}", exports[:3])
