"""The monthly upkeep inspection (养护检查, GSP-06): per zone, a record per inspected batch — appearance, packaging,
storage conditions, outcome. A quality doubt stops the batch (the existing stop, batches.set_batch_stop); the line
then says who cleared it later and why, and clearing it releases the stop. A zone with no inspection in the
store's current month is listed (`zones_due`: the compliance checklist reads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog.violations import Violation
from server import audit
from server.db.models import Batch, Item, Zone
from server.db.models.base import id_of
from server.db.models.care import Upkeep, UpkeepLine
from server.db.uow import Unit, orm
from server.errors import AppError, not_found, refused
from server.rules import care as rules
from server.services.catalog.items import zone_by_code
from server.services.context import Ctx
from server.services.stock import batches as batch_service
from server.services.stock.care import kept_in


@dataclass(frozen=True, slots=True)
class Check:
    batch_id: int
    appearance: str
    packaging: str
    storage: str
    outcome: str = rules.UPKEEP_OK  # ok | doubt
    note: str = ""


def record(u: Unit, ctx: Ctx, zone_code: str, checks: Sequence[Check], note: str = "") -> Upkeep:
    """The caller's upkeep inspection of a zone this month; each doubted batch is stopped from sale."""
    s = orm(u)
    zone = zone_by_code(s, ctx, zone_code)
    if not checks:
        raise AppError(422, "GSP-06", "养护记录至少检查一个批次", "an upkeep record inspects at least one batch")
    batches = {id_of(b): b for b in s.exec(select(Batch).where(Batch.store_id == ctx.store_id,
                                                               col(Batch.id).in_([c.batch_id for c in checks])))}
    items = {id_of(i): i for i in s.exec(select(Item).where(col(Item.id).in_({b.item_id for b in batches.values()})))}
    problems: list[Violation] = []
    for n, c in enumerate(checks, start=1):
        batch = batches.get(c.batch_id)
        if batch is None:
            raise not_found("批次", "batch", batch_id=c.batch_id)
        if kept_in(batch.zone_id, items[batch.item_id]) != id_of(zone):
            problems.append(Violation("VALIDATION", f"第 {n} 行批次 {batch.batch_no} 不在区域 {zone_code}",
                                      f"line {n}: batch {batch.batch_no} is not kept in zone {zone_code}", {"line": n}))
        problems += rules.upkeep_line_refusals(n, c.appearance, c.packaging, c.storage, c.outcome, c.note)
    if len({c.batch_id for c in checks}) != len(checks):
        problems.append(Violation("VALIDATION", "同一批次只记录一次", "a batch is recorded once", {}))
    if problems:
        raise refused(problems)
    rec = Upkeep(store_id=ctx.store_id, zone_id=id_of(zone), month=rules.month_of(ctx.today), business_date=ctx.today,
                 inspected_by=ctx.actor.user_id, inspected_at=ctx.now, note=note)
    s.add(rec)
    s.flush()
    rows = [UpkeepLine(store_id=ctx.store_id, upkeep_id=id_of(rec), batch_id=c.batch_id, appearance=c.appearance.strip(),
                       packaging=c.packaging.strip(), storage=c.storage.strip(), outcome=c.outcome, note=c.note.strip())
            for c in checks]
    s.add_all(rows)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "upkeep.record", "upkeep", id_of(rec), None,
                 audit.snapshot(rec) | {"lines": [audit.snapshot(r) for r in rows]}, note=note)
    for r in rows:
        if r.outcome == rules.UPKEEP_DOUBT and batches[r.batch_id].status != "stopped":
            batch_service.set_batch_stop(u, ctx, r.batch_id, True, f"养护质量疑问：{r.note}"[:200])
    return rec


def clear(u: Unit, ctx: Ctx, line_id: int, reason: str) -> UpkeepLine:
    """A doubt cleared on review: the line records who and why, and the batch's stop is lifted (unless the batch is
    recalled: a recall's stop is not an upkeep's to lift)."""
    s = orm(u)
    line = s.get(UpkeepLine, line_id)
    if line is None or line.store_id != ctx.store_id:
        raise not_found("养护记录行", "upkeep line", line_id=line_id)
    if line.outcome != rules.UPKEEP_DOUBT or line.cleared_at is not None:
        raise AppError(409, "GSP-06", "该养护记录没有待解除的质量疑问", "this upkeep line has no open quality doubt",
                       {"line_id": line_id})
    if not reason.strip():
        raise refused([Violation("GSP-06", "解除质量疑问须填写原因", "clearing a quality doubt needs a reason", {})])
    before = audit.snapshot(line)
    line.cleared_by, line.cleared_at, line.cleared_reason = ctx.actor.user_id, ctx.now, reason.strip()
    s.add(line)
    s.flush()
    audit.record(u, ctx.store_id, ctx.actor, "upkeep.clear", "upkeep_line", line_id, before, audit.snapshot(line),
                 note=reason)
    if not batch_service.recalls_of(s, line.batch_id):  # a recalled batch stays stopped: the doubt is cleared, the recall is not
        batch_service.set_batch_stop(u, ctx, line.batch_id, False, reason.strip())
    return line


def lines_of(s: Session, upkeep_id: int) -> list[UpkeepLine]:
    return list(s.exec(select(UpkeepLine).where(UpkeepLine.upkeep_id == upkeep_id).order_by(col(UpkeepLine.id))))


def get(s: Session, ctx: Ctx, upkeep_id: int) -> Upkeep:
    rec = s.get(Upkeep, upkeep_id)
    if rec is None or rec.store_id != ctx.store_id:
        raise not_found("养护记录", "upkeep record", upkeep_id=upkeep_id)
    return rec


def zones_due(s: Session, ctx: Ctx, month: str | None = None) -> list[dict[str, Any]]:
    """Zones with no upkeep inspection in a month (default: the store's current one), GSP-06."""
    month = month or rules.month_of(ctx.today)
    done = set(s.exec(select(Upkeep.zone_id).where(Upkeep.store_id == ctx.store_id, Upkeep.month == month)).all())
    return [{"zone": z.code, "name": z.name, "month": month}
            for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id).order_by(col(Zone.code)))
            if id_of(z) not in done]


def open_doubts(s: Session, ctx: Ctx) -> list[dict[str, Any]]:
    """The upkeep lines whose quality doubt is not yet cleared, oldest first: what the person in charge reviews."""
    rows = s.exec(select(UpkeepLine, Upkeep, Batch).join(Upkeep, col(Upkeep.id) == col(UpkeepLine.upkeep_id))
                  .join(Batch, col(Batch.id) == col(UpkeepLine.batch_id))
                  .where(UpkeepLine.store_id == ctx.store_id, UpkeepLine.outcome == rules.UPKEEP_DOUBT,
                         col(UpkeepLine.cleared_at).is_(None)).order_by(col(UpkeepLine.id))).all()
    zones = {id_of(z): z.code for z in s.exec(select(Zone).where(Zone.store_id == ctx.store_id))}
    items = {id_of(i): i.name for i in s.exec(select(Item).where(col(Item.id).in_({b.item_id for _, _, b in rows})))} \
        if rows else {}
    return [{"line_id": id_of(ln), "upkeep_id": id_of(rec), "zone": zones.get(rec.zone_id, ""), "month": rec.month,
             "batch_id": id_of(b), "batch_no": b.batch_no, "item_name": items.get(b.item_id, ""), "note": ln.note,
             "batch_status": b.status}
            for ln, rec, b in rows]
