"""The inspection export (ST-08): one archive of a period with a manifest and the audit chain's head; `dingdian
inspection verify` names a changed, missing or added file; identity numbers masked everywhere unless the archive
is for the agency, which only the 医保 administrator may make (SEC-06, SEC-01); the export is audited."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from catalog.codes import mask_id
from server import audit
from server.cli import app
from server.db.uow import read_session
from server.services.context import Ctx
from server.services.inspection import archive
from tests import privacy_scan
from tests.conftest import BARCODE_AMOX, BARCODE_VITC, Shop, prescribe
from tests.server.test_duty_cli import _config
from tests.server.test_selling import new_sale, pay_cash, scan

PATIENT_ID = "110101199003071234"
INSURED_ID = "44030119851212002X"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ANY_ID = re.compile(rb"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")  # not inside a hex digest


def _unpacked(archive: Path, into: Path) -> list[Path]:
    with zipfile.ZipFile(archive) as z:
        z.extractall(into)
    return [p for p in into.rglob("*") if p.is_file()]


def _rewritten(archive: Path, out: Path, change: dict[str, bytes | None], add: dict[str, bytes]) -> Path:
    """A copy of the archive with files changed (or, given None, left out) and files added."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                if (data := change[info.filename]) is not None:
                    dst.writestr(info.filename, data)
            else:
                dst.writestr(info.filename, src.read(info.filename))
        for name, data in add.items():
            dst.writestr(name, data)
    return out


@pytest.mark.refuses("ST-08", "SEC-06", "SEC-01")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_inspection_archive_holds_the_period_checks_itself_and_masks_identity_numbers(
        shop: Shop, engine: Engine, ctx: Ctx, settings: Any, tmp_path: Path) -> None:
    c, h, today = shop["client"], shop["cashier"], shop["clock"].today
    sid = new_sale(c, h)
    scan(c, h, sid, BARCODE_AMOX, 1)
    scan(c, h, sid, BARCODE_VITC, 1)
    rx = prescribe(shop, sid, [(shop["items"]["amox"], 1, False)], patient_certno=PATIENT_ID)
    up = c.post(f"/prescriptions/{rx['id']}/attachments", content=PNG, headers=h | {"Content-Type": "image/png"})
    assert up.status_code == 201, up.text
    assert pay_cash(c, h, sid, 1250 + 350, 2000).status_code == 200
    with engine.connect() as conn:
        user = conn.execute(text("SELECT id FROM app_user WHERE username = 'u_cashier'")).scalar_one()
    with engine.begin() as conn:  # who the card would have paid for (the 1101 answer), with their ID number
        conn.execute(text(
            "INSERT INTO sale_insured (store_id, sale_id, method, id_reason, mdtrt_cert_type, mdtrt_cert_no, card_sn, "
            "psn_no, psn_name, psn_cert_type, certno, gend, insutype, psn_type, balc_fen, insuplc_admdvs, buyer_name, "
            "buyer_certno, identified_by, identified_at, signed_how) VALUES (:s, :sale, 'id', '忘带卡', '02', :cert, "
            "'', 'P1', '王五', '01', :cert, '1', '310', '11', 0, '440300', '', '', :u, :at, '')"),
            {"s": ctx.store_id, "sale": sid, "cert": INSURED_ID, "u": user, "at": shop["clock"].now})
    config = _config(tmp_path, settings)
    runner = CliRunner()

    def cli(*args: str, pin: str = "") -> Any:
        return runner.invoke(app, [*args, "--config", str(config)], input=pin)

    def verify(archive: Path) -> Any:  # needs no database: an inspector runs it on their own machine
        return runner.invoke(app, ["inspection", "verify", str(archive)])

    period = ("--from", today.replace(day=1).isoformat(), "--to", today.isoformat())
    masked = tmp_path / "masked.zip"

    def statement(conn: Any, ctx_: Any, first: Any, last: Any, mask: bool) -> list[archive.Entry]:  # another wing's
        return [archive.Entry("statements/card.csv", f"\ufeff身份证号\n{mask_id(INSURED_ID) if mask else INSURED_ID}\n"
                              .encode(), 1)]

    archive.register_part("card_statement", statement)
    try:
        made = cli("inspection", "export", *period, "--out", str(masked), "--as", "u_manager", pin="4444\n")
    finally:
        archive.PARTS.pop("card_statement")
    assert made.exit_code == 0, made.output
    files = _unpacked(masked, tmp_path / "masked")
    names = {str(p.relative_to(tmp_path / "masked")) for p in files}
    assert {"manifest.json", "dispensing/sales.csv", "dispensing/sale_lines.csv", "prescriptions/prescriptions.csv",
            "prescriptions/reviews.csv", "purchases/receipts.csv", "receipt_stubs/print_jobs.csv",
            "settlements/insured.csv", "ledger/进销存.xlsx", "audit/audit_log.jsonl", "statements/card.csv",
            "people/staff.csv"} <= names
    assert [n for n in names if n.startswith("prescriptions/images/")] and \
        (tmp_path / "masked" / next(n for n in names if n.startswith("prescriptions/images/"))).read_bytes() == PNG
    # no identity number whole anywhere in the archive (SEC-06), the masked form where they were
    for p in files:
        assert not ANY_ID.search(p.read_bytes()), p
    rx_rows = list(csv.DictReader(io.StringIO((tmp_path / "masked/prescriptions/prescriptions.csv")
                                              .read_text(encoding="utf-8-sig"))))
    assert [r["patient_certno"] for r in rx_rows] == ["1101**********1234"]
    staff = (tmp_path / "masked/people/staff.csv").read_text(encoding="utf-8-sig")
    assert "u_pharmacist" in staff and "argon2" not in staff and "pin_hash" not in staff
    # the manifest: every file, its size, digest and rows; the audit head when it was made
    manifest = json.loads((tmp_path / "masked/manifest.json").read_text(encoding="utf-8"))
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == names - {"manifest.json"}
    assert listed["prescriptions/prescriptions.csv"]["rows"] == 1 and listed["dispensing/sales.csv"]["rows"] == 1
    assert manifest["identity_numbers"] == "masked" and manifest["audit_head"]["seq"] > 0
    checked = verify(masked)
    assert checked.exit_code == 0, checked.output
    # for the agency: not the manager's to make (nothing written); the 医保 administrator's, IDs whole
    agency = privacy_scan.agency_submission(tmp_path / "agency.zip")
    refused = cli("inspection", "export", *period, "--for-agency", "--out", str(agency), "--as", "u_manager",
                  pin="4444\n")
    assert refused.exit_code != 0 and "SEC-01" in refused.output and not agency.exists()
    made = cli("inspection", "export", *period, "--for-agency", "--out", str(agency), "--as", "u_insurance_admin",
               pin="3333\n")
    assert made.exit_code == 0, made.output
    with zipfile.ZipFile(agency) as z:
        assert PATIENT_ID.encode() in z.read("prescriptions/prescriptions.csv")
        assert INSURED_ID.encode() in z.read("settlements/insured.csv")
    with engine.connect() as conn:
        made_by = conn.execute(text("SELECT actor, after FROM audit_entry WHERE action = 'inspection.export' "
                                    "ORDER BY seq")).all()
    images = [(a, json.loads(x) if isinstance(x, str) else x) for a, x in made_by]
    assert [(a, x["for_agency"]) for a, x in images] == [("u_manager", False), ("u_insurance_admin", True)]
    assert images[0][1]["manifest_sha256"] in checked.output  # the archive is the one the log says was made
    with engine.connect() as conn:  # SEC-06: the agency's archive is a read of each full record it holds
        (read,) = conn.execute(text("SELECT actor, after FROM audit_entry WHERE action = 'privacy.read'")).all()
    after = json.loads(read[1]) if isinstance(read[1], str) else read[1]
    assert read[0] == "u_insurance_admin" and after["route"] == "dingdian inspection export --for-agency"
    assert sorted(p["whose"] for p in after["whose"]) == sorted({mask_id(PATIENT_ID), mask_id(INSURED_ID)})
    with read_session(engine) as s:  # what the compliance checklist (item 8) reads
        assert [(e["by"], e["for_agency"]) for e in archive.exports(s, ctx.store_id)] == \
            [("u_insurance_admin", True), ("u_manager", False)]
    # verify names a changed, a missing and an added file, each
    tampered = _rewritten(masked, tmp_path / "tampered.zip",
                          {"dispensing/sales.csv": b"\xef\xbb\xbfid\nforged\n", "audit/audit_log.jsonl": None},
                          {"dispensing/extra.csv": b"x\n"})
    checked = verify(tampered)
    assert checked.exit_code == 1
    for kind, name in (("changed", "dispensing/sales.csv"), ("missing", "audit/audit_log.jsonl"),
                       ("added", "dispensing/extra.csv")):
        assert f"[{kind}]" in checked.output and name in checked.output, checked.output
    # the period close from the command line, as through the API: this month has not ended; no reopening
    early = cli("period", "close", f"{today:%Y-%m}", "--as", "u_manager", pin="4444\n")
    assert early.exit_code == 1 and "[ST-01]" in early.output, early.output
    assert cli("period", "close", f"{today:%Y-%m}", "--as", "u_pharmacist", pin="2222\n").exit_code != 0  # SEC-01
    never = runner.invoke(app, ["period", "reopen", f"{today:%Y-%m}"])
    assert never.exit_code == 1 and "[ST-02]" in never.output
    with read_session(engine) as s:  # the exports' entries keep the chain whole: only the row slipped in above is named
        problems = audit.verify(s, ctx.store_id).problems
    assert [(p["kind"], p["table"]) for p in problems] == [("unaudited_row", "sale_insured")]
