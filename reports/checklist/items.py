"""The 26 items of rules.md's CHECK list, each a pure function over the period's facts.

An item whose data this store does not record yet says 需人工确认 and names what is missing — never a silent 合格.
Where a rule is already a pure function (server.rules), the item applies that same function to the period's rows:
the till refuses and the checklist finds with one definition.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from catalog.codes import mask_id, whole_ids_in
from reports.checklist import money
from reports.checklist.facts import Facts
from reports.checklist.fund_use import self_inspection
from reports.checklist.settled import card_lines, mapped, placement
from reports.checklist.verdict import SHOWN_ROWS, Countdown, Finding, failed, manual, passed
from server.roles import Role
from server.rules.agreement import AgreementStep, card_settlement_refusals, standing_on, till_refusals
from server.rules.staff import StaffRecord, pharmacist_refusals, role_combination_refusals

RENEWAL_WINDOW_DAYS = 92  # the renewal is applied for three months before the agreement ends (rules.md CHECK 1)


@dataclass(frozen=True)
class Item:
    no: int
    title_zh: str
    rules: tuple[str, ...]
    judge: Callable[[Facts, Item], Finding]


def _countdown(what: str, due: date | None, today: date) -> list[Countdown]:
    return [Countdown(what, due, (due - today).days)] if due else []


# --- 1, 2: the agreement, the licences, the tills -------------------------------------------------------------

def _history(f: Facts) -> list[AgreementStep]:
    return [AgreementStep(str(e.status), e.effective_on, e.ends_on) for e in f.agreement]


def agreement(f: Facts, it: Item) -> Finding:
    s = f.store
    end = s.agreement_end
    countdowns = [*_countdown("医保协议到期", end, f.today),
                  *_countdown("协议续签申请截止（到期前三个月）", end - timedelta(days=RENEWAL_WINDOW_DAYS) if end else None,
                              f.today),
                  *_countdown("药品经营许可证到期", s.drug_licence_expiry, f.today),
                  *_countdown("营业执照到期", s.business_licence_expiry, f.today)]
    if not f.agreement:
        return manual(it.no, it.title_zh, it.rules, "未录入医保协议记录", "no agreement history on record",
                      countdowns=tuple(countdowns))
    bad: list[dict[str, Any]] = []
    hist = _history(f)
    day = f.first
    while day <= min(f.last, f.today):
        for v in card_settlement_refusals(standing_on(hist, day, s.drug_licence_no, s.drug_licence_expiry), day):
            bad.append({"day": day.isoformat(), "rule": v.rule, "zh": v.message_zh, "en": v.message_en})
        day += timedelta(days=1)
    if s.business_licence_expiry and s.business_licence_expiry < f.today:
        bad.append({"day": f.today.isoformat(), "rule": "AGR-03", "zh": f"营业执照已于 {s.business_licence_expiry} 过期",
                    "en": f"the business licence expired on {s.business_licence_expiry}"})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 天协议或证照不在有效状态",
                      f"{len(bad)} day(s) without an agreement in force or a valid licence", bad, tuple(countdowns))
    return passed(it.no, it.title_zh, it.rules, "期间协议有效、证照在有效期内", "agreement in force and licences valid "
                  "throughout", countdowns=tuple(countdowns))


def card_outside_standing(f: Facts, it: Item) -> Finding:
    hist, s = _history(f), f.store
    bad: list[dict[str, Any]] = []
    for st in f.settlements:
        day = st.business_date
        found = card_settlement_refusals(standing_on(hist, day, s.drug_licence_no, s.drug_licence_expiry), day)
        found += till_refusals(st.till_store_id, st.till_site, st.till_status, f.store_id, f.policy.site_code)
        if st.till_status not in (None, "active"):
            found.append(_v("CARD-06", "收款机已停用", "the till is not active"))
        for v in found:
            bad.append({"sale_id": st.sale_id, "setl_id": st.setl_id, "day": day.isoformat(), "rule": v.rule,
                        "zh": v.message_zh, "en": v.message_en})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 笔医保结算不符合协议或收款机要求",
                      f"{len(bad)} card settlement problem(s)", bad)
    return passed(it.no, it.title_zh, it.rules, f"{len(f.settlements)} 笔医保结算均在协议有效期内、于本店登记的收款机",
                  f"{len(f.settlements)} card settlement(s), all in force and from registered tills")


@dataclass(frozen=True)
class _V:
    rule: str
    message_zh: str
    message_en: str


def _v(rule: str, zh: str, en: str) -> Any:
    return _V(rule, zh, en)


# --- 9, 10, 7: backups, the audit chain, retention ----------------------------------------------------------------

def backups(f: Facts, it: Item) -> Finding:
    if not f.policy.backup_dir and not f.backups:
        return failed(it.no, it.title_zh, it.rules, "未配置备份目录，也没有备份记录",
                      "no backup directory configured and no backup on record",
                      [{"zh": "config.toml [backup] dir 为空", "en": "[backup] dir is empty"}])
    ok_days = {b.business_date for b in f.backups if b.ok}
    bad: list[dict[str, Any]] = []
    day = f.first
    while day <= min(f.last, f.today - timedelta(days=1)):  # today's may still come
        if day not in ok_days:
            bad.append({"day": day.isoformat(), "zh": "当日无成功备份", "en": "no successful backup that day"})
        day += timedelta(days=1)
    for b in f.backups:
        if not b.ok and f.first <= b.business_date <= f.last:
            bad.append({"day": b.business_date.isoformat(), "zh": f"备份失败：{b.error[:80]}", "en": "a backup failed"})
    drills = [d for d in f.drills if d.ok]
    last_drill = max((d.business_date for d in drills), default=None)
    due = last_drill + timedelta(days=f.policy.drill_every_days) if last_drill else None
    countdowns = tuple(_countdown("下次恢复演练截止", due, f.today))
    if last_drill is None or (due is not None and due < f.today):
        bad.append({"day": f.today.isoformat(), "zh": "恢复演练未做或已超期" if last_drill else "从未做过恢复演练",
                    "en": "no restore drill within the period required" if last_drill else "never a restore drill"})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 处备份或演练问题", f"{len(bad)} backup or drill "
                      "problem(s)", bad, countdowns)
    # SEC-05 asks for a daily off-site backup and a drilled restore, not for encryption: a clear backup is no
    # failure of it. But a clear backup holds every insured person's whole identity number (SEC-06) on another
    # device: a person must confirm where it is kept and who can reach it, or seal the backups ([backup] key_file).
    clear = [{"day": b.business_date.isoformat(), "file": b.file_name, "directory": b.directory,
              "zh": "备份未加密：含参保人完整身份证号", "en": "a clear backup: it holds whole identity numbers (SEC-06)"}
             for b in f.backups if b.ok and not b.sealed and f.first <= b.business_date <= f.last]
    if clear:
        return manual(it.no, it.title_zh, it.rules,
                      f"期间 {len(clear)} 份备份未加密（含完整身份证号，SEC-06）：请确认异地存放介质的保管与访问受控，"
                      "或配置 [backup] key_file 加密备份",
                      f"{len(clear)} backup(s) in the period are not sealed and hold whole identity numbers (SEC-06): "
                      "confirm who keeps and can reach the off-site copies, or seal backups with [backup] key_file",
                      clear[::-1], countdowns)
    return passed(it.no, it.title_zh, it.rules, f"每日有异盘备份；最近恢复演练 {last_drill}",
                  f"a backup on another device every day; last restore drill {last_drill}", countdowns=countdowns)


def audit_chain(f: Facts, it: Item) -> Finding:
    if f.audit is None:
        return manual(it.no, it.title_zh, it.rules, "未运行审计链核验", "the audit chain was not verified in this run")
    if f.audit.problems:
        return failed(it.no, it.title_zh, it.rules, f"审计链核验发现 {len(f.audit.problems)} 处问题（数据被改动）",
                      f"audit verify named {len(f.audit.problems)} problem(s)", list(f.audit.problems))
    return passed(it.no, it.title_zh, it.rules, f"审计链完整，{f.audit.entries} 条记录逐一核验",
                  f"the chain is whole: {f.audit.entries} entries verified")


RETAINED = ("prescription", "prescription_line", "rx_attachment", "rx_review", "print_job", "sale_insured")


def retention(f: Facts, it: Item) -> Finding:
    if f.audit is None:
        return manual(it.no, it.title_zh, it.rules, "未运行审计链核验，无法确认未删除",
                      "the audit chain was not verified: deletions cannot be ruled out")
    gone = [p for p in f.audit.problems if p.get("table") in RETAINED]
    if gone:
        return failed(it.no, it.title_zh, it.rules, f"处方、购药清单或小票存根有 {len(gone)} 处被删改或非经系统写入",
                      f"{len(gone)} prescription, purchase-list or receipt-stub row(s) deleted, changed or slipped in",
                      gone)
    return passed(it.no, it.title_zh, it.rules, "处方、购药清单、小票存根完整保存，未删改（数据库拒绝删除，审计链逐行核验）",
                  "prescriptions, purchase lists and receipt stubs all kept, none changed")


# --- 11, 12, 15, 16: people ---------------------------------------------------------------------------------------

def _record(a: Any) -> StaffRecord | None:
    if a.qualification is None:
        return None
    return StaffRecord(str(a.qualification), str(a.qualification_no or ""), str(a.registered_store_code or ""),
                       a.contract_start, a.contract_end, a.qualification_expiry)


def privileges(f: Facts, it: Item) -> Finding:
    bad: list[dict[str, Any]] = []
    names = {int(a.id): str(a.username) for a in f.accounts}
    for g in f.grants:
        if g.pending or g.revoked_at is not None or g.approved_by is None:
            continue
        if g.approved_by == g.user_id or (g.granted_by is not None and g.approved_by == g.granted_by):
            bad.append({"user": names.get(int(g.user_id)), "role": g.role, "zh": "岗位授权由本人或申请人批准",
                        "en": "a post approved by its grantee or its requester"})
    for user_id, roles in f.active_roles().items():
        for v in role_combination_refusals({Role(r) for r in roles if r in Role._value2member_map_}):
            bad.append({"user": names.get(user_id), "roles": sorted(roles), "zh": v.message_zh, "en": v.message_en})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 处授权问题", f"{len(bad)} grant problem(s)", bad)
    return passed(it.no, it.title_zh, it.rules, "授权均经他人批准，维护人员不兼业务岗位",
                  "every post approved by another person; no maintainer holds an operational post")


def departed(f: Facts, it: Item) -> Finding:
    bad = [{"user": a.username, "contract_end": a.contract_end.isoformat(), "zh": "劳动合同已结束，账户仍可使用",
            "en": "the contract has ended and the account is still active"}
           for a in f.accounts if a.status == "active" and a.contract_end is not None and a.contract_end < f.today]
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 名离职或合同到期人员账户未冻结",
                      f"{len(bad)} account(s) of staff whose contract ended are not frozen", bad)
    return manual(it.no, it.title_zh, it.rules, "合同到期人员均已冻结；调岗须人工核对（系统不记录调岗日期）",
                  "every account past its contract is frozen; transfers are not recorded, check them by hand")


def pharmacists(f: Facts, it: Item) -> Finding:
    roles = f.active_roles()
    ph = [a for a in f.accounts if a.status == "active" and "pharmacist" in roles.get(int(a.id), set())]
    bad: list[dict[str, Any]] = []
    for a in ph:
        for v in pharmacist_refusals(_record(a), f.policy.store_code, f.today, f.policy.min_contract_years):
            bad.append({"user": a.username, "zh": v.message_zh, "en": v.message_en})
    countdowns = [c for a in ph for c in (*_countdown(f"{a.display_name} 执业药师注册到期", a.qualification_expiry, f.today),
                                         *_countdown(f"{a.display_name} 劳动合同到期", a.contract_end, f.today))]
    if not ph:
        bad.append({"zh": "本店没有在职药师", "en": "no active pharmacist"})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 处药师资质问题", f"{len(bad)} pharmacist problem(s)",
                      bad, tuple(countdowns))
    return passed(it.no, it.title_zh, it.rules, f"{len(ph)} 名药师资质有效、注册在本店、合同在期（每笔处方药销售的在岗核查由收银时强制）",
                  f"{len(ph)} pharmacist(s) qualified, registered here, in contract (on duty at every Rx sale: "
                  "enforced at the till)", countdowns=tuple(countdowns))


def insurance_staff(f: Facts, it: Item) -> Finding:
    roles = f.active_roles()
    active = [a for a in f.accounts if a.status == "active"]
    admins = [a for a in active if "insurance_admin" in roles.get(int(a.id), set())]
    bad: list[dict[str, Any]] = []
    if len(admins) < f.policy.min_insurance_admins:
        bad.append({"zh": f"医保管理员 {len(admins)} 名，少于 {f.policy.min_insurance_admins} 名",
                    "en": f"{len(admins)} insurance administrator(s), fewer than {f.policy.min_insurance_admins}"})
    counter = [a for a in active if roles.get(int(a.id), set()) & {"cashier", "pharmacist"}]
    for a in counter:
        if not a.work_cert_no:
            bad.append({"user": a.username, "zh": "无上岗/培训合格证记录", "en": "no work certificate on record"})
        elif a.work_cert_expiry is not None and a.work_cert_expiry < f.today:
            bad.append({"user": a.username, "zh": f"上岗证已于 {a.work_cert_expiry} 过期",
                        "en": f"the work certificate expired on {a.work_cert_expiry}"})
    year_ago = f.today - timedelta(days=365)
    held = [t for t in f.trainings if t.held_on >= year_ago]
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 处医保人员问题", f"{len(bad)} staffing problem(s)", bad)
    if not held:
        return manual(it.no, it.title_zh, it.rules, "近一年无培训记录", "no training recorded in the last year")
    return passed(it.no, it.title_zh, it.rules, f"医保管理员 {len(admins)} 名；柜台人员持证；近一年培训 {len(held)} 次",
                  f"{len(admins)} insurance administrators; counter staff certified; {len(held)} training(s) "
                  "this year", [{"held_on": t.held_on.isoformat(), "topic": t.topic} for t in held])


# --- 14: privacy ----------------------------------------------------------------------------------------------------

def _whole_ids(value: Any) -> list[str]:
    return whole_ids_in(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))


def privacy(f: Facts, it: Item) -> Finding:
    bad: list[dict[str, Any]] = []
    for p in f.printed:
        for n in _whole_ids(p.document):
            bad.append({"where": f"print_job #{p.id} ({p.kind})", "id": mask_id(n)})
    for e in f.logged:
        for part in (e.before, e.after, e.note):
            for n in _whole_ids(part):
                bad.append({"where": f"audit #{e.seq} ({e.action})", "id": mask_id(n)})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 处打印或日志中出现完整身份证号",
                      f"{len(bad)} whole identity number(s) in print-outs or the log", bad)
    reads = [_read(r, f.policy.tz) for r in f.reads]
    return passed(it.no, it.title_zh, it.rules, f"{len(f.printed)} 份打印单据、{len(f.logged)} 条日志中无完整身份证号；"
                  f"期间查阅参保人完整信息 {len(reads)} 次（谁、何时、查阅了谁，见证据）",
                  f"no whole identity number in {len(f.printed)} print-out(s) and {len(f.logged)} log entries; "
                  f"{len(reads)} read(s) of an insured person's full record in the period (who read whose: the "
                  "evidence)", reads[-SHOWN_ROWS:][::-1])


def _read(r: Any, tz: Any) -> dict[str, Any]:
    """One read of full records as the checklist shows it: who, when (store time), by which door, what, whose."""
    a = r.after or {}
    whose = a.get("whose")
    named = ([f"{p.get('name') or ''} {p.get('whose') or p.get('psn_no') or ''}".strip() for p in whose]
             if isinstance(whose, list) else [f"{a.get('name') or ''} {whose or r.entity_id}".strip()])
    return {"seq": r.seq, "at": r.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), "by": r.actor,
            "route": a.get("route") or "", "what": a.get("what") or "", "why": a.get("why") or r.note,
            "persons": len(named), "whose": "、".join(named[:5]) + (f" 等 {len(named)} 人" if len(named) > 5 else "")}


# --- 18, 20, 22, 23, 25: what was sold, settled and received -----------------------------------------------------

def rx_sales(f: Facts, it: Item) -> Finding:
    bad = [{"sale_id": r.sale_id, "day": r.business_date.isoformat(), "item_id": r.item_id,
            "zh": "处方药无处方" if r.prescription_id is None else f"处方审核结论为 {r.verdict or '未审核'}",
            "en": "a prescription drug sold without a prescription" if r.prescription_id is None
            else f"the prescription's review is {r.verdict or 'missing'}"}
           for r in f.rx_lines if r.prescription_id is None or r.verdict != "approved"]
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 行处方药销售缺处方或审核",
                      f"{len(bad)} prescription-drug line(s) without a prescription or an approved review", bad)
    return passed(it.no, it.title_zh, it.rules, f"{len(f.rx_lines)} 行处方药销售均凭处方且经药师审核",
                  f"all {len(f.rx_lines)} prescription-drug line(s) sold on an approved prescription")


def one_price(f: Facts, it: Item) -> Finding:
    prices: dict[tuple[int, date, bool], dict[bool, set[int]]] = defaultdict(lambda: {True: set(), False: set()})
    for p in f.prices:
        prices[(int(p.item_id), p.business_date, bool(p.split))][bool(p.card)].add(int(p.unit_price_fen))
    bad = [{"item_id": k[0], "day": k[1].isoformat(), "card_prices": sorted(v[True]), "cash_prices": sorted(v[False]),
            "zh": "同日同品医保价与现金价不同", "en": "a different price on the card than in cash that day"}
           for k, v in sorted(prices.items()) if v[True] and v[False] and v[True] != v[False]]
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 个品种同日刷卡价与现金价不一致",
                      f"{len(bad)} item-day(s) priced differently on the card", bad)
    return passed(it.no, it.title_zh, it.rules, "刷卡与现金同日同价", "one price, card or cash")


def reversals(f: Facts, it: Item) -> Finding:
    tz = f.policy.tz
    bad: list[dict[str, Any]] = []
    later = 0
    for st in f.settlements:
        if st.status != "cancelled":
            continue
        settled_day = st.business_date
        cancelled_day = st.resolved_at.astimezone(tz).date() if st.resolved_at else None
        if cancelled_day is None or cancelled_day == settled_day:
            continue
        later += 1
        if not st.cancel_reason or st.cancel_confirmed_by is None or st.cancel_confirmed_by == st.cancelled_by:
            bad.append({"sale_id": st.sale_id, "setl_id": st.setl_id, "zh": "隔日冲销缺原因或第二人确认",
                        "en": "a later-day reversal without a reason or a second person"})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 笔隔日冲销不合规", f"{len(bad)} later-day "
                      "reversal(s) without reason or second person", bad)
    return passed(it.no, it.title_zh, it.rules, f"隔日冲销 {later} 笔，均有原因并经第二人确认",
                  f"{later} later-day reversal(s), each with a reason and a second person")


def expiry(f: Facts, it: Item) -> Finding:
    bad = [{"movement": m.id, "day": m.business_date.isoformat(), "batch": m.batch_no,
            "expires_on": m.expires_on.isoformat(), "item": m.name} for m in f.past_expiry]
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 次销售发生在批号效期之后",
                      f"{len(bad)} sale(s) of a batch past its expiry", bad)
    return passed(it.no, it.title_zh, it.rules, "期间未销售过期批号（停售批号在收银时拒绝）",
                  "no batch sold past its expiry (stopped batches are refused at the till)")


def receiving(f: Facts, it: Item) -> Finding:
    bad: list[dict[str, Any]] = []
    for r in f.receipts:
        if r.status != "approved":
            continue
        if r.licence_expiry is not None and r.licence_expiry < r.business_date:
            bad.append({"receipt": r.id, "supplier": r.supplier, "zh": f"收货时供应商许可证已过期（{r.licence_expiry}）",
                        "en": f"the supplier's licence had expired ({r.licence_expiry})"})
        if r.inspected_by is None or r.approved_by is None or r.inspected_by == r.approved_by:
            bad.append({"receipt": r.id, "supplier": r.supplier, "zh": "验收与审批不是两人",
                        "en": "not inspected and approved by two people"})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 处收货问题", f"{len(bad)} receiving problem(s)", bad)
    return passed(it.no, it.title_zh, it.rules, f"{len(f.receipts)} 张采购入库单：供应商证照有效，验收与审批分人",
                  f"{len(f.receipts)} receipt(s): suppliers licensed, inspected and approved by two people")


# --- 13, 26: attestations ---------------------------------------------------------------------------------------

def _attested(f: Facts, it: Item, topics: dict[str, str]) -> Finding:
    latest: dict[str, Any] = {}
    for a in f.attestations:
        if a.topic in topics and (a.topic not in latest or a.confirmed_at > latest[a.topic].confirmed_at):
            latest[a.topic] = a
    missing = [label for topic, label in topics.items() if topic not in latest]
    lapsed = [topics[t] for t, a in latest.items() if a.valid_until < f.today]
    countdowns = tuple(c for t, a in latest.items() for c in _countdown(f"{topics[t]} 确认有效期", a.valid_until, f.today))
    evidence = [{"topic": topics[t], "confirmed_on": a.business_date.isoformat(), "by": a.confirmed_by,
                 "valid_until": a.valid_until.isoformat(), "note": a.note} for t, a in latest.items()]
    if missing or lapsed:
        return manual(it.no, it.title_zh, it.rules, "待确认：" + "、".join(missing + [f"{x}（已过期）" for x in lapsed]),
                      f"{len(missing)} not attested, {len(lapsed)} lapsed", evidence, countdowns)
    return passed(it.no, it.title_zh, it.rules, "均已由负责人确认且在有效期内", "all attested and current", evidence,
                  countdowns)


SEC07 = {"network": "医保系统专网专用", "antivirus": "实时杀毒软件", "no_external_media": "禁用外部存储介质"}
WRITTEN = {"system_drugs": "医保药品管理制度", "system_finance": "财务管理制度", "system_staff": "医保人员管理制度",
           "system_statistics": "统计信息管理制度", "system_settlement": "医保费用结算制度", "sign": "定点标牌悬挂",
           "complaint_phone": "投诉电话公示", "policy_board": "医保政策宣传栏"}


def network(f: Facts, it: Item) -> Finding:
    return _attested(f, it, SEC07)


def written(f: Facts, it: Item) -> Finding:
    return _attested(f, it, WRITTEN)


# --- items whose data another part of the system records ---------------------------------------------------------

def _from_extra(key: str, missing_zh: str, missing_en: str) -> Callable[[Facts, Item], Finding]:
    """An item judged by a wing that registers its judge in Facts.extra[key]; absent, it says what is missing."""
    def judge(f: Facts, it: Item) -> Finding:
        found = f.extra.get(key)
        if callable(found):
            result: Finding = found(f, it)
            return result
        return manual(it.no, it.title_zh, it.rules, missing_zh, missing_en)
    return judge


def _wing(judge: Callable[[Facts, int, str, tuple[str, ...]], Finding]) -> Callable[[Facts, Item], Finding]:
    def run(f: Facts, it: Item) -> Finding:
        return judge(f, it.no, it.title_zh, it.rules)
    return run


ITEMS: tuple[Item, ...] = (
    Item(1, "医保协议有效、证照齐全，期限提醒", ("AGR-01", "AGR-03"), agreement),
    Item(2, "无协议外或未登记收款机的医保结算", ("AGR-01", "AGR-02", "CARD-06"), card_outside_standing),
    Item(3, "进销存及医保数据按时完整上传", ("ST-01", "ST-06"),
         _wing(money.uploads)),
    Item(4, "月度报表按时报送", ("ST-03", "ST-04", "RX-09"),
         _wing(money.submissions)),
    Item(5, "医保回款在 30 个工作日内；对账；核销；重复支付", ("ST-05", "ST-07"),
         _wing(money.receivables)),
    Item(6, "质量保证金留存、扣减、返还", ("ST-05",),
         _wing(money.reserve)),
    Item(7, "外配处方、购药清单、小票存根保存 2 年以上且未删改", ("RX-08",), retention),
    Item(8, "检查数据导出可运行并通过校验", ("ST-08",),
         _wing(money.inspection)),
    Item(9, "每日异地备份，恢复演练", ("SEC-05",), backups),
    Item(10, "审计链完整，无直接改库", ("ST-02", "SEC-04"), audit_chain),
    Item(11, "最小权限；授权经批准；维护与业务分离", ("SEC-01", "SEC-02"), privileges),
    Item(12, "离职、调岗人员账户已冻结", ("SEC-03",), departed),
    Item(13, "医保专网、杀毒、禁用外部介质（确认）", ("SEC-07",), network),
    Item(14, "隐私：小票、导出、日志中无完整身份证号", ("SEC-06",), privacy),
    Item(15, "药师资质、注册、合同；处方药销售时在岗", ("STAFF-01", "RX-10"), pharmacists),
    Item(16, "医保管理员不少于 2 名；柜台人员持证；培训", ("STAFF-02",), insurance_staff),
    Item(17, "基金使用定期自查", (), self_inspection),
    Item(18, "处方药凭处方销售并经审核；外配处方完整；拒配有理由", ("RX-01", "RX-02", "RX-05", "RX-07"), rx_sales),
    Item(19, "无非药品或不符合条件的项目刷卡", ("CARD-02",), card_lines),
    Item(20, "一物一价：刷卡与现金同价", ("CARD-03",), one_price),
    Item(21, "结算品种均已对码并有标签", ("CARD-07", "GSP-04"), mapped),
    Item(22, "隔日冲销有原因并经第二人确认", ("CARD-04",), reversals),
    Item(23, "过期、停售批号未销售；近效期管理", ("GSP-06",), expiry),
    Item(24, "商品按类别与储存条件分区陈列", ("GSP-01", "GSP-02", "GSP-03", "GSP-07"), placement),
    Item(25, "供应商证照有效；收货经验收并审批", ("GSP-05",), receiving),
    Item(26, "五项制度、定点标牌、投诉电话、宣传栏（确认）", (), written),
)


def evaluate(f: Facts) -> list[Finding]:
    return [it.judge(f, it) for it in ITEMS]
