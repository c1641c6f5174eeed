"""The checklist for a period: its facts read through reports.queries in one read-only snapshot, every item judged."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine

from reports import queries
from reports.checklist.facts import AuditFacts, Facts, Policy
from reports.checklist.fund_use import RECEIVED_KINDS
from reports.checklist.items import evaluate
from reports.checklist.verdict import Checklist


def gather(conn: Any, store_id: int, first: date, last: date, today: date, policy: Policy,
           audit: AuditFacts | None, extra: dict[str, Any] | None = None) -> Facts:
    f = Facts(store_id=store_id, first=first, last=last, today=today, policy=policy,
              store=queries.store_row(conn, store_id), agreement=queries.agreement_history(conn, store_id),
              settlements=queries.card_settlements_in(conn, store_id, first, last),
              backups=queries.backup_runs(conn, store_id), drills=queries.restore_drills(conn, store_id),
              accounts=queries.accounts(conn, store_id), grants=queries.role_grants(conn, store_id),
              past_expiry=queries.sold_past_expiry(conn, store_id, first, last),
              receipts=queries.receipts_in(conn, store_id, first, last),
              rx_lines=queries.rx_lines_reviewed(conn, store_id, first, last),
              prices=queries.line_prices(conn, store_id, first, last), printed=(), logged=(),
              attestations=queries.attestations(conn, store_id), trainings=queries.trainings(conn, store_id),
              audit=audit, extra=extra or {})
    since, until = f.utc_bounds()
    return Facts(**{**f.__dict__, "printed": queries.documents_printed(conn, store_id, since, until),
                    "logged": queries.audit_texts(conn, store_id, since, until),
                    "reads": queries.record_reads(conn, store_id, since, until),
                    "purchases": queries.card_purchases(conn, store_id, first, last),
                    "purchases_before": queries.card_purchases(
                        conn, store_id, first - timedelta(days=policy.fund_use.repeat_window_days - 1),
                        first - timedelta(days=1)),
                    "card_lines": queries.card_settled_lines(conn, store_id, first, last),
                    "traces_again": queries.trace_codes_sold_again(conn, store_id),
                    "received": queries.received_per_item(conn, store_id, last, RECEIVED_KINDS),
                    "duties": queries.pharmacist_duties_of_people(conn, store_id, since, until),
                    "placements": queries.placements(conn, store_id),
                    "label_items": queries.label_items(conn, store_id),
                    "shelf_labels": queries.last_shelf_labels(conn, store_id)})


def checklist(engine: Engine, store_id: int, first: date, last: date, today: date, policy: Policy,
              audit: AuditFacts | None, extra: dict[str, Any] | None = None) -> Checklist:
    with queries.reading(engine) as conn:
        facts = gather(conn, store_id, first, last, today, policy, audit, extra)
    return Checklist(policy.store_code, first, last, today, tuple(evaluate(facts)))
