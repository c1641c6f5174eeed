"""SEC-06's scan of what the suite writes (tests/privacy_scan.py, run at the end of every pytest process by the
conftest's `no_whole_identity_number_written`) can fail: a whole number planted in a log, a CSV, an XLSX cell, a
zip inside a zip, a PDF's text, a log record and a printed slip is found and named; a masked number, a number whose
check character is wrong, a SQLite file and the agency's registered submission are not. The planted files are removed
at the end of the test, or the session's own scan would (rightly) fail the run on them."""

from __future__ import annotations

import io
import logging
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fpdf import FPDF
from openpyxl import Workbook

from catalog.codes import id_check_char, mask_id
from server.config import ROOT
from tests import privacy_scan

BODY = "44030519850317421"
WHOLE = BODY + id_check_char(BODY)
MASKED = mask_id(WHOLE)
NOT_AN_ID = BODY + ("0" if id_check_char(BODY) != "0" else "1")  # 18 digits, the check character wrong


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "planted"
    where.mkdir()
    yield where
    shutil.rmtree(where)


def _xlsx(cell: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["姓名", "证件号码"])
    ws.append(["张三", cell])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    pdf.cell(text=text)
    return bytes(pdf.output())


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def test_a_whole_number_anywhere_the_suite_writes_is_found_and_named(planted: Path) -> None:
    (planted / "service.log").write_text(f"2027-01-31 INFO identify certno={WHOLE} ok\n", encoding="utf-8")
    (planted / "statement.csv").write_bytes(f"张三,{WHOLE.lower()}\r\n".encode("gbk"))  # a lower-case x too
    (planted / "card.xlsx").write_bytes(_xlsx(WHOLE))
    (planted / "inspection.zip").write_bytes(_zip({"inner.zip": _zip({"sales.csv": f"x,{WHOLE}".encode()})}))
    (planted / "checklist.pdf").write_bytes(_pdf(f"ID {WHOLE}"))
    found = privacy_scan.scan_tree(planted)
    assert sorted(h.where.removeprefix(str(planted) + "/") for h in found) == [
        "card.xlsx!xl/worksheets/sheet1.xml", "checklist.pdf", "inspection.zip!inner.zip!sales.csv", "service.log",
        "statement.csv"]
    assert {h.masked for h in found} == {MASKED}
    assert WHOLE not in privacy_scan.report(found) and "card.xlsx" in privacy_scan.report(found)


def test_what_is_not_a_whole_number_or_is_the_agencys_own_is_left_alone(planted: Path) -> None:
    (planted / "masked.log").write_text(f"certno={MASKED} setl_id={NOT_AN_ID} trace={WHOLE}12\n", encoding="utf-8")
    (planted / "masked.xlsx").write_bytes(_xlsx(MASKED))
    with sqlite3.connect(planted / "store.db") as db:  # the database holds whole numbers: it is no document
        db.execute("CREATE TABLE person (certno TEXT)")
        db.execute("INSERT INTO person VALUES (?)", (WHOLE,))
    db.close()
    (planted / "demo_cards.py").write_text(f'CARDS = ["{WHOLE}"]\n', encoding="utf-8")  # a copy of the source
    agency = privacy_scan.agency_submission(planted / "card-statement-agency.csv")
    agency.write_text(f"张三,{WHOLE}\n", encoding="utf-8")
    assert privacy_scan.scan_tree(planted) == []
    other = planted / "card-statement-agency-copy.csv"  # a copy is not the registered submission
    shutil.copy(agency, other)
    assert [h.where for h in privacy_scan.scan_tree(planted)] == [str(other)]


def test_a_log_record_and_a_printed_slip_are_caught_as_they_happen() -> None:
    log = logging.getLogger("dingdian.test.privacy")  # the session's watch is on the root logger (conftest)
    before = privacy_scan.streamed()
    new: list[privacy_scan.Hit] = []
    try:
        log.warning("person %s identified", WHOLE)
        log.warning("person %s identified", MASKED)
        privacy_scan.printed("simulated (receipt 20270131-0001)", f"姓名 张三\n证件 {WHOLE}\n")
        privacy_scan.printed("tcp:9100", f"证件 {MASKED}".encode("gbk"))
        new = privacy_scan.streamed()[len(before):]
        assert [(h.where.split(" (")[0], h.masked) for h in new] == [
            ("log record dingdian.test.privacy", MASKED), ("printer simulated", MASKED)]
    finally:
        privacy_scan.forget_streamed(privacy_scan.streamed()[len(before):])
    assert not set(new) & set(privacy_scan.streamed())


@pytest.mark.slow
def test_the_run_fails_when_a_test_leaves_a_whole_number_in_a_log(tmp_path: Path) -> None:
    """The whole chain: a pytest run whose one test writes a whole number to a log under its tmp_path ends in an
    error naming that file (the number masked). That a masked one passes, every other run of the suite shows."""
    child = tmp_path / "child"
    child.mkdir()
    (child / "test_leak.py").write_text(
        "import os\n"
        "def test_leak(tmp_path):\n"
        "    (tmp_path / 'service.log').write_text('certno=' + os.environ['PLANT'])\n", encoding="utf-8")
    try:
        def run(plant: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:randomly",
                                   "-p", "no:cacheprovider", "--basetemp", str(child / "tmp"), "--rootdir",
                                   str(child), str(child / "test_leak.py")], cwd=ROOT, capture_output=True,
                                  text=True, timeout=120, env={**_env(), "PLANT": plant}, check=False)
        leaked = run(WHOLE)
        assert leaked.returncode == 1, leaked.stdout[-2000:]
        assert "1 passed, 1 error" in leaked.stdout and "service.log" in leaked.stdout
        assert MASKED in leaked.stdout and WHOLE not in leaked.stdout
    finally:
        shutil.rmtree(child)


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DINGDIAN_ALREADY"))}
