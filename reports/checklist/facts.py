"""The plain facts the checklist's items judge: rows read through reports.queries in one snapshot, the store's
settings as plain values, and the audit chain's verification (which the caller runs: reports import no audit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class FundUsePolicy:
    """CHECK 17's thresholds (config.toml [checklist]): when an analysis lists a finding for a person to judge."""

    repeat_window_days: int = 7
    repeat_max_sales: int = 3
    max_days_supply: int = 30
    max_units_per_drug: int = 10
    open_from: time = time(8)
    open_until: time = time(22)
    store_24h: bool = False
    late_from: time = time(0)
    late_until: time = time(5)


@dataclass(frozen=True)
class Policy:
    store_code: str
    site_code: str
    tz: ZoneInfo
    min_contract_years: int
    min_insurance_admins: int
    drill_every_days: int
    backup_dir: str
    fund_use: FundUsePolicy = FundUsePolicy()


@dataclass(frozen=True)
class AuditFacts:
    """`dingdian audit verify` over the store's chain: entries read, and the problems it named (kind, table …)."""

    entries: int
    problems: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Facts:
    store_id: int
    first: date
    last: date
    today: date
    policy: Policy
    store: Any
    agreement: Sequence[Any]
    settlements: Sequence[Any]
    backups: Sequence[Any]
    drills: Sequence[Any]
    accounts: Sequence[Any]
    grants: Sequence[Any]
    past_expiry: Sequence[Any]
    receipts: Sequence[Any]
    rx_lines: Sequence[Any]
    prices: Sequence[Any]
    printed: Sequence[Any]
    logged: Sequence[Any]
    attestations: Sequence[Any]
    trainings: Sequence[Any]
    audit: AuditFacts | None
    # wings not yet in the data (uploads, submissions, receivables, the inspection export): what they return, once
    # they exist, is registered here by name; absent, their items say 需人工确认 and what is missing
    extra: dict[str, Any] = field(default_factory=dict)
    # CHECK 17, 19, 21, 24: the card purchases and their lines, trace codes sold in more than one sale, stock
    # received per item, pharmacist duties of this store's people at any store, items with their zones
    purchases: Sequence[Any] = ()
    purchases_before: Sequence[Any] = ()  # the repeat window's days before the period: a window may straddle it
    card_lines: Sequence[Any] = ()
    traces_again: Sequence[Any] = ()
    received: Sequence[Any] = ()
    duties: Sequence[Any] = ()
    placements: Sequence[Any] = ()
    # CHECK 21, GSP-04: what each active item's label would show now, and each item's last printed label
    label_items: Sequence[Any] = ()
    shelf_labels: Sequence[Any] = ()
    # CHECK 14, SEC-06: the period's reads of insured persons' full records (who read whose, when, by which door)
    reads: Sequence[Any] = ()

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """The period in UTC instants: from the first day's start to the day after the last, in the store's zone."""
        tz = self.policy.tz
        start = datetime.combine(self.first, time(0), tzinfo=tz)
        end = datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=tz)
        return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))

    def active_roles(self) -> dict[int, set[str]]:
        """Each account's live posts (approved, not revoked)."""
        roles: dict[int, set[str]] = {}
        for g in self.grants:
            if not g.pending and g.revoked_at is None:
                roles.setdefault(int(g.user_id), set()).add(str(g.role))
        return roles
