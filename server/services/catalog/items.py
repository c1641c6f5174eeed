"""Catalog use cases: zones, items, barcodes, placement and import — each rule-checked and audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from catalog.classes import GspClass, InsuranceCategory, Route, Storage, ZonePurpose
from catalog.codes import GTIN_LENGTHS, check_gtin
from catalog.gsp import ItemSpec, ZoneSpec, check_placement, check_zone
from catalog.items import ItemFacts, check_item
from catalog.violations import Violation
from server import audit
from server.db.models import Barcode, Item, Store, Zone
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.errors import AppError, conflict, not_found, refused
from server.roles import Role
from server.rules.controlled import (
    Approver,
    ControlledFacts,
    approval_refusals,
    approvals_needed,
    resets_mapping_upload,
)
from server.services.context import Ctx

ITEM_FIELDS = ("code", "name", "generic_name", "spec", "dosage_form", "manufacturer", "origin", "approval_no", "gsp_class",
               "route", "odour_prone", "storage", "nhsa_code", "insurance_category", "price_fen", "unit",
               "split_unit", "split_ratio", "split_price_fen", "pharm_class", "traced", "no_code_stock", "active")
MAPPING_FIELDS = frozenset({"nhsa_code", "insurance_category"})  # CARD-07: 医保 mapping changes
CONTROLLED_FIELDS = MAPPING_FIELDS | {"gsp_class"}  # server.rules.controlled
PLACEMENT_FIELDS = frozenset({"gsp_class", "route", "storage", "odour_prone"})  # what check_placement reads


@dataclass(frozen=True, slots=True)
class Approval:
    """A second person's approval of a change that loosens control, their PIN checked just now, and why."""

    approver: Approver
    reason: str


def zone_spec(z: Zone) -> ZoneSpec:
    return ZoneSpec(z.code, z.name, frozenset(GspClass(c) for c in z.admits), z.route_group, Storage(z.storage),
                    z.odour_prone, ZonePurpose(z.purpose))


def item_spec(i: Item) -> ItemSpec:
    return ItemSpec(i.code, i.name, GspClass(i.gsp_class), Route(i.route), Storage(i.storage), i.odour_prone)


def item_facts(v: dict[str, Any]) -> ItemFacts:
    return ItemFacts(v["code"], GspClass(v["gsp_class"]), Route(v.get("route", "other")), v.get("approval_no", ""),
                     v.get("nhsa_code") or None, InsuranceCategory(v.get("insurance_category", "none")),
                     v["price_fen"], v.get("split_unit") or None, v.get("split_ratio", 1), v.get("split_price_fen"))


def controlled_facts(v: dict[str, Any]) -> ControlledFacts:
    return ControlledFacts(GspClass(v["gsp_class"]), InsuranceCategory(v.get("insurance_category", "none")),
                           v.get("nhsa_code") or None)


def _approve(ctx: Ctx, before: ControlledFacts | None, after: ControlledFacts,
             approval: Approval | None) -> dict[Role, str]:
    """RX-01 / CARD-07: a change that loosens an item's controlled facts goes through only with a second person of
    the right post and a reason. Returns the posts that approved (empty: the change needed none)."""
    needed = approvals_needed(before, after)
    if problems := approval_refusals(needed, ctx.actor.user_id, approval.approver if approval else None,
                                     approval.reason if approval else "", ctx.settings.store.fixmedins_code,
                                     ctx.today, ctx.settings.rules.min_contract_years):
        raise refused(problems, 403)
    return needed


def _audit_item(u: Unit, ctx: Ctx, action: str, item: Item, before: dict[str, Any] | None,
                needed: dict[Role, str], approval: Approval | None) -> None:
    """The item's entry; a controlled change's names who approved it, for which post, and carries the reason."""
    if not needed or approval is None:
        audit.record_row(u, ctx.store_id, ctx.actor, action, item, before)
        return
    u.flush()
    a = approval.approver
    after = audit.snapshot(item) | {"approved_by": {"user_id": a.user_id, "username": a.username,
                                                    "posts": sorted(r.value for r in needed),
                                                    "rules": sorted(set(needed.values()))}}
    audit.record(u, ctx.store_id, ctx.actor, action, "item", id_of(item), before, after, note=approval.reason.strip())


def _check_code_unique(s: Session, ctx: Ctx, code: str | None, item_id: int | None) -> None:
    """CARD-07: a national code names one item of the store (whatever its state: to reuse a code, take it off the
    other item first). Checked under the store's catalog lock (_bump_rev), so two writers cannot both pass."""
    if not code:
        return
    other = s.exec(select(Item.id, Item.code).where(Item.store_id == ctx.store_id, Item.nhsa_code == code,
                                                    Item.id != (item_id or 0))).first()
    if other is not None:
        raise conflict("CARD-07", f"医保编码 {code} 已对照到商品 {other[1]}，一个医保编码只能对应一个商品",
                       f"national code {code} is already mapped to item {other[1]}; a code names one item",
                       nhsa_code=code, item_id=other[0])


def search_mnemonic(name: str) -> str:
    """助记码 with the other readings of truly polyphonic characters, space-separated, so either matches."""
    # Imported here: pypinyin's dictionaries take half a second to load, which start-up need not pay.
    from catalog.mnemonic import mnemonic_variants

    return " ".join(mnemonic_variants(name))[:100]


def _bump_rev(u: Unit, ctx: Ctx) -> int:
    """Tell every search index of this store that the catalog changed (locks the store row briefly)."""
    s = orm(u)
    store = s.exec(select(Store).where(Store.id == ctx.store_id).with_for_update()).one()
    store.catalog_rev += 1
    s.add(store)
    return store.catalog_rev


# --- zones ------------------------------------------------------------------------------------------

def create_zone(u: Unit, ctx: Ctx, code: str, name: str, purpose: ZonePurpose, admits: set[GspClass],
                route_group: str, storage: Storage, odour_prone: bool) -> Zone:
    s = orm(u)
    spec = ZoneSpec(code, name, frozenset(admits), route_group, storage, odour_prone, purpose)
    if problems := check_zone(spec):
        raise refused(problems)
    if s.exec(select(Zone).where(Zone.store_id == ctx.store_id, Zone.code == code)).first():
        raise conflict("DUPLICATE", f"区域编码 {code} 已存在", f"zone code {code} exists", code=code)
    zone = Zone(store_id=ctx.store_id, code=code, name=name, purpose=purpose.value,
                admits=sorted(c.value for c in admits), route_group=route_group, storage=storage.value,
                odour_prone=odour_prone)
    s.add(zone)
    audit.record_row(u, ctx.store_id, ctx.actor, "zone.create", zone)
    return zone


def zone_by_code(s: Session, ctx: Ctx, code: str) -> Zone:
    zone = s.exec(select(Zone).where(Zone.store_id == ctx.store_id, Zone.code == code)).first()
    if zone is None:
        raise not_found(f"区域 {code} ", f"zone {code}", zone=code)
    return zone


def list_zones(s: Session, ctx: Ctx) -> list[Zone]:
    return list(s.exec(select(Zone).where(Zone.store_id == ctx.store_id).order_by(Zone.code)))


# --- items ------------------------------------------------------------------------------------------

def get_item(s: Session, ctx: Ctx, item_id: int) -> Item:
    item = s.get(Item, item_id)
    if item is None or item.store_id != ctx.store_id:
        raise not_found("商品", "item", item_id=item_id)
    return item


def barcodes_of(s: Session, item_id: int) -> list[str]:
    return list(s.exec(select(Barcode.code).where(Barcode.item_id == item_id).order_by(col(Barcode.id))))


def barcodes_by_item(s: Session, item_ids: list[int]) -> dict[int, list[str]]:
    """The barcodes of many items in one query (a search answer shows twenty items at once)."""
    out: dict[int, list[str]] = {}
    if item_ids:
        for item_id, code in s.exec(select(Barcode.item_id, Barcode.code).where(col(Barcode.item_id).in_(item_ids))
                                    .order_by(col(Barcode.id))):
            out.setdefault(item_id, []).append(code)
    return out


def _placement_problems(item: Item, zone: Zone) -> list[Violation]:
    """Where GSP keeps the item out of the zone — and a zone defined before GSP-02's display areas were enforced that
    mixes what they keep apart (处方药 with anything else) takes no item."""
    spec = zone_spec(zone)
    return check_zone(spec) + check_placement(item_spec(item), spec)


def _check_barcodes(s: Session, ctx: Ctx, codes: list[str], item_id: int | None) -> None:
    problems = [v for c in codes for v in check_gtin(c)]
    if problems:
        raise refused(problems)
    if len(set(codes)) != len(codes):
        raise AppError(422, "CATALOG-BARCODE", "条码重复", "a barcode is listed twice", {"barcodes": codes})
    for code in codes:
        owner = s.exec(select(Barcode).where(Barcode.store_id == ctx.store_id, Barcode.code == code)).first()
        if owner is not None and owner.item_id != item_id:
            raise conflict("CATALOG-BARCODE", f"条码 {code} 已属于其他商品（#{owner.item_id}）",
                           f"barcode {code} already belongs to item #{owner.item_id}", barcode=code,
                           item_id=owner.item_id)


def create_item(u: Unit, ctx: Ctx, values: dict[str, Any], barcodes: list[str], zone_code: str | None,
                approval: Approval | None = None) -> Item:
    """A new item; a 医保 mapping given with it (a national code, 甲/乙) is a loosening change from none and needs
    the other 医保 administrator's approval (CARD-07)."""
    s = orm(u)
    if problems := check_item(item_facts(values)):
        raise refused(problems)
    needed = _approve(ctx, None, controlled_facts(values), approval)
    if s.exec(select(Item).where(Item.store_id == ctx.store_id, Item.code == values["code"])).first():
        raise conflict("DUPLICATE", f"商品编码 {values['code']} 已存在", f"item code {values['code']} exists",
                       code=values["code"])
    _check_barcodes(s, ctx, barcodes, None)
    item = Item(store_id=ctx.store_id, **{k: v for k, v in values.items() if k in ITEM_FIELDS})
    item.mnemonic = search_mnemonic(item.name)
    if zone_code:
        zone = zone_by_code(s, ctx, zone_code)
        if problems := _placement_problems(item, zone):
            raise refused(problems)
        item.zone_id = zone.id
    item.mapping_uploaded_on = None  # CARD-07: set by the upload, never given
    item.rev = _bump_rev(u, ctx)
    _check_code_unique(s, ctx, item.nhsa_code, None)
    s.add(item)
    _audit_item(u, ctx, "item.create", item, None, needed, approval)
    for code in barcodes:
        _add_barcode_row(u, ctx, item, code)
    return item


def _add_barcode_row(u: Unit, ctx: Ctx, item: Item, code: str) -> Barcode:
    s = orm(u)
    bc = Barcode(store_id=ctx.store_id, item_id=id_of(item), code=code, kind=GTIN_LENGTHS[len(code)])
    s.add(bc)
    audit.record_row(u, ctx.store_id, ctx.actor, "barcode.add", bc)
    return bc


def update_item(u: Unit, ctx: Ctx, item_id: int, changes: dict[str, Any], approval: Approval | None = None,
                zone_code: str | None = None) -> Item:
    """Change an item. Its controlled facts (class, 医保 category, national code) change as server.rules.controlled
    says: a loosening change with a second person's approval and a reason; any change of them sends the mapping
    back to "not uploaded", so the card waits for the centre to have the new one (CARD-07). `zone_code`: where the
    changed item stands from now (a reclassified drug moves in the same change: no zone admits both classes)."""
    s = orm(u)
    item = get_item(s, ctx, item_id)
    unknown = set(changes) - set(ITEM_FIELDS) - {"code"}
    if unknown:
        raise AppError(422, "VALIDATION", f"未知字段：{'、'.join(sorted(unknown))}", f"unknown fields: {sorted(unknown)}")
    if "code" in changes and changes["code"] != item.code:
        raise AppError(422, "VALIDATION", "商品编码不能修改", "the item code cannot change (it is the 医保 mapping key)")
    current = {k: getattr(item, k) for k in ITEM_FIELDS}
    merged = current | changes
    if problems := check_item(item_facts(merged)):
        raise refused(problems)
    was, will = controlled_facts(current), controlled_facts(merged)
    needed = _approve(ctx, was, will, approval)
    zone = zone_by_code(s, ctx, zone_code) if zone_code else None
    moved = (zone is not None and zone.id != item.zone_id) or any(merged[k] != current[k] for k in PLACEMENT_FIELDS)
    zone_id = zone.id if zone is not None else item.zone_id
    if zone_id is not None and moved:
        probe = Item(**merged)
        if problems := _placement_problems(probe, zone or s.get_one(Zone, zone_id)):
            raise refused(problems)
    before = audit.snapshot(item)
    for k, v in changes.items():
        setattr(item, k, v)
    item.zone_id = zone_id
    if resets_mapping_upload(was, will):
        item.mapping_uploaded_on = None  # CARD-07: the centre's mapping no longer describes the item
    if "name" in changes:
        item.mnemonic = search_mnemonic(item.name)
    item.updated_at = ctx.now
    item.rev = _bump_rev(u, ctx)
    if will.nhsa_code != was.nhsa_code:
        _check_code_unique(s, ctx, will.nhsa_code, item_id)
    s.add(item)
    action = ("item.class" if was.gsp_class != will.gsp_class else
              "item.mapping" if set(changes) & MAPPING_FIELDS else "item.update")
    _audit_item(u, ctx, action, item, before, needed, approval)
    return item


def mapping_upload_refusals(ctx: Ctx, approval: Approval | None) -> list[Violation]:
    """Until the 3501-series uploads exist, a person records that a mapping reached the centre: a 医保 administrator,
    confirmed by the other one (CARD-07); never the one who records it alone."""
    return approval_refusals({Role.INSURANCE_ADMIN: "CARD-07"}, ctx.actor.user_id,
                             approval.approver if approval else None, "-",  # the upload itself is the reason
                             ctx.settings.store.fixmedins_code, ctx.today)


def mark_mapping_uploaded(u: Unit, ctx: Ctx, item_ids: list[int], approval: Approval | None) -> list[Item]:
    """CARD-07: the items' mappings (national code, 甲/乙) reached the centre today; from then the card may pay
    them. The day is the store's today, never given: an upload cannot be typed in for another day. (The
    3501-series uploads will call `record_mapping_upload` when the centre acknowledges.)"""
    if problems := mapping_upload_refusals(ctx, approval):
        raise refused(problems, 403)
    return record_mapping_upload(u, ctx, item_ids, approval)


def record_mapping_upload(u: Unit, ctx: Ctx, item_ids: list[int], approval: Approval | None) -> list[Item]:
    """The mappings reached the centre today: what the upload's acknowledgement records (no person confirms it then),
    and what mark_mapping_uploaded records once the other 医保 administrator has confirmed."""
    s = orm(u)
    on: date = ctx.today
    out = []
    for item_id in item_ids:
        item = get_item(s, ctx, item_id)
        if not item.nhsa_code or item.insurance_category not in ("jia", "yi"):
            raise AppError(422, "CARD-07", f"{item.name} 没有医保编码或不属甲/乙类，无需上传对照",
                           f"{item.code} has no national code or is not 甲/乙", {"item_id": item_id})
        before = audit.snapshot(item)
        item.mapping_uploaded_on, item.updated_at = on, ctx.now
        item.rev = _bump_rev(u, ctx)
        s.add(item)
        _audit_item(u, ctx, "item.mapping_uploaded", item, before, {Role.INSURANCE_ADMIN: "CARD-07"}, approval)
        out.append(item)
    return out


def add_barcode(u: Unit, ctx: Ctx, item_id: int, code: str) -> Barcode:
    s = orm(u)
    item = get_item(s, ctx, item_id)
    _check_barcodes(s, ctx, [code], item.id)
    if code in barcodes_of(s, id_of(item)):
        raise conflict("DUPLICATE", f"条码 {code} 已在该商品上", f"barcode {code} is already on this item")
    item.rev = _bump_rev(u, ctx)
    s.add(item)
    return _add_barcode_row(u, ctx, item, code)


def place_item(u: Unit, ctx: Ctx, item_id: int, zone_code: str) -> Item:
    """Put an item in a display zone — refused with the rule ID where GSP keeps them apart."""
    s = orm(u)
    item = get_item(s, ctx, item_id)
    zone = zone_by_code(s, ctx, zone_code)
    if problems := _placement_problems(item, zone):
        raise refused(problems)
    before = audit.snapshot(item)
    item.zone_id, item.updated_at = zone.id, ctx.now
    item.rev = _bump_rev(u, ctx)
    s.add(item)
    audit.record_row(u, ctx.store_id, ctx.actor, "item.place", item, before)
    return item


def find_by_barcode(s: Session, ctx: Ctx, code: str) -> Item | None:
    row = s.exec(select(Item).join(Barcode, col(Barcode.item_id) == Item.id)
                 .where(Barcode.store_id == ctx.store_id, Barcode.code == code)).first()
    return row


# --- import -----------------------------------------------------------------------------------------

@dataclass
class ImportOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)


def _mapping_refusal(existing: Item | None, values: dict[str, Any]) -> str | None:
    """CARD-07: the 医保 mapping is the insurance administrator's; a file from anyone else may not set it."""
    if existing is None:
        sets = values.get("nhsa_code") or values.get("insurance_category", "none") != "none"
        return "新商品的医保编码/类别" if sets else None
    changed = [k for k in MAPPING_FIELDS if k in values and getattr(existing, k) != values[k]]
    return "医保编码/类别" if changed else None


def import_rows(u: Unit, ctx: Ctx, rows: list[Any], may_map: bool = True,
                approval: Approval | None = None) -> ImportOutcome:
    """Apply validated rows: new codes are created, changed ones updated, equal ones left alone.

    Re-importing the same file therefore changes nothing (no audit entries, no revision bump). A row that loosens
    an item's controlled facts is held to the same rule as the catalog's own route: without a second person's
    approval (given with the file), of the post the row needs, it is refused.
    """
    s = orm(u)
    out = ImportOutcome()
    zones = {z.code: z for z in list_zones(s, ctx)}
    for row in rows:
        # Only the columns the file has: a prices-only file must not blank the other fields.
        values = {k: v for k, v in row.fields().items() if k in row.given or k == "code"}
        zone_code = row.zone_code or None
        if zone_code and zone_code not in zones:
            out.refused.append({"row": row.row, "column": "陈列区域", "message_zh": f"区域 {zone_code} 不存在",
                                "message_en": f"zone {zone_code} does not exist"})
            continue
        existing = s.exec(select(Item).where(Item.store_id == ctx.store_id, Item.code == values["code"])).first()
        if not may_map and (what := _mapping_refusal(existing, values)):
            out.refused.append({"row": row.row, "column": "医保编码", "code": "CARD-07",
                                "message_zh": f"{what}只能由医保管理员修改",
                                "message_en": "only the insurance administrator may set the 医保 mapping"})
            continue
        try:
            with s.begin_nested():
                if existing is None:
                    create_item(u, ctx, values, list(row.barcodes), zone_code, approval)
                    out.created += 1
                    continue
                changes = {k: v for k, v in values.items() if k in ITEM_FIELDS and getattr(existing, k) != v}
                new_codes = [c for c in row.barcodes if c not in barcodes_of(s, id_of(existing))]
                zone_changed = zone_code is not None and zones[zone_code].id != existing.zone_id
                if not changes and not new_codes and not zone_changed:
                    out.unchanged += 1
                    continue
                if changes:  # with the zone the row names: a reclassified item moves in the same change
                    update_item(u, ctx, id_of(existing), changes, approval, zone_code if zone_changed else None)
                for code in new_codes:
                    add_barcode(u, ctx, id_of(existing), code)
                if zone_changed and zone_code is not None and not changes:
                    place_item(u, ctx, id_of(existing), zone_code)
                out.updated += 1
        except AppError as exc:
            column = ("条码" if "barcode" in exc.details or exc.code.startswith(("CODE-GTIN", "CATALOG-BARCODE")) else
                      "医保编码" if exc.code == "CARD-07" else "经营类别" if exc.code in ("RX-01", "STAFF-01") else "")
            out.refused.append({"row": row.row, "column": column, "message_zh": exc.message_zh,
                                "message_en": exc.message_en, "code": exc.code})
    return out
