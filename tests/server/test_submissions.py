"""ST-04: reports as submissions — a period, a status, who submitted it and when, the file kept and checked against
its SHA-256 on every read; a submitted file never replaced (a resubmission is a new row naming the one it follows,
and the database refuses the overwrite on both backends); overdue on the store's clock, refused where the deadline
is unset."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, exc, text
from sqlmodel import select

from server import audit
from server.audit import Actor
from server.config import Settings
from server.db.engine import make_engine
from server.db.models import User
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.services.context import Ctx
from server.services.store import submissions
from server.services.store.profile import bootstrap_store
from tests.conftest import add_role_users, make_settings

SH, UTC = ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")


@dataclass
class Shop:
    engine: Engine
    settings: Settings
    store_id: int
    admin: Actor
    manager: Actor

    def at(self, y: int, mo: int, d: int, h: int = 10, mi: int = 0, s: int = 0, actor: Actor | None = None,
           settings: Settings | None = None) -> Ctx:
        return Ctx(self.store_id, settings or self.settings, actor or self.admin,
                   datetime(y, mo, d, h, mi, s, tzinfo=SH).astimezone(UTC))

    def count(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return (int(conn.execute(text("SELECT COUNT(*) FROM report_submission")).scalar_one()),
                    int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM audit_entry")).scalar_one()))


def _actors(engine: Engine, ctx: Ctx) -> dict[str, Actor]:
    add_role_users(engine, ctx)
    with read_session(engine) as s:
        return {u.username: Actor(id_of(u), u.username) for u in s.exec(select(User))}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Shop]:
    path = tmp_path_factory.mktemp("submissions") / "s.db"
    shutil.copy(sqlite_template, path)
    settings = make_settings(f"sqlite:///{path}")
    engine = make_engine(settings.database.url)
    store_id = bootstrap_store(engine, settings)
    people = _actors(engine, Ctx(store_id, settings))
    yield Shop(engine, settings, store_id, people["u_insurance_admin"], people["u_manager"])
    engine.dispose()


def _do(shop: Shop, work: Any) -> Any:
    with core_unit(shop.engine) as u:
        return submissions.describe(work(u))


@pytest.mark.refuses("ST-04")
def test_a_rejected_report_is_resubmitted_as_a_new_row_never_overwritten(shop: Shop) -> None:
    ctx = shop.at(2026, 2, 8)
    v1 = _do(shop, lambda u: submissions.draft(u, ctx, "ledger", date(2026, 1, 1), "进销存-2026-01.xlsx", b"v1"))
    assert (v1["status"], v1["version"], v1["period"], v1["sha256"]) == ("draft", 1, "2026-01",
                                                                         hashlib.sha256(b"v1").hexdigest())
    _do(shop, lambda u: submissions.replace_draft(u, ctx, v1["id"], "", b"v1b"))  # a draft's file may change
    sent = _do(shop, lambda u: submissions.submit(u, shop.at(2026, 2, 9, actor=shop.manager), v1["id"]))
    assert (sent["status"], sent["submitted_by"]) == ("submitted", shop.manager.user_id)
    assert sent["submitted_at"] == datetime(2026, 2, 9, 2, tzinfo=UTC)
    before = shop.count()
    walk_arounds = [  # the file swapped after submitting, a fresh "first" version, a resubmission before a verdict,
        lambda u: submissions.replace_draft(u, ctx, v1["id"], "", b"better"),  # a rejection with no reason
        lambda u: submissions.draft(u, ctx, "ledger", date(2026, 1, 1), "", b"better"),
        lambda u: submissions.draft(u, ctx, "ledger", None, "", b"better", previous_id=v1["id"]),
        lambda u: submissions.decide(u, ctx, v1["id"], False, " "),
        lambda u: submissions.draft(u, ctx, "ledger", date(2026, 1, 15), "", b"x"),  # not a period's first day
    ]
    for attempt in walk_arounds:
        with pytest.raises(AppError) as refused, core_unit(shop.engine) as u:
            attempt(u)
        assert refused.value.code == "ST-04", refused.value.body()
    assert shop.count() == before
    _do(shop, lambda u: submissions.decide(u, shop.at(2026, 2, 12), v1["id"], False, "期末数量与上传不符", "TH-01"))
    v2 = _do(shop, lambda u: submissions.draft(u, ctx, "", None, "进销存-2026-01-v2.xlsx", b"v2", v1["id"]))
    assert (v2["version"], v2["previous_id"], v2["kind"], v2["period"]) == (2, v1["id"], "ledger", "2026-01")
    with pytest.raises(AppError) as fork, core_unit(shop.engine) as u:  # a second resubmission of the same one
        submissions.draft(u, ctx, "", None, "", b"v2b", v1["id"])
    assert fork.value.code == "ST-04"
    _do(shop, lambda u: submissions.submit(u, ctx, v2["id"]))
    _do(shop, lambda u: submissions.decide(u, ctx, v2["id"], True, agency_ref="SL-02"))
    with read_session(shop.engine) as s:
        first, second = submissions.get(s, ctx, v1["id"]), submissions.get(s, ctx, v2["id"])
        assert (submissions.checked(first), first.status, first.reason) == (b"v1b", "rejected", "期末数量与上传不符")
        assert (submissions.checked(second), second.status) == (b"v2", "accepted")


@pytest.mark.refuses("ST-04")
def test_an_overdue_report_is_visible_and_an_unset_deadline_refused(shop: Shop) -> None:
    """report_deadline_day is 10: January's card statement is due 10 February. Missing on the 11th it is overdue;
    submitted, it is not; rejected, it is owed again. The declaration's deadline is unset: refused, not guessed."""
    def board(ctx: Ctx) -> dict[str, dict[str, Any]]:
        with read_session(shop.engine) as s:
            b = submissions.board(s, ctx, 2026, "card_statement")
        return {r["period"]: r for r in b.rows}

    assert board(shop.at(2026, 2, 10, 23, 59, 59))["2026-01"]["overdue"] is False
    late = board(shop.at(2026, 2, 11, 0, 0, 1))
    assert (late["2026-01"]["overdue"], late["2026-01"]["status"], late["2026-01"]["due_on"]) == (
        True, "missing", date(2026, 2, 10))
    assert late["2025-12"]["due_on"] == date(2026, 1, 10) and late["2025-12"]["overdue"]
    ctx = shop.at(2026, 2, 11)
    row = _do(shop, lambda u: submissions.draft(u, ctx, "card_statement", date(2026, 1, 1), "", b"stmt"))
    assert board(ctx)["2026-01"]["overdue"] is True  # a draft is not handed in
    _do(shop, lambda u: submissions.submit(u, ctx, row["id"]))
    assert board(ctx)["2026-01"]["overdue"] is False
    _do(shop, lambda u: submissions.decide(u, shop.at(2026, 2, 12), row["id"], False, "缺少签章"))
    assert board(shop.at(2026, 2, 12))["2026-01"]["overdue"] is True
    with read_session(shop.engine) as s:  # what the checklist's item 4 is given
        facts = submissions.checklist_facts(s, shop.at(2026, 2, 12))
    assert ("card_statement", "2026-01", "rejected") in {(o["kind"], o["period"], o["status"]) for o in facts["overdue"]}
    assert [u["details"]["kind"] for u in facts["unset"]] == ["declaration"]
    with pytest.raises(AppError) as unset, read_session(shop.engine) as s:
        submissions.board(s, ctx, 2026, "declaration")
    assert unset.value.code == "ST-04" and "deadline_days.declaration" in unset.value.message_zh
    with read_session(shop.engine) as s:
        everything = submissions.board(s, ctx, 2026)
        assert [v.details["kind"] for v in everything.unset] == ["declaration"]
        set_now = make_settings(shop.settings.database.url, reports={"deadline_days": {"declaration": 15}})
        declared = submissions.board(s, shop.at(2026, 2, 16, settings=set_now), 2026, "declaration")
    assert {r["period"]: r["overdue"] for r in declared.rows}["2026-01"] is True
    with shop.engine.begin() as conn:  # nothing is owed from before the 医保 agreement began
        conn.execute(text("UPDATE store SET agreement_start = '2026-01-01' WHERE id = :s"), {"s": shop.store_id})
    try:
        assert "2025-12" not in board(shop.at(2026, 2, 12)) and "2026-01" in board(shop.at(2026, 2, 12))
    finally:
        with shop.engine.begin() as conn:
            conn.execute(text("UPDATE store SET agreement_start = NULL WHERE id = :s"), {"s": shop.store_id})


@pytest.mark.refuses("ST-04", "ST-02")
def test_a_resubmission_overwriting_the_file_by_raw_sql_is_refused(engine: Engine, ctx: Ctx) -> None:
    """Both backends: once submitted, the file, its checksum, its period and who submitted it are refused any change;
    the status moves only forward; nothing is deleted. A draft's file is the one lawful change."""
    people = _actors(engine, ctx)
    acting = ctx.acting(people["u_insurance_admin"])
    with core_unit(engine) as u:
        row = submissions.draft(u, acting, "rx_statement", date(2026, 1, 1), "rx.xlsx", b"original")
        rid = id_of(row)
    with engine.begin() as conn:  # lawful: a draft's file replaced
        conn.execute(text("UPDATE report_submission SET content = :c, sha256 = :h, size = 5 WHERE id = :i"),
                     {"c": b"draft", "h": hashlib.sha256(b"draft").hexdigest(), "i": rid})
    with core_unit(engine) as u:
        submissions.submit(u, acting, rid)
    refused: list[tuple[str, dict[str, Any]]] = [
        ("UPDATE report_submission SET content = :c WHERE id = :i", {"c": b"forged"}),
        ("UPDATE report_submission SET content = :c, sha256 = :h WHERE id = :i",
         {"c": b"forged", "h": hashlib.sha256(b"forged").hexdigest()}),
        ("UPDATE report_submission SET status = 'draft' WHERE id = :i", {}),
        ("UPDATE report_submission SET submitted_at = NULL WHERE id = :i", {}),
        ("UPDATE report_submission SET period_start = '2026-02-01' WHERE id = :i", {}),
        ("DELETE FROM report_submission WHERE id = :i", {})]
    for sql, params in refused:
        with pytest.raises(exc.DBAPIError), engine.begin() as conn:
            conn.execute(text(sql), params | {"i": rid})
    with engine.begin() as conn:  # lawful: the agency's verdict, once
        conn.execute(text("UPDATE report_submission SET status = 'rejected', reason = 'x' WHERE id = :i"), {"i": rid})
    with pytest.raises(exc.DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE report_submission SET status = 'accepted' WHERE id = :i"), {"i": rid})
    with read_session(engine) as s:
        assert submissions.checked(submissions.get(s, acting, rid)) == b"draft"


@pytest.mark.refuses("ST-02")
@pytest.mark.parametrize("backend", ["sqlite"])  # no guard refuses here: the read and verify do, alike on both
def test_a_file_altered_behind_the_guard_is_never_handed_out(engine: Engine, ctx: Ctx) -> None:
    """Whoever drops the guard and rewrites the bytes: the read re-verifies the checksum and refuses."""
    acting = ctx.acting(_actors(engine, ctx)["u_insurance_admin"])
    with core_unit(engine) as u:
        rid = id_of(submissions.submit(u, acting, id_of(submissions.draft(u, acting, "ledger", date(2026, 4, 1), "",
                                                                          b"april"))))
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER guard_report_submission_update"))
        conn.execute(text("UPDATE report_submission SET content = :c WHERE id = :i"), {"c": b"APRIL", "i": rid})
    with read_session(engine) as s:
        altered = submissions.get(s, acting, rid)
        assert submissions.describe(altered)["verified"] is False
        with pytest.raises(AppError) as refused:
            submissions.checked(altered)
    assert refused.value.code == "ST-02"
    with read_session(engine) as s:  # and `dingdian audit verify` names it
        problems = audit.verify(s, ctx.store_id).problems
    assert {(p["table"], p["row_id"], tuple(p["columns"])) for p in problems
            if p.get("table") == "report_submission"} == {("report_submission", str(rid), ("content",))}


def test_every_submission_verifies_against_its_audit_image(shop: Shop) -> None:
    ctx = shop.at(2026, 7, 2)
    _do(shop, lambda u: submissions.draft(u, ctx, "rx_statement", date(2026, 6, 1), "", b"june"))
    with read_session(shop.engine) as s:
        report = audit.verify(s, shop.store_id)
    assert [p for p in report.problems if p.get("table") == "report_submission"] == []
