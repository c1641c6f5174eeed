"""Shelf labels (药品标签 / 价签, GSP-04): printed from the catalog, recorded as printed, judged stale when the
catalog changes after them, and printed anew — never typed, never an old label printed again.

A print takes a selection — some items, a zone's items, or what changed since the last print (every active
displayed item whose label is stale or that has none) — checks it (server.rules.labels), writes the run and one
label row per item with the facts it shows, audited with the run, and returns them for the PDF or the printer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from catalog.classes import ZonePurpose
from devices.printer.documents import LabelSheet, ShelfLabelDoc, to_json
from server import audit
from server.db.models import Barcode, Item, PrintJobKind, Zone
from server.db.models.base import id_of
from server.db.models.labels import LabelRun, ShelfLabel
from server.db.uow import Unit, orm
from server.errors import AppError, not_found, refused
from server.rules.labels import (
    LabelFacts,
    Template,
    changed,
    class_mark,
    insurance_mark,
    print_refusals,
    reprint_refusals,
)
from server.services.context import Ctx
from server.services.printing import add_job, store_header


class Selection(StrEnum):
    ITEMS = "items"
    ZONE = "zone"
    CHANGED = "changed"  # stale or never labelled


@dataclass(frozen=True)
class Stale:
    printed: LabelFacts
    now: LabelFacts | None  # None: the item left the catalog
    fields: list[str]
    label_id: int
    run_id: int


@dataclass(frozen=True)
class Printed:
    run: LabelRun
    labels: list[LabelFacts]


def current_facts(s: Session, ctx: Ctx, item_ids: list[int] | None = None,
                  zone_code: str | None = None) -> list[LabelFacts]:
    """The active items' label facts as the catalog has them now (by item code); the first barcode is the label's."""
    q = (select(Item, Zone.code).join(Zone, col(Item.zone_id) == col(Zone.id), isouter=True)
         .where(Item.store_id == ctx.store_id, col(Item.active)))
    if item_ids is not None:
        q = q.where(col(Item.id).in_(item_ids))
    if zone_code is not None:
        q = q.where(Zone.code == zone_code)
    rows = list(s.exec(q.order_by(Item.code)))
    first_code: dict[int, str] = {}
    ids = [id_of(i) for i, _ in rows]
    if ids:
        for item_id, code in s.exec(select(Barcode.item_id, Barcode.code).where(col(Barcode.item_id).in_(ids))
                                    .order_by(col(Barcode.id).desc())):
            first_code[item_id] = code  # descending: the first one written is left
    return [LabelFacts(item_id=id_of(i), code=i.code, name=i.name, spec=i.spec, manufacturer=i.manufacturer,
                       unit=i.unit, price_fen=i.price_fen, barcode=first_code.get(id_of(i), ""),
                       gsp_class=i.gsp_class, insurance_category=i.insurance_category, zone_code=zone or "",
                       origin=i.origin)
            for i, zone in rows]


def last_labels(s: Session, ctx: Ctx) -> dict[int, ShelfLabel]:
    """Each item's last printed label."""
    last = (select(func.max(ShelfLabel.id)).where(ShelfLabel.store_id == ctx.store_id)
            .group_by(col(ShelfLabel.item_id)))
    rows = s.exec(select(ShelfLabel).where(col(ShelfLabel.id).in_(last)))
    return {r.item_id: r for r in rows}


def stale(s: Session, ctx: Ctx) -> list[Stale]:
    """The labels on the shelf (each item's last) that no longer say what the catalog says."""
    now = {f.item_id: f for f in current_facts(s, ctx)}
    out = []
    for item_id, label in sorted(last_labels(s, ctx).items()):
        printed = LabelFacts.from_dict(label.facts)
        if fields := changed(printed, now.get(item_id)):
            out.append(Stale(printed, now.get(item_id), fields, id_of(label), label.run_id))
    return out


def _displayed(s: Session, ctx: Ctx) -> set[int]:
    """Items standing in a zone that is not a quarantine one (those carry no shelf label)."""
    q = (select(Item.id).join(Zone, col(Item.zone_id) == col(Zone.id))
         .where(Item.store_id == ctx.store_id, Zone.purpose != ZonePurpose.QUARANTINE.value))
    return {int(i) for i in s.exec(q) if i is not None}


def select_labels(s: Session, ctx: Ctx, selection: Selection, item_ids: list[int] | None = None,
                  zone_code: str | None = None) -> list[LabelFacts]:
    if selection is Selection.ITEMS:
        wanted = sorted(set(item_ids or []))
        facts = current_facts(s, ctx, item_ids=wanted)
        missing = sorted(set(wanted) - {f.item_id for f in facts})
        if missing or not wanted:
            raise not_found("商品（或已停用）", "item (or inactive)", item_ids=missing)
        return facts
    if selection is Selection.ZONE:
        if not zone_code:
            raise AppError(422, "VALIDATION", "按区域打印须指定区域", "a zone print names the zone", {})
        from server.services.catalog.items import zone_by_code

        zone_by_code(s, ctx, zone_code)  # 404 for an unknown zone
        return current_facts(s, ctx, zone_code=zone_code)
    labelled = last_labels(s, ctx)
    shown = _displayed(s, ctx)
    return [f for f in current_facts(s, ctx)
            if f.item_id in shown and (f.item_id not in labelled or
                                       changed(LabelFacts.from_dict(labelled[f.item_id].facts), f))]


def print_labels(u: Unit, ctx: Ctx, selection: Selection, template: Template, item_ids: list[int] | None = None,
                 zone_code: str | None = None, till_code: str | None = None) -> Printed:
    """Prints (records) the selected items' labels from the catalog — and queues them on `till_code`'s receipt
    printer when one is named; refused whole (GSP-04) when the template cannot carry a 医保 drug's mark. Nothing is
    written when there is nothing to print."""
    s = orm(u)
    facts = select_labels(s, ctx, selection, item_ids, zone_code)
    if problems := print_refusals(facts, template):
        raise refused(problems)
    done = _record(u, ctx, facts, selection, template, zone_code or "")
    if till_code:
        queue_on_printer(u, ctx, done, till_code)
    return done


def label_sheet(ctx: Ctx, done: Printed) -> LabelSheet:
    """The run as the receipt printer's document (devices.printer.render.render_labels)."""
    return LabelSheet(store_header(ctx), id_of(done.run), done.run.business_date.isoformat(), [
        ShelfLabelDoc(name=f.name, spec=f.spec, maker=(f"产地 {f.origin}" if f.gsp_class == "herbal" and f.origin
                                                      else f.manufacturer), unit=f.unit, price_fen=f.price_fen,
                      barcode=f.barcode or f.code, class_mark=class_mark(f.gsp_class),
                      insurance_mark=insurance_mark(f)) for f in done.labels])


def queue_on_printer(u: Unit, ctx: Ctx, done: Printed, till_code: str) -> None:
    """The run's labels queued on the till's receipt printer (ESC/POS), one per cut, through the print queue."""
    add_job(u, ctx, till_code, PrintJobKind.LABELS, f"label_run:{id_of(done.run)}", to_json(label_sheet(ctx, done)))


def reprint_run(u: Unit, ctx: Ctx, run_id: int) -> Printed:
    """The labels of an earlier run printed again, as they were — refused (GSP-04) when any no longer says what
    the catalog says: then only a print from the catalog will do."""
    s = orm(u)
    run = s.get(LabelRun, run_id)
    if run is None or run.store_id != ctx.store_id:
        raise not_found("标签打印记录", "label run", run_id=run_id)
    rows = list(s.exec(select(ShelfLabel).where(ShelfLabel.run_id == run_id).order_by(col(ShelfLabel.id))))
    printed = [LabelFacts.from_dict(r.facts) for r in rows]
    now = {f.item_id: f for f in current_facts(s, ctx, item_ids=[p.item_id for p in printed])}
    if problems := reprint_refusals([(p, changed(p, now.get(p.item_id))) for p in printed]):
        raise refused(problems, 409)
    return _record(u, ctx, printed, Selection.ITEMS, Template(run.template), "")


def run_labels(s: Session, ctx: Ctx, run_id: int) -> Printed:
    run = s.get(LabelRun, run_id)
    if run is None or run.store_id != ctx.store_id:
        raise not_found("标签打印记录", "label run", run_id=run_id)
    rows = s.exec(select(ShelfLabel).where(ShelfLabel.run_id == run_id).order_by(col(ShelfLabel.id)))
    return Printed(run, [LabelFacts.from_dict(r.facts) for r in rows])


def _record(u: Unit, ctx: Ctx, facts: list[LabelFacts], selection: Selection, template: Template,
            zone_code: str) -> Printed:
    if not facts:
        raise AppError(422, "NOTHING_TO_PRINT", "没有需要打印的标签", "no label to print", {"selection": selection.value})
    s = orm(u)
    run = LabelRun(store_id=ctx.store_id, printed_at=ctx.now, business_date=ctx.today, printed_by=ctx.actor_id,
                   selection=selection.value, zone_code=zone_code, template=template.value, labels=len(facts))
    s.add(run)
    s.flush()
    rows = [ShelfLabel(store_id=ctx.store_id, run_id=id_of(run), item_id=f.item_id, price_fen=f.price_fen,
                       facts=f.as_dict()) for f in facts]
    s.add_all(rows)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "label.print", "label_run", id_of(run), None,
                 audit.snapshot(run) | {"shelf_labels": audit.compact([audit.snapshot(r) for r in rows])},
                 note=f"{template.label} × {len(facts)}（{selection.value}{' ' + zone_code if zone_code else ''}）")
    return Printed(run, facts)


def item_ids(s: Session, ctx: Ctx, codes: list[str]) -> list[int]:
    """The store's items by their codes (the command line names items as the shelf does); 404 for an unknown one."""
    found = {c: i for c, i in s.exec(select(Item.code, Item.id).where(Item.store_id == ctx.store_id,
                                                                     col(Item.code).in_(codes)))}
    if missing := sorted(set(codes) - set(found)):
        raise not_found("商品", "item", codes=missing)
    return [int(found[c] or 0) for c in codes]
