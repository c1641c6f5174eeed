"""The uploads' outbox (ST-01, ST-06): the one writer of `upload_outbox`, on the floor every wing stands on.

Every fact the insurance centre must hear of (3501 盘存, 3502 库存变更, 3503 采购, 3504 采购退货, 3505 销售, 3506
销售退货, 3507 删除) is written here in the SAME transaction as the event itself — the stock ledger calls
`from_ledger` right after it appends movements (one hook, where every movement is written), a count's posting
calls `inventory` — and sent later by the uploads worker (server.workers.uploads), never inside a transaction.

- One row per fact. Its key is our document line: the stock movement it comes from ("m<id>:<txn>"), a count
  line ("c<id>"), a deletion ("x<movement>:<data type>"), a re-send after a deletion ("<key>/<3507 row>"). A
  retry sends the same row again (same msgid, same frozen payload): the centre deduplicates, no fact twice.
- `fixmedins_bchno` is the batch's own serial (batch.batch_no), never the manufacturer's lot: 3507 deletes by it.
- A correction of a movement (`corrects_id`) goes out as a 3507 for the batch and data type (the centre deletes
  all of that batch's rows of that type), then every fact of that batch and type that still stands, re-sent.
  Nothing of a batch is sent while an earlier 3507 of it is not accepted (it would be deleted by it).
- Only items mapped to the national code (item.nhsa_code) are reported: the centre knows no other.

Rows are written by Core statements only (the units of work refuse ORM writes to the table): the sale's
completion runs on the event loop's unit, where there is no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from server.db.models import Item
from server.db.models.base import table_of
from server.db.models.uploads import UploadOutbox, UploadState
from server.db.prepared import Prepared, PreparedIn
from server.db.uow import Reader, Unit, refuse_orm_writes
from server.rules.movements import TYPES, Upload
from server.services.context import Ctx

refuse_orm_writes(UploadOutbox)

OUT: sa.Table = table_of(UploadOutbox)
_ITEM: sa.Table = table_of(Item)

TXNS = ("3501", "3502", "3503", "3504", "3505", "3506", "3507")
DELETE = "3507"
RETAIL_TXNS = ("3505", "3506")  # summed at the price sold
COST_TXNS = ("3502", "3503", "3504")  # summed at cost
DATA_TYPE = {"3501": "1", "3502": "2", "3503": "3", "3504": "3", "3505": "4", "3506": "4"}  # 3507 inv_data_type
TXNS_OF = {"1": ("3501",), "2": ("3502",), "3": ("3503", "3504"), "4": ("3505", "3506")}
TXN_ZH = {"3501": "商品盘存", "3502": "库存变更", "3503": "商品采购", "3504": "采购退货", "3505": "商品销售",
          "3506": "销售退货", "3507": "商品信息删除", "7204": "电子处方审方信息上传", "7206": "电子处方核销",
          "7207": "电子处方销售出库明细",
          "7208": "电子处方销售出库撤销"}

_UPLOADED: dict[str, Upload] = {k.value: t.upload for k, t in TYPES.items() if t.upload is not None}


class MovementLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def ref_type(self) -> str: ...
    @property
    def ref_id(self) -> str: ...
    @property
    def batch_id(self) -> int: ...
    @property
    def item_id(self) -> int: ...
    @property
    def corrects_id(self) -> int | None: ...


# --- written with the event ----------------------------------------------------------------------------------

def _lit(text: str) -> Any:
    """A constant rendered in the SQL itself: the statement runs with every sale, and a bound parameter per WHEN
    and THEN costs more than the rows it writes."""
    return sa.literal_column("'" + text.replace("'", "''") + "'", sa.String)


def _from_movements(m: sa.Table, kind: str, also: bool) -> PreparedIn:
    """INSERT … SELECT of the outbox rows of one document's movements of one kind (ref_type, the ref ids listed)
    that have none yet: its transaction, change type and amount fixed in the statement by the kind
    (server.rules.movements, the one list); `also`: the first inventory's extra 3502 (106). One statement per kind,
    its constants in the SQL: the sale's completion runs it with every sale, and a CASE over every kind per row
    and per column cost more than the rows it writes."""
    upload = _UPLOADED[kind]
    txn = "3502" if also else upload.txn
    chg = (upload.also_3502 if also else upload.inv_chg_type) or ""
    if txn == "3501":
        amount: Any = sa.literal_column("0")
    elif txn in RETAIL_TXNS:
        amount = sa.func.abs(m.c.retail_fen)
    else:
        amount = sa.func.abs(m.c.cost_fen)
    key = _lit("m") + sa.cast(m.c.id, sa.String) + _lit(":" + txn)
    done = sa.exists().where(OUT.c.movement_id == m.c.id, OUT.c.txn == _lit(txn))
    columns = ["store_id", "key", "txn", "inv_chg_type", "inv_data_type", "movement_id", "ref_type", "ref_id",
               "batch_id", "item_id", "qty", "amount_fen", "business_date", "created_at", "state", "attempts",
               "next_at", "msgid", "payload", "last_error", "centre_message"]

    def build(binds: list[Any]) -> Any:
        rows = (sa.select(m.c.store_id, key, _lit(txn), _lit(chg), _lit(""), m.c.id, m.c.ref_type, m.c.ref_id,
                          m.c.batch_id, m.c.item_id, sa.func.abs(m.c.qty), amount, m.c.business_date, m.c.at,
                          _lit(UploadState.PENDING.value), sa.literal_column("0"), m.c.at, _lit(""),
                          _lit("{}"), _lit(""), _lit(""))
                .join(_ITEM, _ITEM.c.id == m.c.item_id)
                # the store's id compared as an expression (+ 0): no index on it is used, so the planner takes the
                # document's (ref_type, ref_id) — on the store's id alone SQLite scanned the store's whole ledger per
                # sale (0.30 ms CPU at 1,200 movements, growing with every sale; 0.04 ms by the document's index)
                .where((m.c.store_id + sa.literal_column("0")) == sa.bindparam("sid"),
                       m.c.ref_type == sa.bindparam("rt"), m.c.ref_id.in_(binds), m.c.kind == _lit(kind),
                       m.c.corrects_id.is_(None), _ITEM.c.nhsa_code.is_not(None), _ITEM.c.nhsa_code != _lit(""),
                       ~done))
        return sa.insert(OUT).from_select(columns, rows)

    return PreparedIn(build)


_STATEMENTS: dict[tuple[int, str, bool], PreparedIn] = {}


def _statement(movement: sa.Table, kind: str, also: bool) -> PreparedIn:
    key = (id(movement), kind, also)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _from_movements(movement, kind, also)
    return _STATEMENTS[key]


def from_ledger(u: Unit, ctx: Ctx, moves: Sequence[MovementLike], movement: sa.Table) -> None:
    """The outbox rows of movements just appended (the stock ledger's hook: `movement` is its table), in its
    transaction. A correction (corrects_id) goes out as a 3507 and the batch's standing facts re-sent."""
    refs: dict[tuple[str, str], set[str]] = {}
    for mv in moves:
        if mv.corrects_id is None and mv.kind in _UPLOADED:
            refs.setdefault((mv.ref_type, mv.kind), set()).add(mv.ref_id)
    if refs:
        conn = u.connection()
        for (ref_type, kind), ids in refs.items():
            values = sorted(ids)
            params = {"sid": ctx.store_id, "rt": ref_type}
            _statement(movement, kind, False).run(conn, values, params)
            if _UPLOADED[kind].also_3502:
                _statement(movement, kind, True).run(conn, values, params)
    for mv in moves:
        if mv.corrects_id is not None and mv.kind in _UPLOADED:
            after_correction(u, ctx, mv, movement)


_ADD = Prepared(sa.insert(OUT).returning(OUT.c.id),
                ["store_id", "key", "txn", "inv_chg_type", "inv_data_type", "movement_id", "ref_type", "ref_id",
                 "batch_id", "item_id", "qty", "amount_fen", "business_date", "created_at", "after_id", "replaces_id",
                 "state", "attempts", "next_at", "msgid", "payload", "last_error", "centre_message"])


def _row(ctx: Ctx, key: str, txn: str, batch_id: int, item_id: int, **more: Any) -> dict[str, Any]:
    return {"store_id": ctx.store_id, "key": key, "txn": txn, "inv_chg_type": "", "inv_data_type": "",
            "movement_id": None, "ref_type": "", "ref_id": "", "batch_id": batch_id, "item_id": item_id, "qty": 0,
            "amount_fen": 0, "business_date": ctx.today, "created_at": ctx.now, "after_id": None, "replaces_id": None,
            "state": UploadState.PENDING.value, "attempts": 0, "next_at": ctx.now, "msgid": "", "payload": {},
            "last_error": "", "centre_message": ""} | more


def _mapped(u: Unit, item_ids: Sequence[int]) -> set[int]:
    if not item_ids:
        return set()
    q = sa.select(_ITEM.c.id).where(_ITEM.c.id.in_(sorted(set(item_ids))), _ITEM.c.nhsa_code.is_not(None),
                                    _ITEM.c.nhsa_code != "")
    return {int(i) for i in u.connection().execute(q).scalars()}


def inventory(u: Unit, ctx: Ctx, counted: Sequence[tuple[str, int, int, int]], ref_type: str = "count_line") -> int:
    """3501 盘存: what a count found per batch — (document line id, batch id, item id, qty counted in split units) —
    written with the count's posting. The rows written."""
    mapped = _mapped(u, [c[2] for c in counted])
    rows = [_row(ctx, f"c{ref_id}", "3501", batch_id, item_id, ref_type=ref_type, ref_id=str(ref_id), qty=qty)
            for ref_id, batch_id, item_id, qty in counted if item_id in mapped]
    conn = u.connection()
    for row in rows:
        _ADD.scalar(conn, row)
    return len(rows)


def platform(u: Unit, ctx: Ctx, key: str, txn: str, batch_id: int, item_id: int, ref_type: str, ref_id: str,
             qty: int, amount_fen: int, payload: dict[str, Any], after_id: int | None = None) -> int | None:
    """A message to the prescription platform (issue #23): the pharmacist's review (7204), written with the review;
    a sale's report (7206/7207; 7208 or 7206 flagged on a return), written with the sale's completion or its
    return. The message's whole input is frozen now (the worker sends a row's payload as is), so a crash after the
    commit loses nothing and a retry sends the same. The batch and item are the first dispensed line's, or the
    prescription's drug's (the row's columns want one; no 3507 touches these rows, nor holds them back).
    `after_id`: sent only once that row is accepted (a report rewritten after its cancellation). None when the row
    is already there (a retried completion)."""
    conn = u.connection()
    if conn.execute(sa.select(OUT.c.id).where(OUT.c.store_id == ctx.store_id, OUT.c.key == key)).first() is not None:
        return None
    return int(_ADD.scalar(conn, _row(ctx, key, txn, batch_id, item_id, ref_type=ref_type, ref_id=ref_id, qty=qty,
                                      amount_fen=amount_fen, payload=payload, after_id=after_id)))


def after_correction(u: Unit, ctx: Ctx, mv: MovementLike, movement: sa.Table) -> int | None:
    """A corrected movement: 3507 for its batch and data type, then each fact of that batch and type that still
    stands (not the corrected movements', not already replaced) re-sent after it. The 3507's row id."""
    upload = _UPLOADED[mv.kind]
    if not _mapped(u, [mv.item_id]):
        return None
    corrected = sa.select(movement.c.corrects_id).where(movement.c.batch_id == mv.batch_id,
                                                        movement.c.corrects_id.is_not(None))
    return delete_and_resend(u, ctx, mv.batch_id, mv.item_id, DATA_TYPE[upload.txn], f"x{mv.corrects_id}",
                             "stock_movement", str(mv.corrects_id), corrected=corrected)


def delete_and_resend(u: Unit, ctx: Ctx, batch_id: int, item_id: int, data_type: str, key: str, ref_type: str,
                      ref_id: str, corrected: Any = None, rebuild: bool = False) -> int:
    """3507 for a batch and data type (the centre deletes every fact of that batch of that type), then each fact of
    the batch and type that still stands re-sent after it: not a corrected movement's (`corrected`: a select of
    movement ids), not one already replaced. `rebuild`: the re-sent rows are derived again when sent (the catalog was
    corrected), else they carry the payload the centre took. The 3507's row id."""
    conn = u.connection()
    deletion = int(_ADD.scalar(conn, _row(ctx, f"{key}:{data_type}", DELETE, batch_id, item_id,
                                          inv_data_type=data_type, ref_type=ref_type, ref_id=ref_id)))
    standing = conn.execute(
        sa.select(OUT).where(OUT.c.store_id == ctx.store_id, OUT.c.batch_id == batch_id,
                             sa.or_(*(OUT.c.txn == t for t in TXNS_OF[data_type])), OUT.c.id < deletion,
                             *([sa.or_(OUT.c.movement_id.is_(None), OUT.c.movement_id.not_in(corrected))]
                               if corrected is not None else []),
                             OUT.c.id.not_in(replaced_ids(ctx.store_id)))
        .order_by(OUT.c.id)).all()
    for r in standing:
        # a row the centre refused is re-derived whatever `rebuild` says: its payload is what it refused
        payload = {} if rebuild or r.state == UploadState.REJECTED.value else (r.payload or {})
        _ADD.scalar(conn, _row(ctx, f"{r.key.split('/')[0]}/{deletion}", r.txn, r.batch_id, r.item_id,
                               inv_chg_type=r.inv_chg_type, movement_id=r.movement_id, ref_type=r.ref_type,
                               ref_id=r.ref_id, qty=r.qty, amount_fen=r.amount_fen, business_date=r.business_date,
                               after_id=deletion, replaces_id=r.id, payload=payload))
    return deletion


def replaced_ids(store_id: Any) -> Any:
    """The rows a re-send after a 3507 stands in for (a select of ids): never sent again, nor waited for."""
    return sa.select(OUT.c.replaces_id).where(OUT.c.store_id == store_id, OUT.c.replaces_id.is_not(None))


# --- the sending state (the uploads worker; a person's retry, correction; a replay) ----------------------------

def _blocked() -> Any:
    """A row waits while an earlier 3507 of its batch is not accepted (sent before it, it would be deleted by it),
    and while the row it comes after is not accepted (a platform report rewritten after its cancellation). The
    platform's rows (72xx) carry a batch only because the column wants one: no 3507 holds them back. As correlated
    subqueries: for a few rows someone waits for (`sendable`); the worker's step reads `_DUE`."""
    earlier = OUT.alias("earlier")
    deletion = sa.exists().where(earlier.c.store_id == OUT.c.store_id, earlier.c.batch_id == OUT.c.batch_id,
                                 earlier.c.txn == DELETE, earlier.c.id < OUT.c.id,
                                 earlier.c.state != UploadState.ACCEPTED.value)
    return sa.or_(sa.and_(_an_upload(), deletion), _after_unaccepted())


def _an_upload() -> Any:
    """One of 3501–3507 (not the platform's 72xx rows)."""
    return sa.or_(*(OUT.c.txn == _lit(t) for t in TXNS))


def _after_unaccepted() -> Any:
    first = OUT.alias("first")
    return sa.exists().where(first.c.id == OUT.c.after_id, first.c.state != _lit(UploadState.ACCEPTED.value))


def _waiting_deletions() -> Any:
    """Per batch, the first 3507 the centre has not accepted: a row of the batch after it waits (sent before it, it
    would be deleted by it). One pass over the store's rows per step: as a correlated NOT EXISTS it was a pass per
    row due, and a busy day's 3,000 rows took 0.45 s of CPU per step of 20 (measured at 1,800)."""
    d = OUT.alias("deletion")
    return (sa.select(d.c.batch_id, sa.func.min(d.c.id).label("first_id"))
            .where(d.c.store_id == sa.bindparam("sid"), d.c.txn == _lit(DELETE),
                   d.c.state != _lit(UploadState.ACCEPTED.value))
            .group_by(d.c.batch_id).subquery("waiting"))


_SENDABLE = (sa.or_(OUT.c.state == UploadState.PENDING.value, OUT.c.state == UploadState.FAILED.value), ~_blocked())
_WAITING = _waiting_deletions()
_DUE = Prepared(sa.select(OUT).select_from(OUT.outerjoin(_WAITING, _WAITING.c.batch_id == OUT.c.batch_id))
                .where(OUT.c.store_id == sa.bindparam("sid"),
                       sa.or_(OUT.c.state == _lit(UploadState.PENDING.value),
                              OUT.c.state == _lit(UploadState.FAILED.value)),
                       OUT.c.next_at <= sa.bindparam("now"),
                       sa.or_(_WAITING.c.first_id.is_(None), _WAITING.c.first_id >= OUT.c.id, ~_an_upload()),
                       ~_after_unaccepted(),
                       # a row a re-send after a 3507 stands in for is never sent (after the 3507 it would be
                       # held beside its re-send)
                       OUT.c.id.not_in(replaced_ids(sa.bindparam("sid"))))
                .order_by(OUT.c.id).limit(sa.bindparam("n")))


def due(r: Reader, store_id: int, now: datetime, limit: int = 20) -> list[Any]:
    """The rows to send now, oldest first."""
    r.flush()
    return _DUE.rows(r.connection(), {"sid": store_id, "now": now, "n": limit})


def sendable(r: Reader, store_id: int, ids: Sequence[int]) -> list[Any]:
    """Of `ids`, the rows that may be sent now whatever their wait (pending, or failed and waiting its turn; not
    held back): a row someone waits for at the till, sent at once."""
    r.flush()
    if not ids:
        return []
    return list(r.connection().execute(sa.select(OUT).where(OUT.c.store_id == store_id, OUT.c.id.in_(list(ids)),
                                                            *_SENDABLE, OUT.c.id.not_in(replaced_ids(store_id)))
                                       .order_by(OUT.c.id)))


def row(r: Reader, store_id: int, row_id: int) -> Any:
    r.flush()
    return r.connection().execute(sa.select(OUT).where(OUT.c.store_id == store_id, OUT.c.id == row_id)).first()


def claim(u: Unit, row_id: int, msgid: str, payload: dict[str, Any], now: datetime) -> bool:
    """pending | failed → sent, with its msgid and payload (both kept for every later retry); False: another took it."""
    q = (sa.update(OUT).where(OUT.c.id == row_id, OUT.c.state.in_([UploadState.PENDING.value,
                                                                   UploadState.FAILED.value]))
         .values(state=UploadState.SENT.value, attempts=OUT.c.attempts + 1, msgid=msgid, payload=payload, sent_at=now))
    return u.connection().execute(q).rowcount == 1


def answered(u: Unit, row_id: int, state: UploadState, now: datetime, *, error: str = "", centre_message: str = "",
             next_at: datetime | None = None) -> bool:
    """What came of a send: accepted, rejected (the centre's message kept for a person) or failed (retried at
    next_at). False: the row was no longer `sent` (answered already)."""
    values: dict[str, Any] = {"state": state.value, "answered_at": now, "last_error": error[:500]}
    if state is UploadState.REJECTED:
        values["centre_message"] = centre_message[:500]
    if state is UploadState.ACCEPTED:
        values["last_error"] = ""
    if next_at is not None:
        values["next_at"] = next_at
    return u.connection().execute(sa.update(OUT).where(OUT.c.id == row_id, OUT.c.state == UploadState.SENT.value)
                                  .values(**values)).rowcount == 1


def recover_interrupted(u: Unit, store_id: int, now: datetime) -> int:
    """Rows found `sent` at start-up were cut off by a stop: their outcome is unknown, so they are sent again
    (the same msgid and payload; the centre deduplicates). The rows."""
    return int(u.connection().execute(
        sa.update(OUT).where(OUT.c.store_id == store_id, OUT.c.state == UploadState.SENT.value)
        .values(state=UploadState.FAILED.value, next_at=now,
                last_error="发送中断（服务重启），将重发 / cut off by a restart: sent again")).rowcount)


def requeue(u: Unit, store_id: int, ids: Sequence[int], now: datetime, states: Sequence[UploadState]) -> int:
    """Back to pending now (a person's retry, a replay): only rows in one of `states`. The rows."""
    if not ids:
        return 0
    changed = 0
    for start in range(0, len(ids), 500):
        changed += int(u.connection().execute(
            sa.update(OUT).where(OUT.c.store_id == store_id, OUT.c.id.in_(list(ids[start:start + 500])),
                                 OUT.c.state.in_([s.value for s in states]), OUT.c.id.not_in(replaced_ids(store_id)))
            .values(state=UploadState.PENDING.value, next_at=now)).rowcount)
    return changed


def set_payload(u: Unit, store_id: int, row_id: int, payload: dict[str, Any], now: datetime) -> bool:
    """A person's correction of a rejected row: its payload as corrected, back to pending, under a new msgid (the
    refused message is not sent again with other content under its id)."""
    return u.connection().execute(
        sa.update(OUT).where(OUT.c.store_id == store_id, OUT.c.id == row_id,
                             OUT.c.state == UploadState.REJECTED.value)
        .values(payload=payload, state=UploadState.PENDING.value, next_at=now, msgid="")).rowcount == 1


def backoff(attempts: int, least: timedelta, most: timedelta) -> timedelta:
    """The wait before the next try after `attempts` failed ones: doubling from `least`, capped at `most`."""
    return min(most, least * (2 ** max(attempts - 1, 0)))


def standing(r: Reader, store_id: int, first: date, last: date) -> list[Any]:
    """The facts that stand, day by day (what the centre should hold): no 3507, no row a re-send replaced, no fact
    of a movement that was corrected (a re-send of a standing fact stands in its place). 进销存 facts only: the
    platform's prescription reports (72xx) are not the centre's to count."""
    r.flush()
    cancelled = sa.select(OUT.c.ref_id).where(OUT.c.store_id == store_id, OUT.c.txn == DELETE,
                                              OUT.c.ref_type == "stock_movement")
    q = (sa.select(OUT).where(OUT.c.store_id == store_id, OUT.c.business_date >= first, OUT.c.business_date <= last,
                              OUT.c.txn != DELETE, OUT.c.txn.in_(TXNS), OUT.c.id.not_in(replaced_ids(store_id)),
                              sa.or_(OUT.c.movement_id.is_(None),
                                     sa.cast(OUT.c.movement_id, sa.String).not_in(cancelled)))
         .order_by(OUT.c.id))
    return list(r.connection().execute(q))
