"""The stock documents kept as issued (issue #19): every copy printed, through the API or the command line, is kept
byte for byte (issued_document, append-only, audited); a presented file is checked against the kept copies — one
byte changed and it is refused (ST-02) — and a paper copy's 核验码 finds the copies that carry it, saying whether the
document still reads the same today (a count submitted since: it does not)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from server import audit
from server.cli import app
from server.config import ROOT, Settings
from server.db.uow import read_session
from server.services.context import Ctx
from tests.conftest import ROLE_PINS, Shop
from tests.server.test_counts import BOOK, _count_as_book
from tests.tamper import behind_the_guard

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.mark.refuses("ST-02")
def test_a_printed_copy_is_kept_and_a_changed_byte_is_refused(shop: Shop, engine: Engine, settings: Settings,
                                                               ctx: Ctx, tmp_path: Path) -> None:
    c, ph, mg = shop["client"], shop["pharmacist"], shop["manager"]
    sheet = c.post("/counts", json={"note": "月末盘点"}, headers=ph).json()
    printed = c.get(f"/counts/{sheet['id']}/sheet.pdf", headers=ph)
    assert printed.status_code == 200, printed.text
    body, code, copy_id = printed.content, printed.headers["x-document-fingerprint"], int(
        printed.headers["x-document-copy"])
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT kind, ref_id, fingerprint, content, sha256, size, issued_by FROM "
                                 "issued_document WHERE id = :i"), {"i": copy_id}).one()
        audited = conn.execute(text("SELECT COUNT(*) FROM audit_entry WHERE action = 'document.issue' AND "
                                    "entity = 'issued_document' AND entity_id = :i"), {"i": str(copy_id)}).scalar()
        pharmacist = conn.execute(text("SELECT id FROM app_user WHERE username = 'u_pharmacist'")).scalar()
    assert (kept.kind, kept.ref_id, kept.fingerprint) == ("count_sheet", sheet["id"], code)
    assert bytes(kept.content) == body and kept.sha256 == hashlib.sha256(body).hexdigest() and kept.size == len(body)
    assert kept.issued_by == pharmacist and audited == 1
    # printed again, from the command line: a new copy, kept, with the same 核验码 (the same facts)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    runner = CliRunner()
    pin = ROLE_PINS["cashier"] + "\n"
    out = tmp_path / "sheet.pdf"
    made = runner.invoke(app, ["pdf", "count-sheet", str(sheet["id"]), "--out", str(out), "--config", str(config),
                               "--as", "u_cashier"], input=pin)
    assert made.exit_code == 0 and f"核验码 / fingerprint: {code}" in made.output, made.output
    assert f"留存副本 / kept copy: {copy_id + 1}" in made.output
    with engine.connect() as conn:  # the copy kept is the file handed out (within the same second, the same bytes)
        again = conn.execute(text("SELECT content FROM issued_document WHERE id = :i"), {"i": copy_id + 1}).scalar()
    assert again is not None and bytes(again) == out.read_bytes()

    # the file presented as issued: found, still current
    ok = c.post("/documents/verify", json={"content_b64": _b64(body)}, headers=mg)
    assert ok.status_code == 200, ok.text
    assert [(d["id"], d["kind"], d["ref_id"], d["current"]) for d in ok.json()] == [
        (copy_id, "count_sheet", sheet["id"], True)]
    assert c.get(f"/documents/{copy_id}/pdf", headers=mg).content == body  # the kept copy given back as it was
    # one byte changed (in the middle, and a byte added at the end): refused, whatever else it says
    at = len(body) // 2
    for forged in (body[:at] + bytes([body[at] ^ 1]) + body[at + 1:], body + b"\n"):
        no = c.post("/documents/verify", json={"content_b64": _b64(forged)}, headers=mg)
        assert no.status_code == 409 and no.json()["code"] == "ST-02", no.text
        assert "改动" in no.json()["message_zh"] and "altered" in no.json()["message_en"]
    for garbage in ("not base64!", "核验"):
        assert c.post("/documents/verify", json={"content_b64": garbage}, headers=mg).status_code == 422
    assert c.post("/documents/verify", json={}, headers=mg).status_code == 422

    # the paper copy's 核验码, typed as read (lower case, no dashes): both copies; after the count is handed in the
    # document no longer reads the same, and the copies say so
    _count_as_book(c, ph, sheet, BOOK)
    assert c.post(f"/counts/{sheet['id']}/submit", json={}, headers=ph).status_code == 200
    by_code = c.post("/documents/verify", json={"code": code.replace("-", "").lower()}, headers=ph)
    assert by_code.status_code == 200, by_code.text
    assert [(d["fingerprint"], d["current"]) for d in by_code.json()] == [(code, False), (code, False)]
    unknown = c.post("/documents/verify", json={"code": "0000-0000-0000-0000"}, headers=ph)
    assert unknown.status_code == 404 and unknown.json()["code"] == "ST-02"
    assert c.post("/documents/verify", json={"code": "核验码"}, headers=ph).status_code == 422

    # the kept copy cannot be edited or removed; one edited behind the guard is named by audit verify
    for sql in ("UPDATE issued_document SET content = x'00' WHERE id = :i", "DELETE FROM issued_document WHERE id = :i"):
        with pytest.raises(sqlalchemy.exc.DatabaseError), engine.begin() as conn:
            conn.execute(text(sql), {"i": copy_id})
    edit = text("UPDATE issued_document SET content = :b WHERE id = :i")
    with behind_the_guard(engine, "issued_document") as conn:
        conn.execute(edit, {"b": forged, "i": copy_id})
    with read_session(engine) as s:
        named = audit.verify(s, ctx.store_id).problems
    with behind_the_guard(engine, "issued_document") as conn:
        conn.execute(edit, {"b": body, "i": copy_id})
    assert [(p["table"], p["row_id"]) for p in named] == [("issued_document", str(copy_id))], named

    # the command line checks a file as the API does
    verify = ["documents", "verify", "--config", str(config), "--as", "u_cashier"]
    same = runner.invoke(app, [*verify, str(out)], input=pin)
    assert same.exit_code == 0 and "与留存副本一致" in same.output and "盘点表" in same.output, same.output
    assert "单据此后已有变化" in same.output  # handed in since it was printed
    forged_file = tmp_path / "forged.pdf"
    data = out.read_bytes()
    forged_file.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    refused = runner.invoke(app, [*verify, str(forged_file)], input=pin)
    assert refused.exit_code == 1 and "[ST-02]" in refused.output, refused.output
    both = runner.invoke(app, [*verify, code], input=pin)
    assert both.exit_code == 0 and both.output.count("留存副本 / kept copy #") == 2, both.output
