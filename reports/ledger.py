"""The 进销存 (ST-01): for a period of the store's business dates, per item × batch and per item, in the smallest
sale unit, the opening, what came in and went out by type, and the closing — quantity, cost and retail, in fen —
with totals by GSP class and by 医保 category. Derived from the ledger only (stock_movement), read through
reports.queries; nothing here writes.

Money is what the ledger's movements carry (cost_fen, retail_fen, signed like qty): the opening and closing are
the sums of all movements before and up to the period's ends, so opening + Σin − Σout = closing holds in money
as in quantity. The closing is summed on its own, not derived: a row where the identity fails is shown as such
(`balanced`), never mended. Out columns are shown positive.

A kind lands in the column server.rules.movements gives it; a move within the store (quarantine in/out) is a
pair of rows on one batch that nets to zero and lands in no column (whatever of it did not net to zero stays
visible in `unplaced`, and the row is not balanced).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from reports import ledger_checks, queries
from reports.layout import DEFAULT, LedgerLayout
from server.rules.movements import type_of


@dataclass(frozen=True, slots=True)
class Figure:
    qty: int = 0
    cost: int = 0
    retail: int = 0

    def __add__(self, o: Figure) -> Figure:
        return Figure(self.qty + o.qty, self.cost + o.cost, self.retail + o.retail)

    def __sub__(self, o: Figure) -> Figure:
        return Figure(self.qty - o.qty, self.cost - o.cost, self.retail - o.retail)

    def __neg__(self) -> Figure:
        return Figure(-self.qty, -self.cost, -self.retail)

    def __bool__(self) -> bool:
        return bool(self.qty or self.cost or self.retail)


ZERO = Figure()


@dataclass
class LedgerRow:
    """One row: a batch (batch_id set), an item (its batches summed) or a total (label set)."""

    item_id: int | None
    batch_id: int | None
    identity: dict[str, Any]
    gsp_class: str = ""
    insurance_category: str = ""
    opening: Figure = ZERO
    columns: dict[str, Figure] = field(default_factory=dict)  # report column key -> figure (outs positive)
    closing: Figure = ZERO
    unplaced: Figure = ZERO  # moves within the store that did not net to zero
    label: str = ""

    def col(self, key: str) -> Figure:
        return self.columns.get(key, ZERO)

    def total_in(self, layout: LedgerLayout) -> Figure:
        return sum((self.col(c.key) for c in layout.ins), ZERO)

    def total_out(self, layout: LedgerLayout) -> Figure:
        return sum((self.col(c.key) for c in layout.outs), ZERO)

    def computed_closing(self, layout: LedgerLayout) -> Figure:
        return self.opening + self.total_in(layout) - self.total_out(layout)

    def balanced(self, layout: LedgerLayout) -> bool:
        return self.computed_closing(layout) == self.closing

    def add(self, other: LedgerRow) -> None:
        self.opening += other.opening
        self.closing += other.closing
        self.unplaced += other.unplaced
        for k, f in other.columns.items():
            self.columns[k] = self.col(k) + f


@dataclass
class LedgerReport:
    store_id: int
    start: date
    end: date
    layout: LedgerLayout
    batches: list[LedgerRow]
    items: list[LedgerRow]
    by_gsp_class: list[LedgerRow]
    by_insurance_category: list[LedgerRow]
    total: LedgerRow
    checks: Any = None  # reports.ledger_checks.Checks, when asked for

    def unbalanced(self) -> list[LedgerRow]:
        return [r for r in [*self.batches, *self.items] if not r.balanced(self.layout)]


def _identity(b: Any) -> dict[str, Any]:
    smallest = b.split_unit if (b.split_ratio or 1) > 1 and b.split_unit else b.unit
    return {"code": b.code, "nhsa_code": b.nhsa_code or "", "generic_name": b.generic_name or b.name, "name": b.name,
            "spec": b.spec, "dosage_form": b.dosage_form, "manufacturer": b.manufacturer, "approval_no": b.approval_no,
            "batch_no": b.batch_no, "lot_no": b.lot_no, "expires_on": b.expires_on, "unit": smallest}


def _plus(acc: list[int], qty: Any, cost: Any, retail: Any) -> None:
    acc[0] += int(qty)
    acc[1] += int(cost)
    acc[2] += int(retail)


def build(sums: Iterable[Any], identities: Iterable[Any], store_id: int, start: date, end: date,
          layout: LedgerLayout = DEFAULT) -> LedgerReport:
    """The report from plain facts: `sums` as queries.movement_sums gives them (per batch and kind), `identities`
    as queries.batch_identities. Pure: the property tests call it on generated facts."""
    column_of = layout.column_of()
    ident = {int(b.batch_id): b for b in identities}
    # summed as plain ints first (a year's rows are many), made Figures once per row at the end
    acc: dict[int, dict[str, list[int]]] = {}
    items_of: dict[int, int] = {}
    place: dict[str, tuple[str, int]] = {}  # kind -> (column key or "" for a move within the store, sign)
    # unpacked by position (queries.movement_sums' column order): a Row's attribute access costs more than the sums
    for batch_id, item_id, kind, oq, oc, orr, q, c, r, cq, cc, cr in sums:
        bid = int(batch_id)
        a = acc.get(bid)
        if a is None:
            a = acc[bid] = {"opening": [0, 0, 0], "closing": [0, 0, 0]}
            items_of[bid] = int(item_id)
        _plus(a["opening"], oq, oc, orr)
        _plus(a["closing"], cq, cc, cr)
        if not (q or c or r):
            continue
        if kind not in place:
            t = type_of(kind)
            place[kind] = ("", 1) if t.column is None else (column_of[t.column],
                                                            1 if t.column.value.startswith("in_") else -1)
        key, sign = place[kind]
        _plus(a.setdefault(key or "unplaced", [0, 0, 0]), sign * q, sign * c, sign * r)
    rows: dict[int, LedgerRow] = {}
    for bid, a in acc.items():
        b = ident.get(bid)
        item_id = items_of[bid]
        rows[bid] = LedgerRow(item_id, bid, _identity(b) if b else {"code": f"#{item_id}"},
                              b.gsp_class if b else "", b.insurance_category if b else "",
                              Figure(*a.pop("opening")), closing=Figure(*a.pop("closing")),
                              unplaced=Figure(*a.pop("unplaced", [0, 0, 0])),
                              columns={k: Figure(*v) for k, v in a.items()})
    batches = sorted((r for r in rows.values() if r.opening or r.closing or r.columns or r.unplaced),
                     key=lambda r: (r.identity.get("code", ""), str(r.identity.get("expires_on", "")),
                                    r.identity.get("batch_no", ""), r.batch_id))
    items: dict[int, LedgerRow] = {}
    for r in batches:
        assert r.item_id is not None
        it = items.get(r.item_id)
        if it is None:
            idn = {k: ("" if f.batch_only else r.identity.get(k, "")) for f in layout.identity for k in [f.key]}
            it = items[r.item_id] = LedgerRow(r.item_id, None, idn, r.gsp_class, r.insurance_category)
        it.add(r)
    return LedgerReport(store_id, start, end, layout, batches, list(items.values()),
                        _totals(items.values(), "gsp_class"), _totals(items.values(), "insurance_category"),
                        _total(items.values(), "合计"))


def _total(rows: Iterable[LedgerRow], label: str) -> LedgerRow:
    t = LedgerRow(None, None, {}, label=label)
    for r in rows:
        t.add(r)
    return t


def _totals(rows: Iterable[LedgerRow], attr: str) -> list[LedgerRow]:
    groups: dict[str, list[LedgerRow]] = {}
    for r in rows:
        groups.setdefault(getattr(r, attr) or "", []).append(r)
    out = []
    for key in sorted(groups):
        t = _total(groups[key], key)
        setattr(t, attr, key)
        out.append(t)
    return out


def month_of(day: date) -> tuple[date, date]:
    """The calendar month a day is in: the report's default period."""
    first = day.replace(day=1)
    nxt = first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


def ledger_report(engine: Engine, store_id: int, start: date, end: date, layout: LedgerLayout = DEFAULT,
                  checks: bool = True, from_snapshot: bool = True) -> LedgerReport:
    """The 进销存 of [start, end] (business dates, both included), read in one snapshot; with the inspector's
    checks (reports.ledger_checks) unless asked not to. Its opening comes from the last period close before
    `start` (月结: the snapshot plus what was dated after it), unless `from_snapshot` is False (the whole
    history replayed: what a test compares it with)."""
    if end < start:
        raise ValueError("the period ends before it starts")
    with queries.reading(engine) as conn:
        report = build(queries.movement_sums(conn, store_id, start, end, from_snapshot),
                       queries.batch_identities(conn, store_id),
                       store_id, start, end, layout)
        if checks:
            report.checks = ledger_checks.run(conn, report, from_snapshot)
    return report


def as_dict(report: LedgerReport) -> dict[str, Any]:
    """The report as plain data (the API's answer, `dingdian report ledger --json`): figures in fen, outs
    positive, every row with its `balanced` flag; the checks with their verdicts."""
    lay = report.layout

    def row(r: LedgerRow) -> dict[str, Any]:
        def fig(f: Figure) -> dict[str, int]:
            return {"qty": f.qty, "cost_fen": f.cost, "retail_fen": f.retail}

        ident = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in r.identity.items()}
        return {"item_id": r.item_id, "batch_id": r.batch_id, "label": r.label, "identity": ident,
                "gsp_class": r.gsp_class, "insurance_category": r.insurance_category, "opening": fig(r.opening),
                "columns": {c.key: fig(r.col(c.key)) for c in lay.columns}, "closing": fig(r.closing),
                "balanced": r.balanced(lay)}

    checks = report.checks
    return {
        "from": report.start.isoformat(), "to": report.end.isoformat(), "layout": lay.name,
        "columns": [{"key": c.key, "zh": c.zh, "en": c.en, "side": "in" if c.inflow else "out"} for c in lay.columns],
        "identity": [{"key": f.key, "zh": f.zh, "en": f.en} for f in lay.identity],
        "batches": [row(r) for r in report.batches], "items": [row(r) for r in report.items],
        "by_gsp_class": [row(r) for r in report.by_gsp_class],
        "by_insurance_category": [row(r) for r in report.by_insurance_category], "total": row(report.total),
        "checks": None if checks is None else {
            "verdicts": checks.verdicts(), "count_documents": checks.count_documents,
            "lines": [{"check": a, "verdict": b, "subject": c, "detail": d} for a, b, c, d in checks.lines()]},
    }
