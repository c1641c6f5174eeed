"""CHECK 19, 21, 24: what the card settled, line by line, the shelf labels, and where the goods stand.

19 and 21 read the sale line's snapshot (what was true when it was sold), never today's catalog; 24 applies
catalog.gsp.check_placement, the function the catalog and receiving refuse with, to every item and its zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from catalog.classes import GspClass, Route, Storage, ZonePurpose
from catalog.gsp import ItemSpec, ZoneSpec, check_placement
from reports.checklist.facts import Facts
from reports.checklist.fund_use import non_drug, settled_lines
from reports.checklist.verdict import Finding, failed, manual, passed
from server.rules.controlled import COVERED
from server.rules.labels import WATCHED_ZH, LabelFacts, changed, insurance_mark

_COVERED = {c.value for c in COVERED}


def card_lines(f: Facts, it: Any) -> Finding:
    """CARD-02: no non-drug and no line outside 甲/乙 inside a settlement's lines; the exposure is their amount."""
    lines = settled_lines(f.card_lines)
    bad: list[dict[str, Any]] = []
    unknown = 0
    for ln in lines:
        if ln.gsp_class is None or ln.insurance_category is None:
            unknown += 1  # sold before the snapshot existed (migration 0013): nobody knows what was true then
            continue
        why = ("非药品" if non_drug(ln) else "" if ln.insurance_category in _COVERED else f"目录类别 {ln.insurance_category}")
        if why:
            bad.append({"sale_id": ln.sale_id, "sale_no": ln.sale_no, "setl_id": ln.setl_id, "item": ln.code,
                        "name": ln.name, "gsp_class": ln.gsp_class, "insurance_category": ln.insurance_category,
                        "amount_fen": int(ln.amount_fen), "zh": f"{ln.name}：{why}，不得医保结算",
                        "en": f"{ln.code}: {'a non-drug' if non_drug(ln) else ln.insurance_category}, not payable "
                              "by the card"})
    if bad:
        exposure = sum(int(b["amount_fen"]) for b in bad)
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 行非药品或不符合条件的项目刷卡结算，涉及金额 "
                      f"{exposure / 100:.2f} 元", f"{len(bad)} ineligible or non-drug line(s) settled on the card: "
                      f"exposure {exposure} fen", bad)
    if unknown:
        return manual(it.no, it.title_zh, it.rules, f"{unknown} 行售于类别快照之前，须人工核对",
                      f"{unknown} settled line(s) sold before the class snapshot was kept: check them by hand")
    return passed(it.no, it.title_zh, it.rules, f"{len(lines)} 行刷卡结算明细均为甲/乙类药品",
                  f"all {len(lines)} settled line(s) are 甲/乙 drugs")


def mapped(f: Facts, it: Any) -> Finding:
    """CARD-07: every settled line carried its national code, its mapping uploaded on or before the sale's day.
    GSP-04: every displayed 医保 drug has a label, and no label on the shelf says other than the catalog (its price,
    class, 医保 category …). Before any label is recorded the labels are 需人工确认."""
    lines = settled_lines(f.card_lines)
    bad = [{"sale_id": ln.sale_id, "sale_no": ln.sale_no, "item": ln.code, "name": ln.name,
            "nhsa_code": ln.nhsa_code or "", "mapping_uploaded_on": ln.mapping_uploaded_on.isoformat()
            if ln.mapping_uploaded_on else None, "day": ln.business_date.isoformat(),
            "zh": "无国家医保编码" if not ln.nhsa_code else "对码未上传" if ln.mapping_uploaded_on is None
            else f"对码于 {ln.mapping_uploaded_on} 上传，晚于销售日",
            "en": "no national code" if not ln.nhsa_code else "mapping not uploaded" if ln.mapping_uploaded_on is None
            else "mapping uploaded after the sale"}
           for ln in lines
           if not ln.nhsa_code or ln.mapping_uploaded_on is None or ln.mapping_uploaded_on > ln.business_date]
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 行刷卡明细在销售时未对码或未上传",
                      f"{len(bad)} settled line(s) not mapped or not uploaded when sold", bad)
    if not f.shelf_labels:
        return manual(it.no, it.title_zh, it.rules,
                      f"{len(lines)} 行刷卡明细均已对码并于销售前上传；尚无价签（GSP-04）打印记录，须人工核对",
                      f"all {len(lines)} settled line(s) mapped and uploaded before the sale; no shelf label (GSP-04) "
                      "is recorded yet: check them by hand")
    wrong = label_problems(f.label_items, f.shelf_labels)
    if wrong:
        return failed(it.no, it.title_zh, it.rules, f"{len(wrong)} 个品种的价签须更换或补打（GSP-04）",
                      f"{len(wrong)} item(s) whose shelf label is stale or missing (GSP-04)", wrong)
    return passed(it.no, it.title_zh, it.rules,
                  f"{len(lines)} 行刷卡明细均已对码；{len(f.shelf_labels)} 张价签与目录一致，医保药品均有标签",
                  f"all {len(lines)} settled line(s) mapped; {len(f.shelf_labels)} shelf label(s) say what the "
                  "catalog says, every 医保 drug labelled")


def label_problems(items: Sequence[Any], last_labels: Sequence[Any]) -> list[dict[str, Any]]:
    """Labels that say other than the catalog (the fields that changed since printing), and displayed 医保 drugs
    that have none."""
    now = {int(r.item_id): LabelFacts(**{k: getattr(r, k) for k in LabelFacts.__slots__})
           for r in items}
    shown = {int(r.item_id) for r in items if r.purpose and r.purpose != ZonePurpose.QUARANTINE.value}
    out: list[dict[str, Any]] = []
    labelled: set[int] = set()
    for lab in last_labels:
        labelled.add(int(lab.item_id))
        printed = LabelFacts.from_dict(lab.facts)
        if fields := changed(printed, now.get(int(lab.item_id))):
            out.append({"item": printed.code, "name": printed.name, "run_id": lab.run_id, "changed": fields,
                        "printed_price_fen": printed.price_fen,
                        "price_fen": now[printed.item_id].price_fen if printed.item_id in now else None,
                        "zh": f"{printed.name}：价签印后{'、'.join(WATCHED_ZH.get(k, '停用') for k in fields)}已变更",
                        "en": f"{printed.code}: {', '.join(fields)} changed since its label was printed"})
    for item_id in sorted(shown - labelled):
        f = now[item_id]
        if insurance_mark(f):
            out.append({"item": f.code, "name": f.name, "changed": [], "zh": f"{f.name}：医保药品无价签",
                        "en": f"{f.code}: a 医保 drug on display without a label"})
    return out


def _specs(p: Any) -> tuple[ItemSpec, ZoneSpec] | None:
    try:
        item = ItemSpec(p.code, p.name, GspClass(p.gsp_class), Route(p.route), Storage(p.storage), bool(p.odour_prone))
        zone = ZoneSpec(p.zone_code, p.zone_name, frozenset(GspClass(c) for c in (p.admits or [])), p.route_group,
                        Storage(p.zone_storage), bool(p.zone_odour_prone), ZonePurpose(p.purpose))
    except ValueError:
        return None
    return item, zone


def placement(f: Facts, it: Any) -> Finding:
    """GSP-01..03, 07: each active item's zone admits its class, route group, odour and storage. Items waiting in
    a quarantine zone (待验/不合格) are not on display and are left out."""
    bad: list[dict[str, Any]] = []
    checked = 0
    for p in f.placements:
        if p.purpose == ZonePurpose.QUARANTINE.value:
            continue
        specs = _specs(p)
        if specs is None:
            bad.append({"item": p.code, "zone": p.zone_code, "zh": "商品或区域的类别、储存条件无法识别",
                        "en": "the item's or the zone's class or storage is not a known value"})
            continue
        checked += 1
        for v in check_placement(*specs):
            bad.append({"item": p.code, "name": p.name, "zone": p.zone_code, "rule": v.rule, "zh": v.message_zh,
                        "en": v.message_en})
    if bad:
        return failed(it.no, it.title_zh, it.rules, f"{len(bad)} 处陈列分区问题", f"{len(bad)} placement problem(s)", bad)
    return passed(it.no, it.title_zh, it.rules, f"{checked} 个在售品种均在允许其类别与储存条件的区域",
                  f"{checked} item(s), each in a zone that admits its class and storage")
