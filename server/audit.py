"""The hash-chained audit log (ST-02, SEC-04, RX-08).

Every business write calls `record` inside its own unit of work, so the entry commits with the
change or not at all. Each entry's hash covers the previous entry's hash; `verify` recomputes the
chain and also compares every row of every business table with its last audited image, so an edit
made behind the service's back (raw SQL) is named — table, row, columns — whether it touched the log
or the data. An entry carries the image of its own row (entity, entity_id) and, under the keys of
NESTED, the images of the rows written with it (a sale's lines, tenders, stock movements, receipt);
rows of an append-only table may be imaged without their id and are then matched by content. What
changes without an entry of its own is checked against the rows it derives from (a batch's balance,
a sale's total, the day's sale numbers, a trace code's "sold"). The chain's head (`head`) is the
anchor kept outside the database — printed on the Z report, kept with the backup — that shows a
rewrite of the whole chain: `verify(..., anchors=...)`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Engine, bindparam, func
from sqlalchemy import case as sa_case
from sqlalchemy import insert as sa_insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.main import default_registry

from catalog.codes import mask_id  # (server.privacy's rule; it logs reads through this module)
from server import evidence
from server.db.models import (
    AuditEntry,
    AuditHead,
    DayCounter,
    EprxDownload,
    InsuranceMessage,
    InsuranceMsgidCounter,
    RxAttachment,
    Sale,
    SaleInsured,
    SaleLine,
    SaleStatus,
    SaleTraceCode,
)
from server.db.models.base import key_of, table_of
from server.db.models.documents import IssuedDocument  # audit verify checks a kept copy against its sha256
from server.db.models.ledger import BatchBalance, StockMovement  # audit verify recomputes the balances
from server.db.models.money import ReportSubmission  # audit verify checks a submitted file against its sha256
from server.db.prepared import Prepared
from server.db.types import utcnow
from server.db.uow import Reader, Unit, orm

GENESIS = "0" * 64

# Every table whose rows verify compares with the log (all keyed by one `id` column): server.evidence says which
# (the reference tables, written through the ORM, one entry per row change; the business records, verified row by
# row since the revision their `since` names). A row written before that revision and not imaged since is
# "legacy": counted, not judged (the revision's audit.coverage entry says which).
_MODELS: dict[str, type[SQLModel]] = {table_of(m.class_).name: m.class_ for m in default_registry.mappers}
ROW_AUDITED: dict[str, type[SQLModel]] = {t: _MODELS[t] for t in evidence.tables(evidence.Verified.ROWS)}
_SINCE: dict[str, str] = {t: e.since for t, e in evidence.TABLES.items() if e.since}
COVERAGE = "audit.coverage"  # the entry a migration (0011, 0016) wrote in a store that had data: where verifying began
# The entry migration 0017 wrote where it backfilled the stock ledger's new columns: each movement's image as it
# is now, by id; an image of the row from before (without its id, so matched by content) is its old self.
REVALUE = "stock.revalue"

# Rows an entry images besides its own, by the entity it is about: key of the image -> table of the rows.
# A list of images (or one, or `compact`'s form) under that key; an image without "id" is matched by content;
# an entry whose `after` is None deleted its row and the rows imaged under these keys in its `before`.
NESTED: dict[str, dict[str, str]] = {
    "sale": {"lines": "sale_line", "tenders": "tender", "movements": "stock_movement", "print_jobs": "print_job"},
    "sale_line": {"trace_codes": "sale_trace_code"},  # a line taken off the basket takes its codes
    "sale_return": {"lines": "sale_return_line", "refunds": "refund", "movements": "stock_movement",
                    "trace_codes": "sale_trace_code"},
    "prescription": {"lines": "prescription_line", "review": "rx_review"},
    "receipt": {"lines": "receipt_line", "trace_codes": "receipt_trace_code", "batches": "batch",
                "movements": "stock_movement"},
    "count_sheet": {"lines": "count_line", "movements": "stock_movement"},
    "stock_loss": {"lines": "stock_loss_line", "movements": "stock_movement"},
    "upkeep": {"lines": "upkeep_line"},
    "supplier_return": {"lines": "supplier_return_line", "movements": "stock_movement"},
    "period_close": {"snapshot": "period_snapshot"},
    "label_run": {"shelf_labels": "shelf_label"},
    "stock_transfer": {"lines": "stock_transfer_line", "movements": "stock_movement"},
    "transfer_receipt": {"lines": "transfer_receipt_line", "batches": "batch", "movements": "stock_movement"},
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


def digest(value: Any) -> str:
    """A column the log keeps by digest (__audit_digest__): SHA-256 of its bytes, or of its canonical JSON."""
    raw = value if isinstance(value, bytes) else json.dumps(
        _plain(value), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def image(model: type[SQLModel], values: dict[str, Any]) -> dict[str, Any]:
    """The audited image of a row given as its column values (an ORM row's, or a Core row's): every column
    but the ones the model excludes, JSON-plain, identity numbers masked (SEC-06: the log is shown to
    managers and inspectors), bulky columns by digest."""
    keys, masked, digested = _rules(model)
    out: dict[str, Any] = {}
    for key in keys:
        if key in values:
            value = values[key]
            out[key] = mask_id(value) if key in masked else digest(value) if key in digested else _plain(value)
    return out


_RULES: dict[type[SQLModel], tuple[tuple[str, ...], frozenset[str], frozenset[str]]] = {}


def _rules(model: type[SQLModel]) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
    """The model's imaged columns, masked ones and digested ones (read once per model)."""
    rules = _RULES.get(model)
    if rules is None:
        exclude = set(getattr(model, "__audit_exclude__", ()))
        rules = _RULES[model] = (tuple(c.key for c in sa_inspect(model).column_attrs if c.key not in exclude),
                                 frozenset(getattr(model, "__audit_mask__", ())),
                                 frozenset(getattr(model, "__audit_digest__", ())))
    return rules


def snapshot(row: SQLModel) -> dict[str, Any]:
    """The row's audited image (see `image`)."""
    model = type(row)
    return image(model, {key: getattr(row, key) for key in _rules(model)[0]})


def row_image(row: dict[str, Any]) -> dict[str, Any]:
    """snapshot() of a row read through Core, for a table with no column excluded, masked or digested (a sale)."""
    plain: dict[str, Any] = _plain(row)
    return plain


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
    # Authorised in place: the person logged in at the till where this actor typed their PIN (SEC-01). Every
    # entry the actor writes then names both (`in_place` in its image after).
    till_user: Actor | None = None


def _in_place(actor: Actor, after: dict[str, Any] | None) -> dict[str, Any] | None:
    """The image after, with who authorised and who was logged in at the till, when they are not one person.
    A key that is no column: verify compares a row's columns only, so the image stays the row's."""
    if actor.till_user is None or after is None:
        return after
    return after | {"in_place": {"authorised_by_id": actor.user_id, "authorised_by": actor.name,
                                 "till_user_id": actor.till_user.user_id, "till_user": actor.till_user.name}}


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
           "after": _plain(_in_place(actor, after)), "note": note, "prev_hash": prev}
    row["hash"] = _hash_of(**row)
    _ADD_ENTRY.run(conn, row)
    _MOVE_HEAD.run(conn, {"sid": store_id, "new_seq": row["seq"], "new_hash": row["hash"]})


def record_row(session: Unit, store_id: int, actor: Actor, action: str, row: SQLModel,
               before: dict[str, Any] | None = None, note: str = "") -> None:
    """Audit a row written through the ORM: its table and id, the image before, the image now."""
    session.flush()
    record(session, store_id, actor, action, table_of(type(row)).name, key_of(row), before, snapshot(row), note)


# --- the anchor: the chain's head, kept outside the database ------------------------------------------------

_ANCHOR = re.compile(r"^\s*#?(\d+)\s*[:/ ]\s*([0-9a-fA-F]{16,64})\s*$")
ANCHOR_MIN_HEX = 16  # 64 bits: what the Z report prints of the hash (a forged chain would have to match it)


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain's head at a moment: its last entry's number and hash (or the first ANCHOR_MIN_HEX+ hex digits
    of it, as printed). Written down outside the database, it shows a rewrite of the whole chain since."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """"1234:9f86d081884c7d65…" as `head` gives it and the Z report prints it (a space or "/" also separates)."""
        m = _ANCHOR.match(text)
        if m is None:
            raise ValueError(f"not an audit anchor (seq:hash, at least {ANCHOR_MIN_HEX} hex digits): {text!r}")
        return cls(int(m.group(1)), m.group(2).lower())


def head(session: Reader, store_id: int) -> Anchor:
    """The store's chain head as the caller's transaction sees it: what the Z report prints, and what a backup
    keeps beside the database (issue #22: the backup calls this)."""
    row = session.connection().execute(sa_select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.store_id == store_id)).first()
    return Anchor(0, GENESIS) if row is None else Anchor(int(row.seq), str(row.hash))


# --- verify ---------------------------------------------------------------------------------------------------

@dataclass
class VerifyReport:
    store_id: int
    entries: int = 0
    rows_checked: int = 0
    legacy_rows: int = 0  # rows written before their table was verified row by row (0011, 0016), not imaged since
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Images:
    """What the chain says each row should be: by id (seq of the entry, image; None once deleted) and, for rows
    imaged without their id, by content (seq, image)."""

    by_id: dict[str, dict[str, tuple[int, dict[str, Any] | None]]] = field(default_factory=lambda: defaultdict(dict))
    by_content: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    # table -> the seq of the audit.coverage entry of the revision from which it is verified row by row (absent:
    # the store had no data before that revision)
    coverage_seq: dict[str, int] = field(default_factory=dict)
    covered_from: dict[str, int] = field(default_factory=dict)  # table -> its last id before that revision
    # table -> (seq, the row's image now, the columns the revision filled): REVALUE's rows
    revalued: dict[str, list[tuple[int, dict[str, Any], list[str]]]] = field(default_factory=lambda: defaultdict(list))

    def legacy(self, table: str, seq: int) -> bool:
        """An image older than the coverage: of a table not verified row by row then (not judged)."""
        return seq < self.coverage_seq.get(table, 0)

    def add(self, e: AuditEntry) -> None:
        if e.action == COVERAGE and e.after:
            revision = str(e.after.get("revision", "0011"))  # 0011's entry names no revision
            self.coverage_seq.update({t: e.seq for t, since in _SINCE.items() if since == revision})
            self.covered_from.update({str(t): int(i) for t, i in (e.after.get("tables") or {}).items()
                                      if i is not None})
            return
        if e.action == REVALUE and e.after:
            columns = [str(c) for c in e.after.get("columns") or ()]
            for img in _listed(e.after.get("movements")):
                self._set("stock_movement", str(img["id"]), e.seq, img)
                self.revalued["stock_movement"].append((e.seq, img, columns))
            return
        if e.entity == "sale_line" and e.action.startswith("sale.trace_code"):
            return  # before migration 0011 a trace code's entry named its sale line, with the code's fields
        nested = NESTED.get(e.entity, {})
        if e.after is None:
            if e.entity in ROW_AUDITED:
                self._set(e.entity, e.entity_id, e.seq, None)
            for key, table in nested.items():
                for img in _listed((e.before or {}).get(key)):
                    if "id" in img:
                        self._set(table, str(img["id"]), e.seq, None)
            return
        if e.entity in ROW_AUDITED:
            self._set(e.entity, e.entity_id, e.seq, e.after)
        for key, table in nested.items():
            for img in _listed(e.after.get(key)):
                if "id" in img:
                    self._set(table, str(img["id"]), e.seq, img)
                else:
                    self.by_content[table].append((e.seq, img))

    def _set(self, table: str, rid: str, seq: int, img: dict[str, Any] | None) -> None:
        # An entry about a row may image only what it changed (a print job's retry: its status): on top of the last.
        prev = self.by_id[table].get(rid)
        self.by_id[table][rid] = (seq, img if img is None or prev is None or prev[1] is None else prev[1] | img)


def compact(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | dict[str, Any]:
    """Images of rows written together, for an entry's NESTED key, with what they share written once:
    {"same": {...}, "each": [{...}, ...]} (a sale's stock movements share their time, kind, user, location …);
    fewer than two rows as they are. Smaller to hash and store on the completion's path; read back by verify."""
    if len(rows) < 2:
        return rows
    first = rows[0]
    try:
        shared = first.items() & rows[1].items()
        for r in rows[2:]:
            shared &= r.items()
        same = {k: v for k, v in first.items() if (k, v) in shared}
    except TypeError:  # an unhashable value (a JSON document): as they are
        return rows
    return {"same": same, "each": [{k: v for k, v in r.items() if k not in same} for r in rows]}


def _listed(value: Any) -> list[dict[str, Any]]:
    """The images under a NESTED key: a list of them, one (a prescription's review), or `compact`'s form; other
    values (an entry written before migration 0011 listed a removed line's codes as strings) carry no image."""
    if isinstance(value, dict) and value.keys() == {"same", "each"}:
        return [value["same"] | e for e in value["each"] if isinstance(e, dict)]
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, dict)]


def verify(session: Session, store_id: int, anchors: Sequence[Anchor] = ()) -> VerifyReport:
    """The chain (links, numbering, the head, the anchors written down earlier), every business row against its
    last image, and what derives from other rows. Each problem names what it found: `kind`, the table and
    row, the columns, a message in Chinese and English.

    Read in one snapshot while the service goes on writing: SQLite's read transaction is one; PostgreSQL's
    default (read committed) is not, so there it reads on a connection of its own at repeatable read."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, Engine):
        with bind.connect() as conn, Session(bind=conn.execution_options(isolation_level="REPEATABLE READ",
                                                                          postgresql_readonly=True)) as snap:
            return _verify(snap, store_id, anchors)
    return _verify(session, store_id, anchors)


def _verify(session: Session, store_id: int, anchors: Sequence[Anchor]) -> VerifyReport:
    report = VerifyReport(store_id)
    prev_hash, expected_seq = GENESIS, 1
    images = _Images()
    wanted = {a.seq: a for a in anchors}
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
        if (anchor := wanted.pop(e.seq, None)) is not None and not e.hash.startswith(anchor.hash):
            report.problems.append(_anchor_problem(anchor))
        prev_hash, expected_seq = e.hash, e.seq + 1
        images.add(e)
    report.problems.extend(_anchor_problem(a, gone=True) for a in wanted.values() if a.seq > 0)
    chain_head = session.get(AuditHead, store_id)
    if chain_head is not None and (chain_head.seq != expected_seq - 1 or chain_head.hash != prev_hash):
        report.problems.append({"kind": "truncated", "seq": chain_head.seq,
                                "zh": "审计记录末尾被删除或替换", "en": "the end of the audit chain was removed or replaced"})
    for table, model in ROW_AUDITED.items():
        _verify_table(session, store_id, table, model, images, report)
    _verify_derived(session, store_id, report)
    return report


def _anchor_problem(anchor: Anchor, gone: bool = False) -> dict[str, Any]:
    where = "已不存在" if gone else "的哈希与之不符"
    return {"kind": "anchor_mismatch", "seq": anchor.seq, "anchor": str(anchor),
            "zh": f"审计链与此前记下的锚点 #{anchor.seq} 不符：该条记录{where}（整条链被改写）",
            "en": f"the audit chain does not match the anchor written down earlier (#{anchor.seq}): "
                  f"{'that entry is gone' if gone else 'its hash differs'} — the chain was rewritten"}


# Columns that lawfully move without an entry of their own while the image says so; verify checks them against
# the rows they derive from instead (_verify_derived): an open basket's total follows its lines.
_DRIFT: dict[str, Any] = {"sale": lambda img: ("total_fen",) if img.get("status") == SaleStatus.OPEN.value else ()}


def _changed_columns(model: type[SQLModel], now: dict[str, Any], img: dict[str, Any],
                     drift: Sequence[str] = ()) -> list[str]:
    """The row's columns that differ from its audited image.

    The image may carry more than the row (a prescription's lines). A column the image lacks counts as
    changed unless it still holds the model's default: a row last audited before a migration added that
    column is not flagged, while a value written into it behind the service's back is.
    """
    fields = model.model_fields
    return sorted(k for k, v in now.items()
                  if k not in drift and (img[k] != v if k in img else k in fields and _plain(fields[k].default) != v))


def _content_key(model: type[SQLModel], img: dict[str, Any]) -> str:
    """An append-only row's image without its id, as a comparable text (a column the image lacks: its default)."""
    fields = model.model_fields
    doc = {k: img[k] if k in img else _plain(fields[k].default) if k in fields else None
           for k in _rules(model)[0] if k != "id"}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _verify_table(session: Session, store_id: int, table: str, model: type[SQLModel], images: _Images,
                  report: VerifyReport) -> None:
    columns = table_of(model).c
    by_id = images.by_id.get(table, {})
    pool: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for seq, img in images.by_content.get(table, ()):
        pool[_content_key(model, img)].append((seq, img))
    for _, img, filled in images.revalued.get(table, ()):
        # the same row imaged before the revision filled its new columns (by content): it is this one
        for key in (_content_key(model, {k: v for k, v in img.items() if k not in filled}), _content_key(model, img)):
            if old := pool.get(key):
                old.pop()
                break
    drift = _DRIFT.get(table)
    last_before = images.covered_from.get(table)
    seen: set[str] = set()
    strays: list[tuple[str, dict[str, Any]]] = []
    scope = columns.id == store_id if table == "store" else columns.store_id == store_id
    for row in session.connection().execute(sa_select(table_of(model)).where(scope).order_by(columns.id)):
        report.rows_checked += 1
        rid = str(row.id)
        seen.add(rid)
        now = image(model, dict(row._mapping))
        found = by_id.get(rid)
        if found is not None:
            seq, last = found
            if images.legacy(table, seq):
                report.legacy_rows += 1
            elif last is None:
                report.problems.append({"kind": "deleted_row_present", "table": table, "row_id": rid,
                                        "zh": f"{table} #{rid} 已记录删除但仍存在",
                                        "en": f"{table} #{rid} was recorded deleted but exists"})
            elif changed := _changed_columns(model, now, last, drift(last) if drift else ()):
                report.problems.append(_altered(table, rid, changed))
            continue
        same = pool.get(_content_key(model, now))
        if same:
            same.pop()
        elif last_before is not None and isinstance(row.id, int) and row.id <= last_before:
            report.legacy_rows += 1
        else:
            strays.append((rid, now))
    for rid, (seq, last) in by_id.items():
        if rid not in seen and last is not None and not images.legacy(table, seq):
            report.problems.append({"kind": "missing_row", "table": table, "row_id": rid, "seq": seq,
                                    "zh": f"{table} #{rid} 被删除但没有审计记录",
                                    "en": f"{table} #{rid} is gone without an audit entry"})
    unmatched = [(seq, img) for left in pool.values() for seq, img in left if not images.legacy(table, seq)]
    for rid, now in strays:
        # A row no image matches: an image no row matches that differs from it in a few columns is the same
        # row edited (the columns are named); otherwise the row was written behind the service's back.
        nearest = min(unmatched, key=lambda si: len(_changed_columns(model, now, si[1], ("id",))), default=None)
        changed = _changed_columns(model, now, nearest[1], ("id",)) if nearest is not None else []
        if nearest is not None and len(changed) * 2 < len(now):
            unmatched.remove(nearest)
            report.problems.append(_altered(table, rid, changed, nearest[0]))
        else:
            report.problems.append({"kind": "unaudited_row", "table": table, "row_id": rid,
                                    "zh": f"{table} #{rid} 没有审计记录（疑似直接改库）",
                                    "en": f"{table} #{rid} has no audit entry (written behind the service's back)"})
    for seq, img in unmatched:
        owner = ", ".join(f"{k} {img[k]}" for k in ("sale_id", "return_id", "ref_type", "ref_id", "batch_id") if k in img)
        report.problems.append({"kind": "missing_row", "table": table, "row_id": None, "seq": seq, "image": img,
                                "zh": f"审计记录 #{seq} 所记的一行 {table}（{owner}）已不存在",
                                "en": f"a {table} row audited by entry #{seq} ({owner}) is gone"})


def _altered(table: str, rid: str, changed: list[str], seq: int | None = None) -> dict[str, Any]:
    return {"kind": "altered_row", "table": table, "row_id": rid, "columns": changed} | (
        {"seq": seq} if seq is not None else {}) | {
        "zh": f"{table} #{rid} 的 {'、'.join(changed)} 与审计记录不符（疑似直接改库）",
        "en": f"{table} #{rid}: {', '.join(changed)} differ from the audited image (edited behind the service's back)"}


# --- what derives from other rows ----------------------------------------------------------------------------

_SALE, _LINE, _CODE, _COUNTER = table_of(Sale), table_of(SaleLine), table_of(SaleTraceCode), table_of(DayCounter)
_SCAN, _INSURED = table_of(RxAttachment), table_of(SaleInsured)
_SUBMISSION = table_of(ReportSubmission)
_ISSUED = table_of(IssuedDocument)
_EPRX = table_of(EprxDownload)
_MESSAGE, _MSGID = table_of(InsuranceMessage), table_of(InsuranceMsgidCounter)
MSGID_LENGTH = 30  # fixmedins_code(12) + yyyyMMddHHmmss(14) + 顺序号(4): server.insurance.msgid


def _verify_derived(session: Session, store_id: int, report: VerifyReport) -> None:
    _verify_balances(session, store_id, report)
    _verify_uploads(session, store_id, report)
    conn = session.connection()
    # A sale's total is the sum of its lines (an open basket's moves with each scan; a final one never).
    lines_sum = (sa_select(func.coalesce(func.sum(_LINE.c.amount_fen), 0)).where(_LINE.c.sale_id == _SALE.c.id)
                 .scalar_subquery())
    for sale_id, total, summed in conn.execute(sa_select(_SALE.c.id, _SALE.c.total_fen, lines_sum)
                                               .where(_SALE.c.store_id == store_id, _SALE.c.total_fen != lines_sum)):
        report.problems.append(_altered("sale", str(sale_id), ["total_fen"]) | {
            "total_fen": total, "lines_fen": int(summed),
            "en": f"sale #{sale_id}: total_fen {total} is not the sum of its lines ({summed})",
            "zh": f"sale #{sale_id} 的合计 {total} 不等于其明细之和 {summed}（疑似直接改库）"})
    # A trace code is "sold" exactly when its sale completed (the completion marks them all).
    completed = sa_case((_SALE.c.status == SaleStatus.COMPLETED.value, True), else_=False)
    for code_id, in conn.execute(sa_select(_CODE.c.id).join(_SALE, _SALE.c.id == _CODE.c.sale_id)
                                 .where(_CODE.c.store_id == store_id, _CODE.c.sold != completed)):
        report.problems.append(_altered("sale_trace_code", str(code_id), ["sold"]))
    # The day's counter is the number of sales numbered that day, gap-free from 1.
    numbered = {day: (int(n), int(top)) for day, n, top in conn.execute(
        sa_select(_SALE.c.business_date, func.count(), func.max(_SALE.c.day_no))
        .where(_SALE.c.store_id == store_id, _SALE.c.business_date.is_not(None)).group_by(_SALE.c.business_date))}
    counters = {day: int(last) for day, last in conn.execute(
        sa_select(_COUNTER.c.business_date, _COUNTER.c.last_no).where(_COUNTER.c.store_id == store_id))}
    for day in sorted(set(numbered) | set(counters)):
        count, top = numbered.get(day, (0, 0))
        if not count == top == counters.get(day, 0):
            report.problems.append({
                "kind": "counter_mismatch", "table": "day_counter", "row_id": f"{store_id}/{day}",
                "last_no": counters.get(day), "sales": count, "highest_no": top,
                "zh": f"{day} 的销售单号计数 {counters.get(day)} 与当日 {count} 笔销售（最大号 {top}）不符",
                "en": f"the sale numbers of {day}: counter at {counters.get(day)}, {count} sales numbered up to {top}"})
    _verify_msgid_counter(conn, store_id, report)
    # A prescription's scan is the bytes its audited digest names (RX-08).
    for scan_id, data, sha in conn.execute(sa_select(_SCAN.c.id, _SCAN.c.data, _SCAN.c.sha256)
                                           .where(_SCAN.c.store_id == store_id)):
        if hashlib.sha256(data).hexdigest() != sha:
            report.problems.append(_altered("rx_attachment", str(scan_id), ["data"]))
    # An electronic prescription's download is the text its audited digest names (RX-08, issue #23).
    for dl_id, body, sha in conn.execute(sa_select(_EPRX.c.id, _EPRX.c.body, _EPRX.c.sha256)
                                         .where(_EPRX.c.store_id == store_id)):
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != sha:
            report.problems.append(_altered("eprx_download", str(dl_id), ["body"]))
    # A signed purchase list's pad image is the bytes its audited digest names (CARD-05, RX-08).
    for insured_id, data, sha in conn.execute(
            sa_select(_INSURED.c.id, _INSURED.c.signature_image, _INSURED.c.signature_sha256)
            .where(_INSURED.c.store_id == store_id,
                   (_INSURED.c.signature_image.is_not(None)) | (_INSURED.c.signature_sha256 != ""))):
        if data is None or hashlib.sha256(data).hexdigest() != sha:
            report.problems.append(_altered("sale_insured", str(insured_id), ["signature_image"]))
    # A report handed in is the bytes its audited sha256 names (ST-04).
    for sub_id, data, sha in conn.execute(sa_select(_SUBMISSION.c.id, _SUBMISSION.c.content, _SUBMISSION.c.sha256)
                                          .where(_SUBMISSION.c.store_id == store_id)):
        if hashlib.sha256(data).hexdigest() != sha:
            report.problems.append(_altered("report_submission", str(sub_id), ["content"]))
    # A stock document's printed copy is the bytes its audited sha256 names (ST-02, issue #19).
    for doc_id, data, sha in conn.execute(sa_select(_ISSUED.c.id, _ISSUED.c.content, _ISSUED.c.sha256)
                                          .where(_ISSUED.c.store_id == store_id)):
        if hashlib.sha256(data).hexdigest() != sha:
            report.problems.append(_altered("issued_document", str(doc_id), ["content"]))


def _verify_msgid_counter(conn: Any, store_id: int, report: VerifyReport) -> None:
    """The msgid counter is at or past every msgid the message log holds (their stamp and sequence, fixed widths:
    the string order is the numeric order). A counter set back, or deleted, would hand out a msgid again — and a
    reversal (2601) names the settlement it undoes by msgid."""
    logged = conn.execute(sa_select(func.max(func.substr(_MESSAGE.c.msgid, 13)))
                          .where(_MESSAGE.c.store_id == store_id, func.length(_MESSAGE.c.msgid) == MSGID_LENGTH)
                          ).scalar()
    if logged is None:
        return
    row = conn.execute(sa_select(_MSGID.c.stamp, _MSGID.c.seq).where(_MSGID.c.store_id == store_id)).first()
    counter = None if row is None else f"{row.stamp}{int(row.seq):04d}"
    if counter is None or counter < logged:
        report.problems.append({
            "kind": "counter_mismatch", "table": "insurance_msgid_counter", "row_id": str(store_id),
            "counter": counter, "highest_logged": logged,
            "zh": f"报文流水号计数器（{counter or '缺失'}）落后于报文日志中已用的 {logged}（疑似直接改库）",
            "en": f"the msgid counter ({counter or 'missing'}) is behind the message log's {logged} "
                  "(set back behind the service's back)"})


def _verify_uploads(session: Session, store_id: int, report: VerifyReport) -> None:
    """Each row of the uploads' outbox that comes from a stock movement says what its movement says: the batch, the
    item and the quantity (ST-06: what the centre is told is the ledger, not an edit of it)."""
    from server.db.models.uploads import UploadOutbox

    out, mv = table_of(UploadOutbox), table_of(StockMovement)
    for row_id, in session.connection().execute(
            sa_select(out.c.id).join(mv, mv.c.id == out.c.movement_id)
            .where(out.c.store_id == store_id,
                   (out.c.batch_id != mv.c.batch_id) | (out.c.item_id != mv.c.item_id)
                   | (out.c.qty != func.abs(mv.c.qty)))):
        report.problems.append({
            "kind": "upload_mismatch", "table": "upload_outbox", "row_id": str(row_id),
            "zh": f"上传队列 #{row_id} 与其库存流水不符（疑似直接改库）",
            "en": f"upload_outbox #{row_id} does not say what its stock movement says"})


def _verify_balances(session: Session, store_id: int, report: VerifyReport) -> None:
    """Every batch balance equals the sum of its ledger movements, in quantity and in cost on hand (ST-02: the
    ledger is the truth)."""
    ledger = {(b, loc): (int(q), int(c)) for b, loc, q, c in session.exec(
        select(StockMovement.batch_id, StockMovement.location, func.sum(StockMovement.qty),
               func.sum(StockMovement.cost_fen))
        .where(StockMovement.store_id == store_id).group_by(col(StockMovement.batch_id), col(StockMovement.location)))}
    kept = {(b, loc): (q, c) for b, loc, q, c in session.exec(
        select(BatchBalance.batch_id, BatchBalance.location, BatchBalance.qty, BatchBalance.cost_fen)
        .where(BatchBalance.store_id == store_id))}
    for key in sorted(set(ledger) | set(kept)):
        (lq, lc), (kq, kc) = ledger.get(key, (0, 0)), kept.get(key, (0, 0))
        if lq != kq:
            report.problems.append({
                "kind": "balance_mismatch", "table": "batch_balance", "row_id": f"{key[0]}/{key[1]}",
                "ledger": lq, "balance": kq,
                "zh": f"批次 #{key[0]}（{key[1]}）库存 {kq} 与流水合计 {lq} 不符",
                "en": f"batch #{key[0]} ({key[1]}) holds {kq} but its movements add up to {lq}"})
        if lc != kc:
            report.problems.append({
                "kind": "balance_cost_mismatch", "table": "batch_balance", "row_id": f"{key[0]}/{key[1]}",
                "ledger": lc, "balance": kc,
                "zh": f"批次 #{key[0]}（{key[1]}）库存成本 {kc} 分与流水成本合计 {lc} 分不符",
                "en": f"batch #{key[0]} ({key[1]}) holds stock costing {kc} fen but its movements' cost adds up to {lc}"})
