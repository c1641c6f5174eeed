"""SEC-06: a read of an insured person's full record — a search by their identity number, a download of their
prescription's scan — is logged: who, when, whose (the number masked, never whole), why (issue #17)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from server import audit
from server.db.models import AuditEntry
from server.db.uow import read_session
from server.privacy import READ
from server.services.context import Ctx
from tests.conftest import Shop
from tests.server.test_prescriptions import enter

PATIENT_ID = "110101199003071234"


def _reads(engine: Engine) -> list[AuditEntry]:
    with read_session(engine) as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == READ).order_by(col(AuditEntry.seq))))


@pytest.mark.refuses("SEC-06")
def test_a_search_by_id_number_and_a_scan_download_are_logged_masked(shop: Shop, engine: Engine,
                                                                   ctx: Ctx) -> None:
    c, m = shop["client"], shop["manager"]
    rx = enter(shop, patient_certno=PATIENT_ID).json()
    assert c.get("/prescriptions", params={"patient": "张三"}, headers=m).status_code == 200  # by name: no full record
    assert c.get("/prescriptions", params={"patient": "110101199003070000"}, headers=m).json() == []  # nobody's
    assert _reads(engine) == []
    found = c.get("/prescriptions", params={"patient": PATIENT_ID, "reason": "医保稽核抽查"}, headers=m)
    assert [r["id"] for r in found.json()] == [rx["id"]]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    up = c.post(f"/prescriptions/{rx['id']}/attachments", content=png,
                headers=shop["cashier"] | {"Content-Type": "image/png"})
    got = c.get(f"/prescriptions/{rx['id']}/attachments/{up.json()['id']}", headers=m)
    assert got.content == png
    search, download = _reads(engine)
    for entry in (search, download):
        assert entry.actor == "u_manager" and entry.entity_id == "1101**********1234"
        assert entry.after is not None and entry.after["whose"] == "1101**********1234"
        assert entry.after["name"] == rx["patient_name"]
    assert search.after is not None and download.after is not None
    assert search.after["why"] == "医保稽核抽查" and rx["rx_no"] in search.after["what"]
    assert "scan" in download.after["what"] and "下载" in download.note
    assert (search.after["route"], download.after["route"]) == (  # the door each came through
        "GET /prescriptions?patient=", "GET /prescriptions/{rx_id}/attachments/{attachment_id}")
    with read_session(engine) as s:  # the whole number is in no entry of the log
        everything = [json.dumps([e.before, e.after, e.note, e.entity_id], ensure_ascii=False)
                      for e in s.exec(select(AuditEntry))]
        assert not any(PATIENT_ID in text for text in everything)
        assert audit.verify(s, ctx.store_id).ok
