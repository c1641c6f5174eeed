"""The reconciliation's rows — runs, the settlements 3202 named, acknowledgments — written here only, as Core
inserts (the database refuses any UPDATE or DELETE: migration 0026), each imaged in the audit chain in the same
unit."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from server import audit
from server.db.models.base import table_of
from server.db.models.recon import ReconAck, ReconItem, ReconRun
from server.db.uow import Unit

RUN, ITEM, ACK = table_of(ReconRun), table_of(ReconItem), table_of(ReconAck)


def _add(u: Unit, model: type[Any], values: dict[str, Any], actor: audit.Actor, action: str, note: str = "") -> Any:
    table = table_of(model)
    row = u.connection().execute(sa.insert(table).values(values).returning(*table.c)).one()
    audit.record(u, values["store_id"], actor, action, table.name, row.id, None, audit.image(model, row._asdict()),
                 note=note)
    return row


def add_run(u: Unit, actor: audit.Actor, values: dict[str, Any]) -> Any:
    return _add(u, ReconRun, values, actor, "recon.run",
                note=f"{values['kind']} {values['stmt_begndate']}..{values['stmt_enddate']} "
                     f"{'平' if values['result'] == '0' else '不平'}")


def add_item(u: Unit, actor: audit.Actor, values: dict[str, Any]) -> Any:
    return _add(u, ReconItem, values, actor, "recon.item")


def add_ack(u: Unit, actor: audit.Actor, values: dict[str, Any]) -> Any:
    return _add(u, ReconAck, values, actor, "recon.ack", note=values["note"][:200])


def run(u: Unit, store_id: int, run_id: int) -> Any:
    return u.connection().execute(sa.select(RUN).where(RUN.c.id == run_id, RUN.c.store_id == store_id)).first()


def item(u: Unit, store_id: int, item_id: int) -> Any:
    return u.connection().execute(sa.select(ITEM).where(ITEM.c.id == item_id, ITEM.c.store_id == store_id)).first()


def runs_between(u: Unit, store_id: int, first: date, last: date, kind: str | None = None) -> list[Any]:
    """Runs whose period lies within [first, last], oldest first."""
    q = sa.select(RUN).where(RUN.c.store_id == store_id, RUN.c.stmt_begndate >= first, RUN.c.stmt_enddate <= last)
    if kind:
        q = q.where(RUN.c.kind == kind)
    return list(u.connection().execute(q.order_by(RUN.c.id)))


def items_of(u: Unit, run_ids: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {i: [] for i in run_ids}
    if run_ids:
        for r in u.connection().execute(sa.select(ITEM).where(ITEM.c.run_id.in_(run_ids)).order_by(ITEM.c.id)):
            out[r.run_id].append(r)
    return out


def acks_of(u: Unit, run_ids: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {i: [] for i in run_ids}
    if run_ids:
        for r in u.connection().execute(sa.select(ACK).where(ACK.c.run_id.in_(run_ids)).order_by(ACK.c.id)):
            out[r.run_id].append(r)
    return out


def latest_status(u: Unit, store_id: int, setl_ids: list[str]) -> dict[str, Any]:
    """Each settlement's latest 3202 verdict (its item row); absent: 未对账 by 3202."""
    if not setl_ids:
        return {}
    out: dict[str, Any] = {}
    q = sa.select(ITEM).where(ITEM.c.store_id == store_id, ITEM.c.setl_id.in_(setl_ids)).order_by(ITEM.c.id)
    for r in u.connection().execute(q):
        out[r.setl_id] = r
    return out
