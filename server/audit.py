"""The hash-chained audit log (ST-02, SEC-04).

Every business write calls `record` inside its own unit of work, so the entry commits with the
change or not at all. Each entry's hash covers the previous entry's hash; `verify` recomputes the
chain and also compares every audited row with its last audited image, so an edit made behind the
service's back (raw SQL) is named, whether it touched the log or the data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import insert as sa_insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session, SQLModel, col, select

from server.db.models import (
    AgreementEvent,
    AuditEntry,
    AuditHead,
    Barcode,
    Batch,
    Doctor,
    Item,
    MedicalInstitution,
    Prescription,
    RxAttachment,
    StaffProfile,
    Store,
    Supplier,
    Till,
    User,
    UserRole,
    Zone,
)
from server.db.models.base import key_of, table_of
from server.db.models.ledger import BatchBalance, StockMovement  # audit verify recomputes the balances
from server.db.prepared import Prepared
from server.db.types import utcnow
from server.db.uow import Unit, orm
from server.privacy import mask_id

GENESIS = "0" * 64

# Tables whose every row is written through an audited use case, one entry per row change.
# (The stock ledger is append-only and is audited by the operation that writes it.)
ROW_AUDITED: dict[str, type[SQLModel]] = {
    table_of(m).name: m
    for m in (Store, Till, User, UserRole, StaffProfile, Item, Barcode, Zone, Supplier, Batch, AgreementEvent,
              MedicalInstitution, Doctor, Prescription, RxAttachment)
}


_AS_IS = frozenset({str, int, bool, float, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _AS_IS:  # most values: checked first, the image of a sale has hundreds
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    # The plain values inline, not through a call each: a sale's image is mostly they.
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _AS_IS else _plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): v if type(v) in _AS_IS else _plain(v) for k, v in value.items()}
    return value


def snapshot(row: SQLModel) -> dict[str, Any]:
    """The row's audited image: every column but the ones the model excludes, JSON-plain.

    Identity numbers are masked in the image (SEC-06: the log is shown to managers and inspectors).
    """
    exclude = set(getattr(type(row), "__audit_exclude__", ()))
    masked = set(getattr(type(row), "__audit_mask__", ()))
    mapper = sa_inspect(type(row))
    return {c.key: mask_id(getattr(row, c.key)) if c.key in masked else _plain(getattr(row, c.key))
            for c in mapper.column_attrs if c.key not in exclude}


def row_image(row: dict[str, Any]) -> dict[str, Any]:
    """snapshot() of a row read through Core, for a table with no column excluded or masked (a sale)."""
    image: dict[str, Any] = _plain(row)
    return image


def _entry_hash(e: AuditEntry) -> str:
    return _hash_of(e.store_id, e.seq, e.at, e.user_id, e.actor, e.action, e.entity, e.entity_id, e.before, e.after,
                    e.note, e.prev_hash)


def _hash_of(store_id: int, seq: int, at: datetime, user_id: int | None, actor: str, action: str, entity: str,
             entity_id: str, before: Any, after: Any, note: str, prev_hash: str) -> str:
    doc = {
        "store_id": store_id, "seq": seq, "at": at.isoformat(), "user_id": user_id, "actor": actor,
        "action": action, "entity": entity, "entity_id": entity_id, "before": before, "after": after,
        "note": note, "prev_hash": prev_hash,
    }
    raw = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    name: str  # username, or "system" for migrations and the demo loader


SYSTEM = Actor(None, "system")


def ensure_head(session: Unit, store_id: int) -> None:
    if orm(session).get(AuditHead, store_id) is None:
        orm(session).add(AuditHead(store_id=store_id, seq=0, hash=GENESIS))
        session.flush()


_ENTRY = table_of(AuditEntry)
_HEAD = table_of(AuditHead)
# Statements built once: appending runs on every business write, so it goes through Core, not the ORM.
_LOCK_HEAD = Prepared(sa_select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.store_id == bindparam("sid")).with_for_update())
_MOVE_HEAD = Prepared(sa_update(_HEAD).where(_HEAD.c.store_id == bindparam("sid")).values(
    seq=bindparam("new_seq"), hash=bindparam("new_hash")))
_ADD_HEAD = Prepared(sa_insert(_HEAD), ["store_id", "seq", "hash"])
_ADD_ENTRY = Prepared(sa_insert(_ENTRY), ["store_id", "seq", "at", "user_id", "actor", "action", "entity", "entity_id",
                                          "before", "after", "note", "prev_hash", "hash"])


def record(
    session: Unit,
    store_id: int,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    note: str = "",
) -> None:
    """Append one entry to the store's chain, in the caller's transaction (a Session's or the loop's)."""
    session.flush()  # ids of new rows are known before their image is taken
    conn = session.connection()
    head = _LOCK_HEAD.first(conn, {"sid": store_id})
    if head is None:
        _ADD_HEAD.run(conn, {"store_id": store_id, "seq": 0, "hash": GENESIS})
        seq, prev = 0, GENESIS
    else:
        seq, prev = head
    # A plain row, not an AuditEntry: building the model instance cost more than hashing and writing it.
    row = {"store_id": store_id, "seq": seq + 1, "at": utcnow(), "user_id": actor.user_id, "actor": actor.name,
           "action": action, "entity": entity, "entity_id": str(entity_id), "before": _plain(before),
           "after": _plain(after), "note": note, "prev_hash": prev}
    row["hash"] = _hash_of(**row)
    _ADD_ENTRY.run(conn, row)
    _MOVE_HEAD.run(conn, {"sid": store_id, "new_seq": row["seq"], "new_hash": row["hash"]})


def record_row(session: Unit, store_id: int, actor: Actor, action: str, row: SQLModel,
               before: dict[str, Any] | None = None, note: str = "") -> None:
    """Audit a row written through the ORM: its table and id, the image before, the image now."""
    session.flush()
    record(session, store_id, actor, action, table_of(type(row)).name, key_of(row), before, snapshot(row), note)


@dataclass
class VerifyReport:
    store_id: int
    entries: int = 0
    rows_checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, store_id: int) -> VerifyReport:
    report = VerifyReport(store_id)
    prev_hash, expected_seq = GENESIS, 1
    latest: dict[tuple[str, str], AuditEntry] = {}
    entries = session.exec(select(AuditEntry).where(AuditEntry.store_id == store_id).order_by(col(AuditEntry.seq)))
    for e in entries:
        report.entries += 1
        if e.seq != expected_seq:
            report.problems.append({"kind": "gap", "entry_id": e.id, "seq": e.seq, "expected_seq": expected_seq,
                                    "zh": f"审计记录序号不连续：应为 {expected_seq}，实为 {e.seq}",
                                    "en": f"audit sequence gap: expected {expected_seq}, found {e.seq}"})
        if e.prev_hash != prev_hash:
            report.problems.append({"kind": "chain", "entry_id": e.id, "seq": e.seq,
                                    "zh": f"审计记录 #{e.seq} 与前一条的链接被破坏",
                                    "en": f"audit entry #{e.seq} does not link to the entry before it"})
        if _entry_hash(e) != e.hash:
            report.problems.append({"kind": "altered_entry", "entry_id": e.id, "seq": e.seq,
                                    "zh": f"审计记录 #{e.seq}（{e.action}）内容被改动",
                                    "en": f"audit entry #{e.seq} ({e.action}) was altered"})
        prev_hash, expected_seq = e.hash, e.seq + 1
        if e.entity in ROW_AUDITED:
            latest[(e.entity, e.entity_id)] = e
    head = session.get(AuditHead, store_id)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        report.problems.append({"kind": "truncated", "seq": head.seq,
                                "zh": "审计记录末尾被删除或替换", "en": "the end of the audit chain was removed or replaced"})
    _verify_rows(session, store_id, latest, report)
    _verify_balances(session, store_id, report)
    return report


def _verify_balances(session: Session, store_id: int, report: VerifyReport) -> None:
    """Every batch balance equals the sum of its ledger movements (ST-02: the ledger is the truth)."""
    ledger = {(b, loc): int(q) for b, loc, q in session.exec(
        select(StockMovement.batch_id, StockMovement.location, func.sum(StockMovement.qty))
        .where(StockMovement.store_id == store_id).group_by(col(StockMovement.batch_id), col(StockMovement.location)))}
    kept = {(b, loc): q for b, loc, q in session.exec(
        select(BatchBalance.batch_id, BatchBalance.location, BatchBalance.qty).where(BatchBalance.store_id == store_id))}
    for key in sorted(set(ledger) | set(kept)):
        if ledger.get(key, 0) != kept.get(key, 0):
            report.problems.append({
                "kind": "balance_mismatch", "table": "batch_balance", "row_id": f"{key[0]}/{key[1]}",
                "ledger": ledger.get(key, 0), "balance": kept.get(key, 0),
                "zh": f"批次 #{key[0]}（{key[1]}）库存 {kept.get(key, 0)} 与流水合计 {ledger.get(key, 0)} 不符",
                "en": f"batch #{key[0]} ({key[1]}) holds {kept.get(key, 0)} but its movements add up to {ledger.get(key, 0)}"})


def _changed_columns(model: type[SQLModel], now: dict[str, Any], image: dict[str, Any]) -> list[str]:
    """The row's columns that differ from its audited image.

    The image may carry more than the row (a prescription's lines). A column the image lacks counts as
    changed unless it still holds the model's default: a row last audited before a migration added that
    column is not flagged, while a value written into it behind the service's back is.
    """
    fields = model.model_fields
    return sorted(k for k, v in now.items()
                  if (image[k] != v if k in image else k in fields and _plain(fields[k].default) != v))


def _verify_rows(session: Session, store_id: int, latest: dict[tuple[str, str], AuditEntry],
                 report: VerifyReport) -> None:
    for table, model in ROW_AUDITED.items():
        columns = table_of(model).c
        scope = columns.id == store_id if table == "store" else columns.store_id == store_id
        seen: set[str] = set()
        for row, key in session.exec(select(model, columns.id).where(scope).order_by(columns.id)):
            report.rows_checked += 1
            rid = str(key)
            seen.add(rid)
            entry = latest.get((table, rid))
            if entry is None:
                report.problems.append({"kind": "unaudited_row", "table": table, "row_id": rid,
                                        "zh": f"{table} #{rid} 没有审计记录（疑似直接改库）",
                                        "en": f"{table} #{rid} has no audit entry (written behind the service's back)"})
            elif entry.after is None:
                report.problems.append({"kind": "deleted_row_present", "table": table, "row_id": rid,
                                        "zh": f"{table} #{rid} 已记录删除但仍存在",
                                        "en": f"{table} #{rid} was recorded deleted but exists"})
            elif changed := _changed_columns(model, snapshot(row), entry.after):
                report.problems.append({"kind": "altered_row", "table": table, "row_id": rid, "columns": changed,
                                        "zh": f"{table} #{rid} 的 {'、'.join(changed)} 与审计记录不符（疑似直接改库）",
                                        "en": f"{table} #{rid}: {', '.join(changed)} differ from the audited image "
                                              f"(edited behind the service's back)"})
        for (t, rid), entry in latest.items():
            if t == table and rid not in seen and entry.after is not None:
                report.problems.append({"kind": "missing_row", "table": table, "row_id": rid,
                                        "zh": f"{table} #{rid} 被删除但没有审计记录",
                                        "en": f"{table} #{rid} is gone without an audit entry"})
