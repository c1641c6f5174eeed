"""CHECK 17: the self-inspection of fund use — the analyses the agency itself runs over a store's card sales.

Each analysis is a pure function over plain rows (reports.queries) returning findings, each naming the sales it
is about. Only one of them is a rule broken by itself (one box's 追溯码 sold twice); the others list what a person
must judge (a chronic patient may lawfully buy often), so the item says 需人工确认 with them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from catalog.classes import DRUG_CLASSES, GSP_CLASS_LABELS, GspClass
from catalog.codes import mask_id
from reports.checklist.facts import Facts, FundUsePolicy
from reports.checklist.verdict import Finding, failed, manual, passed
from server.rules.movements import MovementKind

# Stock that came from outside the store, net of what went back out the same way (purchase returns, transfers out)
RECEIVED_KINDS = tuple(k.value for k in (MovementKind.OPENING, MovementKind.PURCHASE, MovementKind.GIFT_IN,
                                         MovementKind.TRANSFER_IN, MovementKind.PURCHASE_RETURN,
                                         MovementKind.TRANSFER_OUT))


@dataclass(frozen=True)
class Lead:
    """One finding of one analysis: what it is about, the sales it names, and whether a rule is broken by it."""

    analysis: str
    zh: str
    en: str
    sale_ids: tuple[str, ...]
    broken: bool = False
    detail: tuple[tuple[str, Any], ...] = ()

    def row(self, sale_nos: dict[str, str] | None = None) -> dict[str, Any]:
        """The finding as the checklist shows it: the sales by id and by their receipt number (小票号), which the
        Chinese line names too so a printed checklist leads to the receipts."""
        nos = [(sale_nos or {}).get(s, "") for s in self.sale_ids]
        named = [n for n in nos if n]
        shown = f"（小票号 {'、'.join(named[:5])}{' 等' if len(named) > 5 else ''}）" if named else ""
        return {"analysis": self.analysis, "zh": self.zh + shown, "en": self.en, "sales": list(self.sale_ids),
                "sale_nos": nos, **dict(self.detail)}


def settled_lines(lines: Sequence[Any]) -> list[Any]:
    """The sale lines the card actually settled: those the settlement's `lines` name (feedetl_sn = the line's id);
    a mixed basket's other lines were paid another way."""
    return [ln for ln in lines if str(ln.id) in {str(d.get("feedetl_sn")) for d in (ln.settled or [])}]


def _units(ln: Any) -> Fraction:
    """The line's quantity in whole units (boxes)."""
    return Fraction(int(ln.qty), int(ln.split_ratio or 1)) if ln.split else Fraction(int(ln.qty))


def _split_units(ln: Any) -> int:
    return int(ln.qty) if ln.split else int(ln.qty) * int(ln.split_ratio or 1)


def repeat_buyers(purchases: Sequence[Any], p: FundUsePolicy, since: date | None = None) -> list[Lead]:
    """The same insured person (psn_no) with more than repeat_max_sales card sales inside any window of
    repeat_window_days days: the busiest such window per person. `since`: the period's first day, when the rows
    reach back before it (a window may straddle the period's start); only windows with a sale of the period count."""
    by_person: dict[str, list[Any]] = defaultdict(list)
    for x in purchases:
        if x.psn_no:
            by_person[str(x.psn_no)].append(x)
    out: list[Lead] = []
    for psn, rows in sorted(by_person.items()):
        rows.sort(key=lambda r: (r.business_date, r.id))
        best: list[Any] = []
        for i, first in enumerate(rows):
            window = [r for r in rows[i:] if (r.business_date - first.business_date).days < p.repeat_window_days]
            if since is not None and window[-1].business_date < since:
                continue
            if len(window) > len(best):
                best = window
        if len(best) > p.repeat_max_sales:
            out.append(Lead("repeat_buyer", f"参保人 {psn} 在 {p.repeat_window_days} 天内刷卡购药 {len(best)} 次",
                            f"insured person {psn}: {len(best)} card sales within {p.repeat_window_days} days",
                            tuple(str(r.sale_id) for r in best),
                            detail=(("psn_no", psn), ("from", best[0].business_date.isoformat()),
                                    ("to", best[-1].business_date.isoformat()))))
    return out


def over_supply(lines: Sequence[Any], first: date, last: date, p: FundUsePolicy) -> list[Lead]:
    """Per person and drug over the period: prescribed days beyond the period's own days by more than
    max_days_supply, or (lines without a prescription) more than max_units_per_drug whole units."""
    period_days = (last - first).days + 1
    groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for ln in lines:
        if ln.psn_no:
            groups[(str(ln.psn_no), int(ln.item_id))].append(ln)
    out: list[Lead] = []
    for (psn, _item), rows in sorted(groups.items()):
        days = sum(int(r.rx_days) for r in rows if r.rx_days)
        units = sum((_units(r) for r in rows if not r.rx_days), Fraction(0))
        sales = tuple(dict.fromkeys(str(r.sale_id) for r in rows))
        name = rows[0].name
        if days > period_days + p.max_days_supply:
            out.append(Lead("over_supply", f"参保人 {psn} 购 {name} 处方用药天数共 {days} 天，超过期间 {period_days} 天"
                            f"加 {p.max_days_supply} 天", f"insured person {psn}: {days} prescribed days of {rows[0].code}"
                            f" in a {period_days}-day period (allowance {p.max_days_supply})", sales,
                            detail=(("psn_no", psn), ("item", rows[0].code), ("days", days))))
        if units > p.max_units_per_drug:
            shown = f"{float(units):g}"
            out.append(Lead("over_supply", f"参保人 {psn} 期间刷卡购 {name} {shown} 个包装单位，超过 {p.max_units_per_drug}",
                            f"insured person {psn}: {shown} units of {rows[0].code} on the card in the period "
                            f"(more than {p.max_units_per_drug})", sales,
                            detail=(("psn_no", psn), ("item", rows[0].code), ("units", shown))))
    return out


def _inside(t: time, start: time, end: time) -> bool:
    return start <= t < end if start <= end else (t >= start or t < end)


def odd_hours(purchases: Sequence[Any], tz: ZoneInfo, p: FundUsePolicy) -> list[Lead]:
    """Card sales outside the store's opening hours (a 24-hour store: inside its late-night window), store time."""
    out: list[Lead] = []
    for x in purchases:
        at: datetime | None = x.completed_at or x.opened_at
        if at is None:
            continue
        local = at.astimezone(tz)
        t = local.time().replace(tzinfo=None)
        odd = _inside(t, p.late_from, p.late_until) if p.store_24h else not _inside(t, p.open_from, p.open_until)
        if odd:
            hours = (f"{p.late_from:%H:%M}–{p.late_until:%H:%M}" if p.store_24h
                     else f"{p.open_from:%H:%M}–{p.open_until:%H:%M}")
            out.append(Lead("odd_hours", f"{local:%Y-%m-%d %H:%M} 刷卡（营业时间 {hours}）" if not p.store_24h
                            else f"{local:%Y-%m-%d %H:%M} 深夜刷卡（{hours}）",
                            f"a card sale at {local:%Y-%m-%d %H:%M} store time "
                            f"({'late night' if p.store_24h else 'opening hours'} {hours})", (str(x.sale_id),),
                            detail=(("psn_no", x.psn_no), ("at", f"{local:%Y-%m-%d %H:%M}"))))
    return out


def _class_label(value: str | None) -> str:
    try:
        return GSP_CLASS_LABELS[GspClass(str(value))]
    except (ValueError, KeyError):
        return str(value)


def non_drug(ln: Any) -> bool:
    return ln.gsp_class is not None and ln.gsp_class not in {c.value for c in DRUG_CLASSES}


def boundary(lines: Sequence[Any]) -> list[Lead]:
    """Settled lines near the non-drug boundary: a non-drug class as sold (health food, device, 消字号 and other
    daily chemicals …), or an item whose class is another today than when it was sold (reclassified since)."""
    out: list[Lead] = []
    for ln in lines:
        if non_drug(ln):
            out.append(Lead("boundary", f"{ln.name} 为非药品（{_class_label(ln.gsp_class)}），刷卡结算",
                            f"{ln.code} is a non-drug ({ln.gsp_class}) and was settled on the card", (str(ln.sale_id),),
                            detail=(("item", ln.code), ("amount_fen", int(ln.amount_fen)))))
        elif ln.gsp_class is not None and ln.class_now != ln.gsp_class:
            out.append(Lead("boundary", f"{ln.name} 售出时为{_class_label(ln.gsp_class)}，现为{_class_label(ln.class_now)}",
                            f"{ln.code} was {ln.gsp_class} when settled and is {ln.class_now} now (reclassified)",
                            (str(ln.sale_id),), detail=(("item", ln.code),)))
    return out


def trace_codes_twice(rows: Sequence[Any], first: date, last: date) -> list[Lead]:
    """One box's 追溯码 sold in two sales (not returned between): twice as a whole box, or as a whole box and in a
    split sale of another sale. Split sales sharing an opened box's code are lawful. A code is listed when one of its
    sales falls in the period."""
    by_code: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_code[str(r.code)].append(r)
    out: list[Lead] = []
    for code, found in sorted(by_code.items()):
        whole = {str(r.sale_id) for r in found if not r.split}
        sales = {str(r.sale_id) for r in found}
        if not whole or len(sales) < 2 or not any(first <= r.business_date <= last for r in found):
            continue
        out.append(Lead("trace_twice", f"追溯码 {code} 在 {len(sales)} 笔销售中售出（一盒只能售出一次）",
                        f"trace code {code} sold in {len(sales)} sales (a box leaves the store once)",
                        tuple(dict.fromkeys(str(r.sale_id) for r in found)), broken=True,
                        detail=(("code", code),)))
    return out


def settled_beyond_received(lines: Sequence[Any], received: Sequence[Any]) -> list[Lead]:
    """Per item, more settled on the card in the period (split units) than ever came into the store."""
    came = {int(r.item_id): int(r.qty or 0) for r in received}
    settled: dict[int, list[Any]] = defaultdict(list)
    for ln in lines:
        settled[int(ln.item_id)].append(ln)
    out: list[Lead] = []
    for item_id, rows in sorted(settled.items()):
        qty = sum(_split_units(r) for r in rows)
        if qty > came.get(item_id, 0):
            out.append(Lead("beyond_received", f"{rows[0].name} 刷卡结算 {qty}（最小单位），多于入库 {came.get(item_id, 0)}",
                            f"{rows[0].code}: {qty} split units settled on the card, {came.get(item_id, 0)} received",
                            tuple(dict.fromkeys(str(r.sale_id) for r in rows)),
                            detail=(("item", rows[0].code), ("settled", qty), ("received", came.get(item_id, 0)))))
    return out


def two_stores_at_once(duties: Sequence[Any], store_id: int) -> list[Lead]:
    """One person (identity number, server.rules.duties: persons, not accounts) on pharmacist duty at two stores
    at overlapping times, one of them this store."""
    forever = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    by_person: dict[str, list[Any]] = defaultdict(list)
    for d in duties:
        by_person[str(d.id_number).upper()].append(d)
    out: list[Lead] = []
    for person, rows in sorted(by_person.items()):
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if a.store_id == b.store_id or store_id not in (a.store_id, b.store_id):
                    continue
                if a.on_at < (b.off_at or forever) and b.on_at < (a.off_at or forever):
                    here, there = (a, b) if a.store_id == store_id else (b, a)
                    out.append(Lead("two_stores", f"药师（身份证号 {mask_id(person)}）{here.on_at:%Y-%m-%d %H:%M} 起同时在"
                                    f"两家门店在岗（账号 {here.username}、{there.username}）",
                                    f"a pharmacist ({mask_id(person)}) on duty at two stores at once from "
                                    f"{max(a.on_at, b.on_at):%Y-%m-%d %H:%M} UTC", (),
                                    detail=(("id_number", mask_id(person)), ("accounts", [here.username, there.username]),
                                            ("other_store", int(there.store_id)))))
    return out


def analyses(f: Facts) -> list[Lead]:
    p = f.policy.fund_use
    lines = settled_lines(f.card_lines)
    return [*trace_codes_twice(f.traces_again, f.first, f.last),
            *repeat_buyers([*f.purchases_before, *f.purchases], p, f.first),
            *over_supply(lines, f.first, f.last, p), *odd_hours(f.purchases, f.policy.tz, p), *boundary(lines),
            *settled_beyond_received(lines, f.received), *two_stores_at_once(f.duties, f.store_id)]



def self_inspection(f: Facts, it: Any) -> Finding:
    """不合格 when a finding is a rule broken (a trace code sold twice), 需人工确认 with the findings when they need a
    person's judgement, 合格 when the analyses find nothing."""
    leads = analyses(f)
    nos = {str(r.sale_id): str(r.sale_no or "")
           for r in (*f.purchases_before, *f.purchases, *f.card_lines, *f.traces_again)}
    rows = [x.row(nos) for x in leads]
    kinds = sorted({x.analysis for x in leads})
    broken = [x.row(nos) for x in leads if x.broken]
    if broken:
        return failed(it.no, it.title_zh, it.rules, f"{len(broken)} 个追溯码重复售出；另有 {len(leads) - len(broken)} 条待核查",
                      f"{len(broken)} trace code(s) sold twice; {len(leads) - len(broken)} other finding(s) to judge",
                      broken + [r for r in rows if r not in broken])
    if leads:
        return manual(it.no, it.title_zh, it.rules, f"自查发现 {len(leads)} 条需核查（{'、'.join(ANALYSES[k] for k in kinds)}）",
                      f"{len(leads)} finding(s) to judge ({', '.join(kinds)})", rows)
    return passed(it.no, it.title_zh, it.rules, f"{len(f.purchases)} 笔刷卡销售经 {len(ANALYSES)} 项自查分析，未发现异常",
                  f"{len(f.purchases)} card sale(s) through {len(ANALYSES)} analyses: nothing found")


ANALYSES = {"trace_twice": "追溯码重复售出", "repeat_buyer": "同一参保人频繁购药", "over_supply": "超量购药",
            "odd_hours": "非营业时间刷卡", "boundary": "非药品或类别变更品种刷卡", "beyond_received": "刷卡数量超过入库",
            "two_stores": "药师同时在两店在岗"}
