"""Load the demo store: zones, catalog, suppliers, opening stock, users, the till, the agreement.

Everything goes through the same use cases (and audit) a real store's data goes through.
Loading twice changes nothing: a store that already has a catalog is left alone.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func
from sqlmodel import select

from catalog.demo_data import default_zones, demo_batches, demo_items, demo_suppliers, demo_users
from server.audit import Actor
from server.db.models import AgreementStatus, Item, Supplier, User
from server.db.models.base import id_of
from server.db.uow import core_unit, orm
from server.insurance.sandbox.eprx_demo import HOSPITAL, demo_guide
from server.roles import ROLE_LABELS, Role
from server.rules.controlled import Approver
from server.rules.stock import Scope
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from server.services.rx import registry as rx_registry
from server.services.stock import batches as stock
from server.services.stock import suppliers as supplier_service
from server.services.store import profile as store_service
from server.services.store import users as user_service

DEMO_SEED = 20261122


def load_demo(engine: Engine, ctx: Ctx) -> str:
    with core_unit(engine) as unit:
        s = orm(unit)
        if s.exec(select(func.count()).select_from(Item).where(Item.store_id == ctx.store_id)).one():
            return "演示数据已存在，未重复加载 / demo data already present; nothing loaded"
        today = ctx.today
        store_service.update_profile(unit, ctx, {
            "legal_representative": "李明", "person_in_charge": "王芳", "business_scope": "处方药、非处方药、中药饮片、保健食品、医疗器械",
            "drug_licence_no": "粤AA7550001", "drug_licence_expiry": today + timedelta(days=3 * 365),
            "business_licence_no": "91440300MA5F000001", "business_licence_expiry": None})
        store_service.record_agreement_event(unit, ctx, AgreementStatus.ACTIVE, today - timedelta(days=200),
                                             today + timedelta(days=165), "YB-440300-2026-0001", "签订医保服务协议")
        store_service.register_till(unit, ctx, ctx.settings.till.code, "1号收银台", "DEMO-TILL-01")
        for z in default_zones():
            catalog_service.create_zone(unit, ctx, z.code, z.name, z.purpose, set(z.admits), z.route_group, z.storage,
                                        z.odour_prone)
        lines: list[str] = []
        staff: dict[str, User] = {}
        for u in demo_users(ctx.settings.store.fixmedins_code, today):
            roles = {Role(r) for r in u.roles}
            # demo data: the demo's people, their PINs the README's (set through the one-time code, as an owner would)
            user = user_service.add_user(unit, ctx, u.username, u.display_name, u.pin, roles, u.id_number)
            user_service.set_staff_profile(unit, ctx, id_of(user), {
                "id_number": u.id_number, "qualification": u.qualification, "qualification_no": u.qualification_no,
                "qualification_expiry": u.qualification_expiry, "registered_store_code": u.registered_store_code, "contract_start": u.contract_start,
                "contract_end": u.contract_end, "work_cert_no": u.work_cert_no, "work_cert_expiry": u.work_cert_expiry})
            staff[u.username] = user
            lines.append(f"  {u.username:<12} PIN {u.pin:<6} {'、'.join(ROLE_LABELS[r] for r in sorted(roles))}"
                         f"  {u.display_name}")
        # The 医保 mappings are the 医保 administrators' (CARD-07): ins1 sets them, ins2 approves, as at a real store.
        ins1, ins2 = staff["ins1"], staff["ins2"]
        mapping_ctx = ctx.acting(Actor(id_of(ins1), ins1.username))
        approval = catalog_service.Approval(
            Approver(id_of(ins2), ins2.username, frozenset({Role.INSURANCE_ADMIN}), None), "演示门店的初始医保对照")
        items = demo_items(DEMO_SEED)
        ids: dict[str, int] = {}
        for it in items:
            values = {k: getattr(it, k) for k in catalog_service.ITEM_FIELDS if hasattr(it, k)}
            mapped_item = bool(it.nhsa_code) or it.insurance_category.value in ("jia", "yi")
            row = catalog_service.create_item(unit, mapping_ctx if mapped_item else ctx, values, list(it.barcodes),
                                              it.zone_code, approval if mapped_item else None)
            ids[it.code] = id_of(row)
        # The demo's 甲/乙 mappings have reached the (sandbox) centre, so the card pays them (CARD-07).
        mapped = [ids[it.code] for it in items if it.nhsa_code and it.insurance_category.value in ("jia", "yi")]
        catalog_service.mark_mapping_uploaded(unit, mapping_ctx, mapped, approval)
        suppliers = demo_suppliers(DEMO_SEED, today)
        for sup in suppliers:  # the demo's wholesalers: every scope, approved as first-time suppliers (首营)
            added = supplier_service.add_supplier(unit, ctx, sup.name, sup.licence_no, sup.licence_expiry,
                                                  sup.business_licence_no, sup.contact, sup.phone,
                                                  scope=[x.value for x in Scope])
            supplier_service.approve_supplier(unit, ctx, id_of(added), "演示数据")
        sup_ids = {x.name: x.id for x in s.exec(select(Supplier).where(Supplier.store_id == ctx.store_id))}
        # the sandbox platform's demo hospital and doctors: its electronic 外配处方 pass RX-02 here (issue #23)
        rx_registry.import_registry(unit, ctx, [rx_registry.InstitutionIn(
            HOSPITAL["code"], HOSPITAL["name"], HOSPITAL["admdvs"],
            doctors=[rx_registry.DoctorIn(d["code"], d["name"]) for d in HOSPITAL["doctors"]])])
        batches = demo_batches(items, suppliers, DEMO_SEED, today)
        for b in batches:
            stock.add_opening_batch(unit, ctx, ids[b.item_code], sup_ids.get(b.supplier_name), b.batch_no, b.lot_no,
                                    b.manufactured_on, b.expires_on, b.cost_fen, b.qty, b.zone_code)
    return (f"演示门店已就绪 / demo store ready: {len(items)} 商品 items, {len(batches)} 批次 batches, "
            f"{len(suppliers)} 供应商 suppliers\n演示用户 / demo users:\n" + "\n".join(lines) + "\n" + demo_guide())
