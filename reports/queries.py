"""The only door from reports/ into the database: read-only queries over the ledger.

Every report (进销存, the card-purchase and 外配处方 statements, receivables, the inspection export,
the compliance checklist) reads through functions defined here, never through server.db itself, and
none of them writes. The import contract "reports reach the database only through reports.queries"
(pyproject.toml, [tool.importlinter]) holds the rest of reports/ to it; `reading` holds this module to it in
the database too: one snapshot, ended by a rollback, and on PostgreSQL a READ ONLY transaction that refuses
any write.

The queries return plain rows (named tuples of ints, strings and dates), never models: what a report makes of
them is pure code over plain facts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects.postgresql import JSONB

from reports import collector
from server.db.models import (
    Batch,
    CardSettlement,
    InsuranceMessage,
    Item,
    Prescription,
    RxReview,
    Sale,
    SaleInsured,
    SaleLine,
    SaleReturn,
    User,
)
from server.db.models.ledger import StockMovement
from server.db.models.period import PeriodClose, PeriodSnapshot

_MV = sa.table(StockMovement.__tablename__, *[sa.column(c.name) for c in StockMovement.__table__.columns])  # type: ignore[attr-defined]
_BATCH = Batch.__table__  # type: ignore[attr-defined]
_ITEM = Item.__table__  # type: ignore[attr-defined]
_SALE = Sale.__table__  # type: ignore[attr-defined]
_LINE = SaleLine.__table__  # type: ignore[attr-defined]
_SETL = CardSettlement.__table__  # type: ignore[attr-defined]
_CLOSE = PeriodClose.__table__  # type: ignore[attr-defined]
_SNAP = PeriodSnapshot.__table__  # type: ignore[attr-defined]
SNAPSHOT_KIND = "period_snapshot"  # the pseudo-kind of a close's snapshot row in movement_sums: opening only


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One read-only snapshot for a whole report: every query of it sees the same ledger (a sale completing
    meanwhile is in all of its figures or in none), and nothing can be written through it. The garbage collector
    waits meanwhile (reports.collector says why)."""
    with collector.paused(), engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # the connection goes back to the pool as it came: query_only is per connection
            conn.exec_driver_sql("PRAGMA query_only = ON")
            conn.commit()
        conn.begin()
        try:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            elif sqlite:  # a read transaction now, so every query of the report sees one snapshot (WAL)
                conn.exec_driver_sql("SELECT 1 FROM stock_movement LIMIT 1")
            yield conn
        finally:
            conn.rollback()
            if sqlite:
                conn.exec_driver_sql("PRAGMA query_only = OFF")
                conn.commit()


def close_before(conn: Connection, store_id: int, start: date) -> Any:
    """The store's latest period close (月结) whose last day is before `start` (id, last_day), or None."""
    c = _CLOSE.c
    return conn.execute(sa.select(c.id, c.last_day).where(c.store_id == store_id, c.last_day < start)
                        .order_by(c.last_day.desc()).limit(1)).first()


def movement_sums(conn: Connection, store_id: int, start: date, end: date, from_snapshot: bool = True) -> Sequence[Any]:
    """Per batch and kind, the movements' sums (qty, cost_fen, retail_fen) before `start` (the opening) and within
    [start, end] (the period), and over everything up to `end` (the closing, summed on its own so that the
    report's identity opening + in − out = closing is a check, not an arithmetic consequence).

    Grouped by kind, not by report column: which column a kind lands in is server.rules.movements' to say.

    With a period closed before `start` (and `from_snapshot`), the history up to its last day is not replayed:
    its snapshot comes as one row per batch of kind SNAPSHOT_KIND (in the opening and the closing, nothing in
    the period), and only the movements dated after it are summed — the lock (migration 0024) keeps anything
    from being dated inside it afterwards, so the two agree (a test holds them equal)."""
    mv = _MV.c
    close = close_before(conn, store_id, start) if from_snapshot else None
    before = mv.business_date < start
    within = mv.business_date >= start

    def part(cond: Any, column: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((cond, column), else_=0)), 0)

    q = (sa.select(mv.batch_id, mv.item_id, mv.kind,
                   part(before, mv.qty).label("open_qty"), part(before, mv.cost_fen).label("open_cost"),
                   part(before, mv.retail_fen).label("open_retail"),
                   part(within, mv.qty).label("qty"), part(within, mv.cost_fen).label("cost"),
                   part(within, mv.retail_fen).label("retail"),
                   sa.func.sum(mv.qty).label("close_qty"), sa.func.sum(mv.cost_fen).label("close_cost"),
                   sa.func.sum(mv.retail_fen).label("close_retail"))
         .where(mv.store_id == store_id, mv.business_date <= end)
         .group_by(mv.batch_id, mv.item_id, mv.kind))
    if close is None:
        return conn.execute(q).all()
    q = q.where(mv.business_date > close.last_day)
    sn = _SNAP.c
    snap = sa.select(sn.batch_id, sn.item_id, sa.literal(SNAPSHOT_KIND).label("kind"), sn.qty, sn.cost_fen,
                     sn.retail_fen, sa.literal(0), sa.literal(0), sa.literal(0), sn.qty, sn.cost_fen,
                     sn.retail_fen).where(sn.close_id == close.id)
    return [*conn.execute(snap).all(), *conn.execute(q).all()]


def batch_identities(conn: Connection, store_id: int) -> Sequence[Any]:
    """Every batch of the store with its item's identity as the 进销存 names it (the report keeps those it needs)."""
    b, i = _BATCH.c, _ITEM.c
    q = (sa.select(b.id.label("batch_id"), b.batch_no, b.lot_no, b.expires_on, i.id.label("item_id"),
                   i.code, i.nhsa_code, i.name, i.generic_name, i.spec, i.dosage_form, i.manufacturer, i.approval_no,
                   i.unit, i.split_unit, i.split_ratio, i.gsp_class, i.insurance_category)
         .select_from(_BATCH.join(_ITEM, b.item_id == i.id))
         .where(b.store_id == store_id))
    return conn.execute(q).all()


def below_zero(conn: Connection, store_id: int, start: date, end: date, from_snapshot: bool = True) -> Sequence[Any]:
    """Every movement of the period after which its batch's stock in its location was below zero: each batch and
    location walked in the order written (id), by the database (a window), so only the offending points come
    back — from its first movement, or, after a period close (月结) before `start`, from the close's snapshot of
    it on (what it held then, plus the movements dated after)."""
    mv = _MV.c
    close = close_before(conn, store_id, start) if from_snapshot else None
    running = sa.func.sum(mv.qty).over(partition_by=(mv.batch_id, mv.location), order_by=mv.id)
    if close is None:
        walk = (sa.select(mv.id, mv.batch_id, mv.location, mv.kind, mv.business_date, mv.ref_type, mv.ref_id,
                          running.label("held"))
                .where(mv.store_id == store_id, mv.business_date <= end).subquery())
    else:
        sn = _SNAP.c
        held_then = (sa.select(sn.batch_id, sn.location, sn.qty).where(sn.close_id == close.id).subquery())
        walk = (sa.select(mv.id, mv.batch_id, mv.location, mv.kind, mv.business_date, mv.ref_type, mv.ref_id,
                          (running + sa.func.coalesce(held_then.c.qty, 0)).label("held"))
                .select_from(_MV.outerjoin(held_then, sa.and_(held_then.c.batch_id == mv.batch_id,
                                                              held_then.c.location == mv.location)))
                .where(mv.store_id == store_id, mv.business_date > close.last_day, mv.business_date <= end)
                .subquery())
    q = (sa.select(walk).where(walk.c.held < 0, walk.c.business_date >= start)
         .order_by(walk.c.batch_id, walk.c.location, walk.c.id))
    return conn.execute(q).all()


def item_units(conn: Connection, store_id: int) -> Sequence[Any]:
    """Each item's code and how many split units a whole unit holds (a card line's cnt is in the unit sold)."""
    i = _ITEM.c
    return conn.execute(sa.select(i.id, i.code, i.split_ratio).where(i.store_id == store_id)).all()


def refs_of_kinds(conn: Connection, store_id: int, start: date, end: date, kinds: Sequence[str]) -> Sequence[Any]:
    """Movements of the given kinds within the period with the document they name (ref_type, ref_id), per batch:
    e.g. the count gains and losses with their count documents."""
    mv = _MV.c
    q = (sa.select(mv.batch_id, mv.item_id, mv.kind, mv.ref_type, mv.ref_id,
                   sa.func.sum(mv.qty).label("qty"), sa.func.sum(mv.cost_fen).label("cost"))
         .where(mv.store_id == store_id, mv.business_date >= start, mv.business_date <= end, mv.kind.in_(list(kinds)))
         .group_by(mv.batch_id, mv.item_id, mv.kind, mv.ref_type, mv.ref_id)
         .order_by(mv.batch_id, mv.ref_type, mv.ref_id))
    return conn.execute(q).all()


def table_exists(conn: Connection, name: str) -> bool:
    """Whether a table another part of the project brings (e.g. the count documents) exists yet here."""
    return sa.inspect(conn).has_table(name)


def count_lines(conn: Connection, line_ids: Sequence[str]) -> Sequence[Any] | None:
    """The count documents (盘点单, stock care's count_line and count_sheet) that count movements name by ref, or
    None where this database has no count documents yet (they come with stock care, migration 0019)."""
    if not (table_exists(conn, "count_line") and table_exists(conn, "count_sheet")):
        return None
    if not line_ids:
        return []
    ln = sa.table("count_line", *[sa.column(c) for c in ("id", "sheet_id", "batch_id", "book_qty", "counted_qty",
                                                          "reason")])
    sh = sa.table("count_sheet", *[sa.column(c) for c in ("id", "status", "business_date", "posted_by")])
    q = (sa.select(ln.c.id, ln.c.sheet_id, ln.c.batch_id, ln.c.book_qty, ln.c.counted_qty, ln.c.reason,
                   sh.c.status, sh.c.business_date, sh.c.posted_by)
         .select_from(ln.join(sh, ln.c.sheet_id == sh.c.id))
         .where(ln.c.id.in_([int(x) for x in line_ids if x.isdigit()])))
    return conn.execute(q).all()


def settled_card_sales(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """The card settlements standing at the end (status settled) of the sales of the period (the sale's business
    date), with the lines the centre settled as they were sent (CardSettlement.lines: feedetl_sn = our sale line)."""
    s, st = _SALE.c, _SETL.c
    q = (sa.select(st.id, st.sale_id, st.lines)
         .select_from(_SETL.join(_SALE, st.sale_id == s.id))
         .where(st.store_id == store_id, st.status == "settled", s.business_date >= start, s.business_date <= end))
    return conn.execute(q).all()


def sale_lines_taken(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """Per sale line of the period's sales that has a live card settlement: the stock its movements took (split
    units, positive), what it sold and its 医保 snapshot."""
    mv, ln, s, st = _MV.c, _LINE.c, _SALE.c, _SETL.c
    taken = (sa.select(mv.ref_id, sa.func.sum(-mv.qty).label("taken"))
             .where(mv.store_id == store_id, mv.kind == "sale", mv.ref_type == "sale_line",
                    mv.business_date >= start, mv.business_date <= end)
             .group_by(mv.ref_id).subquery())
    q = (sa.select(ln.id, ln.item_id, ln.sale_id, ln.qty, ln.split, ln.insurance_category, ln.nhsa_code,
                   sa.func.coalesce(taken.c.taken, 0).label("taken"))
         .select_from(_LINE.join(_SALE, ln.sale_id == s.id)
                      .join(_SETL, sa.and_(st.sale_id == s.id, st.status == "settled"))
                      .outerjoin(taken, taken.c.ref_id == sa.cast(ln.id, sa.String)))
         .where(s.store_id == store_id, s.business_date >= start, s.business_date <= end))
    return conn.execute(q).all()


# --- the compliance checklist (reports.checklist) -------------------------------------------------------------

def _t(name: str) -> sa.Table:
    from sqlmodel import SQLModel

    return SQLModel.metadata.tables[name]


def store_row(conn: Connection, store_id: int) -> Any:
    """The store's profile: its 医保协议 now and its licences (AGR-01/03)."""
    return conn.execute(sa.select(_t("store")).where(_t("store").c.id == store_id)).one()


def agreement_history(conn: Connection, store_id: int) -> Sequence[Any]:
    ev = _t("agreement_event").c
    return conn.execute(sa.select(ev.status, ev.effective_on, ev.ends_on, ev.reason)
                        .where(ev.store_id == store_id).order_by(ev.effective_on, ev.id)).all()


def card_settlements_in(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """The period's card settlements that reached the centre (settled, or later cancelled), with their sale's days,
    till and the cancellation's facts (CARD-04)."""
    st, s, tl = _SETL.c, _SALE.c, _t("till").c
    q = (sa.select(st.id, st.sale_id, st.status, st.setl_id, st.created_at, st.resolved_at, st.answer,
                   st.cancel_msgid, st.cancel_reason, st.cancelled_by, st.cancel_confirmed_by,
                   s.business_date, s.opened_at, s.till_id, tl.store_id.label("till_store_id"),
                   tl.site_code.label("till_site"), tl.status.label("till_status"))
         .select_from(_SETL.join(_SALE, st.sale_id == s.id).outerjoin(_t("till"), tl.id == s.till_id))
         .where(st.store_id == store_id, st.status.in_(("settled", "cancelled")),
                s.business_date >= start, s.business_date <= end)
         .order_by(st.id))
    return conn.execute(q).all()


def backup_runs(conn: Connection, store_id: int) -> Sequence[Any]:
    b = _t("backup_run").c
    return conn.execute(sa.select(b.id, b.finished_at, b.business_date, b.ok, b.file_name, b.directory, b.error,
                                  b.sealed)
                        .where(b.store_id == store_id).order_by(b.id)).all()


def restore_drills(conn: Connection, store_id: int) -> Sequence[Any]:
    d = _t("restore_drill").c
    return conn.execute(sa.select(d.id, d.at, d.business_date, d.ok, d.backup_file, d.drilled_by)
                        .where(d.store_id == store_id).order_by(d.id)).all()


def accounts(conn: Connection, store_id: int) -> Sequence[Any]:
    """Every account with its staff record (STAFF-01/02, SEC-03)."""
    u, p = _t("app_user").c, _t("staff_profile").c
    q = (sa.select(u.id, u.username, u.display_name, u.status, u.frozen_at, p.qualification, p.qualification_no,
                   p.qualification_expiry, p.registered_store_code, p.contract_start, p.contract_end,
                   p.work_cert_no, p.work_cert_expiry)
         .select_from(_t("app_user").outerjoin(_t("staff_profile"), p.user_id == u.id))
         .where(u.store_id == store_id).order_by(u.id))
    return conn.execute(q).all()


def role_grants(conn: Connection, store_id: int) -> Sequence[Any]:
    r = _t("user_role").c
    return conn.execute(sa.select(r.id, r.user_id, r.role, r.granted_by, r.granted_at, r.approved_by, r.revoked_at,
                                  r.pending).where(r.store_id == store_id).order_by(r.id)).all()


def sold_past_expiry(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """Sale movements of the period dated after their batch's expiry (GSP-06)."""
    mv, b, i = _MV.c, _BATCH.c, _ITEM.c
    q = (sa.select(mv.id, mv.business_date, mv.ref_id, -mv.qty, b.batch_no, b.expires_on, i.name)
         .select_from(_MV.join(_BATCH, b.id == mv.batch_id).join(_ITEM, i.id == mv.item_id))
         .where(mv.store_id == store_id, mv.kind == "sale", mv.business_date >= start, mv.business_date <= end,
                mv.business_date > b.expires_on)
         .order_by(mv.id))
    return conn.execute(q).all()


def receipts_in(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """Purchase receipts of the period with their supplier's licence (GSP-05)."""
    r, sp = _t("receipt").c, _t("supplier").c
    q = (sa.select(r.id, r.business_date, r.status, r.inspected_by, r.approved_by, r.dynt_no, r.purc_invo_no,
                   sp.name.label("supplier"), sp.licence_expiry, sp.first_approved_by)
         .select_from(_t("receipt").outerjoin(_t("supplier"), sp.id == r.supplier_id))
         .where(r.store_id == store_id, r.kind == "purchase", r.business_date >= start, r.business_date <= end)
         .order_by(r.id))
    return conn.execute(q).all()


def rx_lines_reviewed(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """Completed sales' prescription-drug lines (the class as sold) with their prescription and its last review
    (RX-01/05/07)."""
    ln, s, pl, rv = _LINE.c, _SALE.c, _t("prescription_line").c, _t("rx_review").c
    last_review = (sa.select(rv.prescription_id, sa.func.max(rv.id).label("review_id"))
                   .where(rv.store_id == store_id).group_by(rv.prescription_id).subquery())
    q = (sa.select(ln.id, ln.sale_id, s.business_date, ln.item_id, ln.rx_line_id, pl.prescription_id,
                   rv.verdict, rv.pharmacist_id)
         .select_from(_LINE.join(_SALE, s.id == ln.sale_id)
                      .outerjoin(_t("prescription_line"), pl.id == ln.rx_line_id)
                      .outerjoin(last_review, last_review.c.prescription_id == pl.prescription_id)
                      .outerjoin(_t("rx_review"), rv.id == last_review.c.review_id))
         .where(s.store_id == store_id, s.status == "completed", ln.gsp_class == "rx",
                s.business_date >= start, s.business_date <= end)
         .order_by(s.business_date, ln.id))
    return conn.execute(q).all()


def line_prices(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """Per completed sale line: its item, day, unit price, split or not, and whether a card settlement paid for its
    sale (CARD-03: one price, card or cash)."""
    ln, s, st = _LINE.c, _SALE.c, _SETL.c
    carded = sa.exists().where(st.sale_id == s.id, st.status.in_(("settled", "cancelled")))
    q = (sa.select(ln.item_id, s.business_date, ln.split, ln.unit_price_fen, carded.label("card"), ln.sale_id)
         .select_from(_LINE.join(_SALE, s.id == ln.sale_id))
         .where(s.store_id == store_id, s.status == "completed", s.business_date >= start, s.business_date <= end))
    return conn.execute(q).all()


def documents_printed(conn: Connection, store_id: int, since: datetime, until: datetime) -> Sequence[Any]:
    """Every print job's document written in [since, until) (UTC): receipts, slips, Z reports — what left on paper."""
    pj = _t("print_job").c
    return conn.execute(sa.select(pj.id, pj.kind, pj.document).where(
        pj.store_id == store_id, pj.created_at >= since, pj.created_at < until).order_by(pj.id)).all()


def audit_texts(conn: Connection, store_id: int, since: datetime, until: datetime) -> Sequence[Any]:
    """The audit log's entries of [since, until): the log an inspector reads, which must show no whole ID number."""
    e = _t("audit_entry").c
    return conn.execute(sa.select(e.seq, e.action, e.entity, e.before, e.after, e.note).where(
        e.store_id == store_id, e.at >= since, e.at < until).order_by(e.seq)).all()


def record_reads(conn: Connection, store_id: int, since: datetime, until: datetime) -> Sequence[Any]:
    """Reads of insured persons' full records in [since, until) (SEC-06): the audit entries of action
    "privacy.read" (server.privacy.READ) — who, when, whose, what, why, by which route — oldest first."""
    e = _t("audit_entry").c
    return conn.execute(sa.select(e.seq, e.at, e.actor, e.entity_id, e.after, e.note).where(
        e.store_id == store_id, e.action == "privacy.read", e.at >= since, e.at < until).order_by(e.seq)).all()


def attestations(conn: Connection, store_id: int) -> Sequence[Any]:
    a = _t("attestation").c
    return conn.execute(sa.select(a.id, a.topic, a.confirmed_by, a.confirmed_at, a.business_date, a.valid_until,
                                  a.note).where(a.store_id == store_id).order_by(a.id)).all()


def trainings(conn: Connection, store_id: int) -> Sequence[Any]:
    t = _t("training_session").c
    return conn.execute(sa.select(t.id, t.held_on, t.topic, t.attendees).where(t.store_id == store_id)
                        .order_by(t.held_on)).all()


# --- the fund-use self-inspection and the settled lines (checklist items 17, 19, 21, 24) -------------------------

def card_purchases(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """The period's card settlements standing settled, each with who the card paid for (sale_insured: psn_no, the
    name) and when the sale was made (opened and completed, UTC): the repeat-buyer and odd-hour analyses."""
    st, s, ins = _SETL.c, _SALE.c, _t("sale_insured").c
    q = (sa.select(st.id, st.sale_id, st.setl_id, st.medfee_sumamt_fen, st.fund_pay_fen, st.acct_pay_fen,
                   s.business_date, s.sale_no, s.opened_at, s.completed_at, ins.psn_no, ins.psn_name)
         .select_from(_SETL.join(_SALE, st.sale_id == s.id).outerjoin(_t("sale_insured"), ins.sale_id == s.id))
         .where(st.store_id == store_id, st.status == "settled", s.business_date >= start, s.business_date <= end)
         .order_by(s.business_date, st.id))
    return conn.execute(q).all()


def card_settled_lines(conn: Connection, store_id: int, start: date, end: date) -> Sequence[Any]:
    """Every sale line of the period's settled card sales, with its snapshot as sold (class, 医保 category, national
    code, the mapping's upload day), the item's class today, the prescription line's days where one was dispensed,
    the insured person, and the settlement's `lines` (what the centre settled: feedetl_sn = the sale line's id)."""
    ln, s, st, i, ins, pl = _LINE.c, _SALE.c, _SETL.c, _ITEM.c, _t("sale_insured").c, _t("prescription_line").c
    q = (sa.select(ln.id, ln.sale_id, ln.item_id, ln.qty, ln.split, ln.amount_fen, ln.gsp_class,
                   ln.insurance_category, ln.nhsa_code, ln.mapping_uploaded_on, s.business_date, s.sale_no,
                   st.id.label("settlement_id"), st.setl_id, st.lines.label("settled"),
                   i.code, i.name, i.split_ratio, i.gsp_class.label("class_now"), ins.psn_no, pl.days.label("rx_days"))
         .select_from(_LINE.join(_SALE, ln.sale_id == s.id)
                      .join(_SETL, sa.and_(st.sale_id == s.id, st.status == "settled"))
                      .join(_ITEM, i.id == ln.item_id)
                      .outerjoin(_t("sale_insured"), ins.sale_id == s.id)
                      .outerjoin(_t("prescription_line"), pl.id == ln.rx_line_id))
         .where(s.store_id == store_id, s.business_date >= start, s.business_date <= end)
         .order_by(s.business_date, ln.id))
    return conn.execute(q).all()


def trace_codes_sold_again(conn: Connection, store_id: int) -> Sequence[Any]:
    """Every sold, not returned, row of a 追溯码 that was sold in more than one sale of the store, with its sale's
    day: a box leaves the store once (拆零 shares the opened box's code among split sales, which the analysis
    allows)."""
    tc, s = _t("sale_trace_code").c, _SALE.c
    again = (sa.select(tc.code).where(tc.store_id == store_id, tc.sold == sa.true(), tc.returned_in.is_(None))
             .group_by(tc.code).having(sa.func.count(sa.distinct(tc.sale_id)) > 1))
    q = (sa.select(tc.id, tc.code, tc.sale_id, tc.sale_line_id, tc.item_id, tc.split, s.business_date, s.sale_no)
         .select_from(_t("sale_trace_code").join(_SALE, s.id == tc.sale_id))
         .where(tc.store_id == store_id, tc.sold == sa.true(), tc.returned_in.is_(None), tc.code.in_(again))
         .order_by(tc.code, tc.id))
    return conn.execute(q).all()


def received_per_item(conn: Connection, store_id: int, end: date, kinds: Sequence[str]) -> Sequence[Any]:
    """Per item, the stock that came in (split units) by the given kinds up to `end` (server.rules.movements names
    which kinds bring stock from outside the store)."""
    mv = _MV.c
    return conn.execute(sa.select(mv.item_id, sa.func.sum(mv.qty).label("qty"))
                        .where(mv.store_id == store_id, mv.business_date <= end, mv.kind.in_(list(kinds)))
                        .group_by(mv.item_id)).all()


def pharmacist_duties_of_people(conn: Connection, store_id: int, since: datetime, until: datetime) -> Sequence[Any]:
    """Every pharmacist duty in [since, until) (UTC) at ANY store of this database, of the persons (identity number
    on their staff record) who hold an account at this store: a chain's pharmacist on duty at two stores at once."""
    d, p, u = _t("pharmacist_duty").c, _t("staff_profile").c, _t("app_user").c
    ours = sa.select(p.id_number).where(p.store_id == store_id, p.id_number != "")
    q = (sa.select(d.id, d.store_id, d.user_id, d.on_at, d.off_at, p.id_number, u.username)
         .select_from(_t("pharmacist_duty").join(_t("staff_profile"), p.user_id == d.user_id)
                      .join(_t("app_user"), u.id == d.user_id))
         .where(p.id_number.in_(ours), d.on_at < until, sa.or_(d.off_at.is_(None), d.off_at >= since))
         .order_by(p.id_number, d.on_at))
    return conn.execute(q).all()


def placements(conn: Connection, store_id: int) -> Sequence[Any]:
    """Every active item of the store with the zone it stands in (GSP-01..03, GSP-07): the item's class, route,
    storage, odour, and the zone's purpose, classes, route group, storage, odour."""
    i, z = _ITEM.c, _t("zone").c
    q = (sa.select(i.id, i.code, i.name, i.gsp_class, i.route, i.storage, i.odour_prone,
                   z.code.label("zone_code"), z.name.label("zone_name"), z.purpose, z.admits, z.route_group,
                   z.storage.label("zone_storage"), z.odour_prone.label("zone_odour_prone"))
         .select_from(_ITEM.join(_t("zone"), z.id == i.zone_id))
         .where(i.store_id == store_id, i.active == sa.true())
         .order_by(i.code))
    return conn.execute(q).all()
def label_items(conn: Connection, store_id: int) -> Sequence[Any]:
    """Every active item with what its shelf label would show now (server.rules.labels.LabelFacts's fields; the
    barcode is the item's first) and the purpose of the zone it stands in ("" when it stands in none)."""
    i, z, b = _ITEM.c, _t("zone").c, _t("barcode").c
    first_code = (sa.select(b.code).where(b.item_id == i.id).order_by(b.id).limit(1).scalar_subquery())
    q = (sa.select(i.id.label("item_id"), i.code, i.name, i.spec, i.manufacturer, i.origin, i.unit, i.price_fen,
                   sa.func.coalesce(first_code, "").label("barcode"), i.gsp_class, i.insurance_category,
                   sa.func.coalesce(z.code, "").label("zone_code"), sa.func.coalesce(z.purpose, "").label("purpose"))
         .select_from(_ITEM.outerjoin(_t("zone"), z.id == i.zone_id))
         .where(i.store_id == store_id, i.active == sa.true())
         .order_by(i.code))
    return conn.execute(q).all()


def last_shelf_labels(conn: Connection, store_id: int) -> Sequence[Any]:
    """Each item's last printed shelf label (GSP-04): its facts as printed, its run, when."""
    if not table_exists(conn, "shelf_label"):
        return []
    lab, run = _t("shelf_label").c, _t("label_run").c
    last = sa.select(sa.func.max(lab.id)).where(lab.store_id == store_id).group_by(lab.item_id)
    q = (sa.select(lab.id, lab.item_id, lab.run_id, lab.facts, run.printed_at)
         .select_from(_t("shelf_label").join(_t("label_run"), run.id == lab.run_id))
         .where(lab.id.in_(last)).order_by(lab.item_id))
    return conn.execute(q).all()


# --- the card-purchase statement (ST-03) and the 外配处方 statement (RX-09) ------------------------------------

_INSURED = SaleInsured.__table__  # type: ignore[attr-defined]
_RX = Prescription.__table__  # type: ignore[attr-defined]
_REVIEW = RxReview.__table__  # type: ignore[attr-defined]
_USER = User.__table__  # type: ignore[attr-defined]
_MSG = InsuranceMessage.__table__  # type: ignore[attr-defined]
_RETURN = SaleReturn.__table__  # type: ignore[attr-defined]
_CHUNK = 500  # ids per IN list: well under every backend's limit of bound parameters


def _settlement_columns() -> list[Any]:
    st, s, ins, rx = _SETL.c, _SALE.c, _INSURED.c, _RX.c
    return [st.id, st.sale_id, st.status, st.medfee_sumamt_fen, st.fund_pay_fen, st.acct_pay_fen, st.cash_pay_fen,
            st.setl_id, st.mdtrt_id, st.answer, st.resolved_at, st.lines, st.cancel_msgid, s.sale_no,
            s.business_date, ins.psn_no, ins.psn_name, ins.certno, ins.insutype, ins.psn_type, ins.insuplc_admdvs,
            sa.case((rx.for_insurance == sa.true(), rx.rx_no), else_=sa.null()).label("rx_no"),
            sa.case((rx.for_insurance == sa.true(), rx.institution_name), else_=sa.null()).label("rx_institution")]


def _settlement_from() -> Any:
    st, s, ins, rx = _SETL.c, _SALE.c, _INSURED.c, _RX.c
    return (_SETL.join(_SALE, st.sale_id == s.id).outerjoin(_INSURED, ins.sale_id == s.id)
            .outerjoin(_RX, rx.id == s.prescription_id))


# What the card statement reads of each stored 2102 answer (setlinfo, ~40 fields): picked out in the database, so a
# year's answers are not decoded whole in Python (that was a fifth of the year's statement). Two of them change
# the figures by being there at all (card_statement.money_of), so their presence is read too.
ANSWER_KEYS = ("setl_time", "hifp_pay", "psn_part_amt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt",
               "insutype", "psn_type", "psn_name", "clr_type", "clr_optins")
_ANSWER_PRESENCE = ("hifp_pay", "psn_part_amt")


class Settled(NamedTuple):
    """A card_settlements row: the settlement, its sale and insured person, and `answer`, the stored answer's
    ANSWER_KEYS that it carries (a key it sent as null is there as None; one it did not send is absent)."""

    id: int
    sale_id: str
    status: str
    medfee_sumamt_fen: int
    fund_pay_fen: int
    acct_pay_fen: int
    cash_pay_fen: int
    setl_id: str
    mdtrt_id: str
    resolved_at: datetime | None
    lines: list[dict[str, Any]]
    cancel_msgid: str
    sale_no: str
    business_date: date
    psn_no: str | None
    psn_name: str | None
    certno: str | None
    insutype: str | None
    psn_type: str | None
    insuplc_admdvs: str | None
    rx_no: str | None
    rx_institution: str | None
    answer: dict[str, Any]


def _answer_picked(conn: Connection) -> tuple[list[Any], Any]:
    """The columns that pick ANSWER_KEYS out of card_settlement.answer (one JSON array of the values, then a flag
    per presence key), and the FROM to read them with: SQLite's json_extract with several paths parses the text
    once; on PostgreSQL the json text is made jsonb once per row (a lateral subquery that OFFSET 0 keeps from being
    inlined, which would cast it again for every key)."""
    st = _SETL.c
    if conn.dialect.name == "postgresql":
        doc = sa.select(sa.cast(st.answer, JSONB).label("j")).correlate(_SETL).offset(0).lateral("picked")
        j = doc.c.j
        values = sa.func.jsonb_build_array(*[j.op("->")(k) for k in ANSWER_KEYS])
        flags = [sa.func.coalesce(j.op("?")(k), sa.false()) for k in _ANSWER_PRESENCE]
        return [sa.type_coerce(values, sa.JSON).label("picked"), *flags], _settlement_from().join(doc, sa.true())
    values = sa.func.json_extract(st.answer, *[f"$.{k}" for k in ANSWER_KEYS])
    flags = [sa.func.coalesce(sa.func.json_type(st.answer, f"$.{k}").is_not(None), sa.false())
             for k in _ANSWER_PRESENCE]
    return [sa.type_coerce(values, sa.JSON).label("picked"), *flags], _settlement_from()


def card_settlements(conn: Connection, store_id: int, lo: datetime, hi: datetime) -> Iterator[Settled]:
    """The settlements the centre made (2102: settled, or settled and later cancelled) recorded in [lo, hi) (UTC,
    resolved_at), with the sale, the insured person (1101 as identified), the 外配处方 number, if any, and what the
    statement reads of the centre's answer (Settled.answer). The caller widens the window by a day either side and
    keeps those whose centre day falls in its period.

    Streamed, in batches, while the snapshot is open: a year's stored answers held at once cost hundreds of MB."""
    st = _SETL.c
    columns = [c for c in _settlement_columns() if c.name != "answer"]
    picked, source = _answer_picked(conn)
    q = (sa.select(*columns, *picked).select_from(source)
         .where(st.store_id == store_id, st.status.in_(("settled", "cancelled")), st.resolved_at >= lo,
                st.resolved_at < hi)
         .order_by(st.resolved_at, st.id))
    n = len(_ANSWER_PRESENCE)
    for r in conn.execution_options(yield_per=2000).execute(q):
        fields, values, flags = tuple(r[:-n - 1]), r[-n - 1], r[-n:]
        answer = {k: v for k, v in zip(ANSWER_KEYS, values or (), strict=False) if v is not None}
        for key, there in zip(_ANSWER_PRESENCE, flags, strict=True):
            if there:
                answer.setdefault(key, None)
        yield Settled._make((*fields, answer))


class LineName(NamedTuple):
    """A sale line with the item's name as sold (settled_line_names)."""

    id: int
    qty: int
    split: bool
    amount_fen: int
    name: str
    spec: str
    unit: str
    split_unit: str | None


def settled_line_names(conn: Connection, store_id: int, lo: datetime, hi: datetime) -> dict[int, LineName]:
    """The lines of the sales whose settlements card_settlements gives for the same window, by id, with the item's
    name as sold: what those settlements' lines (feedetl_sn) name, read in one join instead of by id."""
    ln, i, st = _LINE.c, _ITEM.c, _SETL.c
    q = (sa.select(ln.id, ln.qty, ln.split, ln.amount_fen, i.name, i.spec, i.unit, i.split_unit)
         .select_from(_LINE.join(_ITEM, ln.item_id == i.id).join(_SETL, st.sale_id == ln.sale_id))
         .where(st.store_id == store_id, st.status.in_(("settled", "cancelled")), st.resolved_at >= lo,
                st.resolved_at < hi))
    # plain tuples, all fetched at once: a year's statement reads each of these fields once per line
    return {int(r[0]): LineName._make(r) for r in conn.execute(q).all()}


def card_cancellations(conn: Connection, store_id: int, lo: datetime, hi: datetime) -> Sequence[Any]:
    """The settlements cancelled (2103) whose cancellation was answered in [lo, hi) (UTC): each with the 2103 answer
    as received (`cancel_body`, the message log's in row) and when it came (`cancel_at`); where the log has no
    answer (a database restored without it), the return that followed the cancellation dates it instead."""
    st, msg, ret = _SETL.c, _MSG.c, _RETURN.c
    answered = (sa.select(msg.msgid, sa.func.max(msg.id).label("id"))
                .where(msg.store_id == store_id, msg.infno == "2103", msg.direction == "in", msg.outcome == "ok")
                .group_by(msg.msgid).subquery())
    returned = (sa.select(ret.sale_id, sa.func.min(ret.created_at).label("at"))
                .where(ret.store_id == store_id).group_by(ret.sale_id).subquery())
    body = sa.select(msg.body).where(msg.id == answered.c.id).scalar_subquery()
    at = sa.select(msg.at).where(msg.id == answered.c.id).scalar_subquery()
    q = (sa.select(*_settlement_columns(), body.label("cancel_body"), sa.func.coalesce(at, returned.c.at)
                   .label("cancel_at"))
         .select_from(_settlement_from().outerjoin(answered, answered.c.msgid == st.cancel_msgid)
                      .outerjoin(returned, returned.c.sale_id == st.sale_id))
         .where(st.store_id == store_id, st.status == "cancelled", st.resolved_at < hi)  # cancelled after settled
         .order_by(st.id))
    rows = conn.execute(q).all()
    return [r for r in rows if r.cancel_at is not None and lo <= _aware(r.cancel_at) < hi]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def line_names(conn: Connection, line_ids: Sequence[int]) -> dict[int, Any]:
    """Sale lines by id with the item's name as sold: what a settlement's lines (feedetl_sn) name."""
    ln, i = _LINE.c, _ITEM.c
    out: dict[int, Any] = {}
    ids = sorted({int(x) for x in line_ids})
    for n in range(0, len(ids), _CHUNK):
        q = (sa.select(ln.id, ln.sale_id, ln.qty, ln.split, ln.amount_fen, ln.rx_line_id, i.code, i.name, i.spec,
                       i.unit, i.split_unit)
             .select_from(_LINE.join(_ITEM, ln.item_id == i.id)).where(ln.id.in_(ids[n:n + _CHUNK])))
        out.update({int(r.id): r for r in conn.execute(q)})
    return out


def waipei_dispensed(conn: Connection, store_id: int, start: date | None = None, end: date | None = None,
                     sale_ids: Sequence[str] | None = None) -> Sequence[Any]:
    """Every completed sale of the period (business dates), or of the sales named, that dispensed a 外配处方 (a
    prescription for the card), with the prescription, its prescriber, the patient, and the sale's card settlement
    (the 2102 it made, settled or since cancelled; none when it was not paid by the card)."""
    s, rx, st = _SALE.c, _RX.c, _SETL.c
    q = (sa.select(s.id.label("sale_id"), s.sale_no, s.business_date, s.completed_at, rx.id.label("rx_id"), rx.rx_no,
                   rx.institution_code, rx.institution_name, rx.doctor_code, rx.doctor_name, rx.issued_on,
                   rx.patient_name, rx.patient_certno, st.status.label("setl_status"), st.setl_id,
                   st.medfee_sumamt_fen, st.fund_pay_fen, st.acct_pay_fen, st.cash_pay_fen)
         .select_from(_SALE.join(_RX, rx.id == s.prescription_id)
                      .outerjoin(_SETL, sa.and_(st.sale_id == s.id, st.status.in_(("settled", "cancelled")))))
         .where(s.store_id == store_id, s.status == "completed", rx.for_insurance == sa.true())
         .order_by(rx.institution_code, s.business_date, s.sale_no))
    if sale_ids is not None:
        out: list[Any] = []
        ids = sorted(set(sale_ids))
        for n in range(0, len(ids), _CHUNK):
            out.extend(conn.execute(q.where(s.id.in_(ids[n:n + _CHUNK]))).all())
        return out
    assert start is not None and end is not None
    return conn.execute(q.where(s.business_date >= start, s.business_date <= end)).all()


def rx_lines_sold(conn: Connection, sale_ids: Sequence[str]) -> Sequence[Any]:
    """The lines of these sales dispensed against a prescription line, with the drug as sold."""
    ln, i = _LINE.c, _ITEM.c
    out: list[Any] = []
    ids = sorted(set(sale_ids))
    for n in range(0, len(ids), _CHUNK):
        q = (sa.select(ln.sale_id, ln.line_no, ln.qty, ln.split, ln.amount_fen, i.name, i.spec, i.unit, i.split_unit)
             .select_from(_LINE.join(_ITEM, ln.item_id == i.id))
             .where(ln.sale_id.in_(ids[n:n + _CHUNK]), ln.rx_line_id.is_not(None)).order_by(ln.sale_id, ln.line_no))
        out.extend(conn.execute(q).all())
    return out


def rx_approvals(conn: Connection, rx_ids: Sequence[int]) -> dict[int, Any]:
    """Each prescription's last approving review: the pharmacist who signed it off (RX-01), and when."""
    rv, u = _REVIEW.c, _USER.c
    out: dict[int, Any] = {}
    ids = sorted({int(x) for x in rx_ids})
    for n in range(0, len(ids), _CHUNK):
        q = (sa.select(rv.prescription_id, rv.at, u.display_name, u.username)
             .select_from(_REVIEW.join(_USER, u.id == rv.pharmacist_id))
             .where(rv.prescription_id.in_(ids[n:n + _CHUNK]), rv.verdict == "approved")
             .order_by(rv.prescription_id, rv.at, rv.id))
        out.update({int(r.prescription_id): r for r in conn.execute(q)})  # the last one wins
    return out
