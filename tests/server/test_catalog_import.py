"""Catalog import (商品资料导入) over HTTP and from the CLI, CSV and XLSX: a file is validated as a whole;
nothing is written from a file with errors unless valid_only; re-importing changes nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from catalog.codes import gtin_check_digit
from catalog.demo_data import default_zones
from catalog.importer import COLUMN_BY_KEY
from server.config import ROOT, Settings
from server.db.uow import core_unit
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from tests.conftest import (
    CONFIRM_MAPPING,
    SECOND_INSURANCE_ADMIN,
    SECOND_INSURANCE_PIN,
    by_second_admin,
    mapping_approval,
)

H = dict[str, dict[str, str]]
NHSA = "XA02BCA211A012010100154"



def keeper(client: TestClient, engine: Engine, ctx: Ctx) -> dict[str, str]:
    """The person who loads a catalog with its 医保 mapping: manager and 医保 administrator in one
    (CARD-07: the mapping columns need the 医保 administrator's post)."""
    from server.db.uow import core_unit
    from server.roles import Role
    from server.services.store.users import add_user
    from tests.conftest import login

    with core_unit(engine) as u:
        add_user(u, ctx, "u_keeper", "目录维护", "5555", {Role.MANAGER, Role.INSURANCE_ADMIN})
    mapping_approval(engine, ctx)  # the other 医保 administrator, who approves the file's new mappings
    return login(client, "u_keeper", "5555")

def gtin(body: str) -> str:
    return body + str(gtin_check_digit(body))


B_AMX, B_FYJ, B_INS, B_INS14, B_VC, B_MASK = (gtin("690123450001"), gtin("690123450002"), gtin("690123450003"),
                                              gtin("0690123450004"), gtin("690123450005"), gtin("690123450006"))

# Five items across the classes, each for its own zone of the default layout; keys are COLUMNS keys.
ROWS: list[dict[str, str]] = [
    {"code": "YP1001", "name": "阿莫西林胶囊", "generic_name": "阿莫西林", "spec": "0.25g*24粒", "dosage_form": "胶囊剂",
     "manufacturer": "华北制药股份有限公司", "approval_no": "国药准字H13023963", "gsp_class": "处方药", "route": "内服",
     "nhsa_code": NHSA, "insurance_category": "甲类", "price": "12.50", "barcodes": B_AMX, "zone": "Z-RX-IN"},
    {"code": "YP1002", "name": "风油精", "spec": "3ml", "manufacturer": "漳州水仙药业股份有限公司",
     "approval_no": "国药准字Z35020226", "gsp_class": "乙类非处方药", "route": "外用", "odour_prone": "是",
     "price": "4.50", "barcodes": B_FYJ, "zone": "Z-ODOUR"},
    {"code": "YP1003", "name": "精蛋白人胰岛素注射液", "spec": "3ml:300单位", "manufacturer": "通化东宝药业股份有限公司",
     "approval_no": "国药准字S20020021", "gsp_class": "处方药", "route": "注射", "storage": "冷藏", "price": "68",
     "unit": "支", "barcodes": f"{B_INS};{B_INS14}", "zone": "Z-COLD"},
    {"code": "FY1001", "name": "维生素C咀嚼片", "spec": "60片", "manufacturer": "汤臣倍健股份有限公司",
     "gsp_class": "保健食品", "price": "39.90", "barcodes": B_VC, "zone": "Z-HF"},
    {"code": "FY1002", "name": "医用外科口罩", "spec": "10只", "manufacturer": "稳健医疗用品股份有限公司",
     "gsp_class": "医疗器械", "price": "9.9", "unit": "包", "barcodes": B_MASK, "zone": "Z-DEV"},
]
KEYS = ["code", "name", "generic_name", "spec", "dosage_form", "manufacturer", "approval_no", "gsp_class", "route",
        "odour_prone", "storage", "nhsa_code", "insurance_category", "price", "unit", "barcodes", "zone"]
CODES = [r["code"] for r in ROWS]


def table(rows: list[dict[str, str]], keys: list[str] = KEYS) -> list[list[str]]:
    """The header (Chinese, as a store's sheet has it) and the cells."""
    return [[COLUMN_BY_KEY[k].zh for k in keys], *([r.get(k, "") for k in keys] for r in rows)]


def csv_bytes(rows: list[dict[str, str]], keys: list[str] = KEYS) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(table(rows, keys))
    return buf.getvalue().encode("utf-8-sig")  # Excel's "CSV UTF-8"


def xlsx_bytes(rows: list[dict[str, str]], keys: list[str] = KEYS) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r in table(rows, keys):
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def with_(index: int, **changes: str) -> list[dict[str, str]]:
    """ROWS with one row changed."""
    return [r | changes if i == index else r for i, r in enumerate(ROWS)]


def setup_zones(engine: Engine, ctx: Ctx) -> None:
    with core_unit(engine) as u:
        for z in default_zones():
            catalog_service.create_zone(u, ctx, z.code, z.name, z.purpose, set(z.admits), z.route_group, z.storage,
                                        z.odour_prone)


def upload(client: TestClient, h: dict[str, str], data: bytes, fmt: str = "csv", valid_only: bool = False,
           confirmed: bool = True) -> Any:
    """confirmed: the file comes with the other 医保 administrator's approval (its new 医保 codes loosen control)."""
    params: dict[str, Any] = {"format": fmt}
    extra = {"Content-Type": "application/octet-stream"}
    if valid_only:
        params["valid_only"] = "true"
    if confirmed:  # the other 医保 administrator confirmed at the caller's desk: their grant in X-Second
        params |= {"reason": CONFIRM_MAPPING["reason"]}
        h = by_second_admin(client, h, "catalog.write")
    return client.post("/catalog/import", params=params, content=data, headers=h | extra)


def imported(client: TestClient, h: dict[str, str], data: bytes, fmt: str = "csv",
             valid_only: bool = False) -> dict[str, Any]:
    r = upload(client, h, data, fmt, valid_only)
    assert r.status_code == 200, r.text
    return r.json()


def counts(result: dict[str, Any]) -> tuple[bool, int, int, int]:
    return result["applied"], result["created"], result["updated"], result["unchanged"]


def found_codes(client: TestClient, h: dict[str, str], codes: list[str]) -> set[str]:
    out = set()
    for code in codes:
        r = client.get("/items/search", params={"q": code}, headers=h)
        assert r.status_code == 200, r.text
        out |= {hit["item"]["code"] for hit in r.json() if hit["item"]["code"] == code}
    return out


def by_barcode(client: TestClient, h: dict[str, str], code: str) -> dict[str, Any]:
    r = client.get(f"/items/by-barcode/{code}", headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def audit_count(client: TestClient, h: dict[str, str]) -> int:
    r = client.get("/audit/verify", headers=h)
    assert r.status_code == 200 and r.json()["ok"], r.text
    return r.json()["entries"]


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message_zh", "message_en", "details"} and body["code"] == code, body
    return body


# --- a good file: applied once, then nothing changes -------------------------------------------------

@pytest.mark.refuses("GSP-01", "SEC-01")
def test_csv_import_applies_and_reimport_changes_nothing(client: TestClient, headers: H, engine: Engine,
                                                          ctx: Ctx) -> None:
    m = keeper(client, engine, ctx)
    setup_zones(engine, ctx)
    data = csv_bytes(ROWS)
    for role in ("cashier", "pharmacist", "insurance_admin", "sysadmin"):
        assert_error(upload(client, headers[role], data), 403, "SEC-01")
    assert found_codes(client, m, CODES) == set()

    first = imported(client, m, data)
    assert counts(first) == (True, 5, 0, 0)
    assert (first["rows_total"], first["rows_valid"], first["errors"]) == (5, 5, [])
    assert found_codes(client, m, CODES) == set(CODES)
    amx = by_barcode(client, m, B_AMX)
    assert (amx["code"], amx["price_fen"], amx["zone_code"], amx["insurance_category"], amx["nhsa_code"],
            amx["route"], amx["spec"], amx["gsp_class"]) == (
        "YP1001", 1250, "Z-RX-IN", "jia", NHSA, "internal", "0.25g*24粒", "rx")
    fyj = by_barcode(client, m, B_FYJ)
    assert (fyj["gsp_class"], fyj["odour_prone"], fyj["route"], fyj["zone_code"]) == ("otc_b", True, "external", "Z-ODOUR")
    insulin = by_barcode(client, m, B_INS14)
    assert (insulin["barcodes"], insulin["storage"], insulin["zone_code"], insulin["unit"], insulin["price_fen"]) == (
        [B_INS, B_INS14], "cold", "Z-COLD", "支", 6800)
    assert (by_barcode(client, m, B_VC)["price_fen"], by_barcode(client, m, B_MASK)["price_fen"]) == (3990, 990)
    hits = client.get("/items/search", params={"q": "FYJ"}, headers=headers["cashier"]).json()
    assert [h["item"]["code"] for h in hits] == ["YP1002"]  # the mnemonic was built from the name
    entries = audit_count(client, m)

    # the same file again: nothing created, nothing updated, not one audit entry
    again = imported(client, m, data)
    assert counts(again) == (True, 0, 0, 5) and again["errors"] == []
    assert audit_count(client, m) == entries

    # one changed row: only that item is updated (and audited)
    changed = imported(client, m, csv_bytes(with_(1, price="4.80", spec="6ml")))
    assert counts(changed) == (True, 0, 1, 4)
    fyj2 = by_barcode(client, m, B_FYJ)
    assert (fyj2["price_fen"], fyj2["spec"], fyj2["id"]) == (480, "6ml", fyj["id"])
    assert audit_count(client, m) == entries + 1

    # a move the GSP rules refuse (an internal drug into the external zone) refuses the file
    moved = imported(client, m, csv_bytes(with_(0, zone="Z-RX-EX", price="13.00")))
    assert counts(moved) == (False, 0, 0, 0)
    [err] = moved["errors"]
    assert (err["row"], err["code"]) == (2, "GSP-01")
    amx2 = by_barcode(client, m, B_AMX)
    assert (amx2["zone_code"], amx2["price_fen"]) == ("Z-RX-IN", 1250)  # not even the price changed
    assert audit_count(client, m) == entries + 1


# --- errors -----------------------------------------------------------------------------------------

def test_a_bad_row_blocks_the_file_unless_valid_only(client: TestClient, headers: H, engine: Engine,
                                                      ctx: Ctx) -> None:
    m = keeper(client, engine, ctx)
    setup_zones(engine, ctx)
    right = gtin_check_digit(B_INS[:-1])
    wrong = B_INS[:-1] + str((right + 1) % 10)
    data = csv_bytes(with_(2, barcodes=wrong))  # the third data row: row 4 of the file
    entries = audit_count(client, m)

    report = imported(client, m, data)
    assert counts(report) == (False, 0, 0, 0)
    assert (report["rows_total"], report["rows_valid"]) == (5, 4)
    [err] = report["errors"]
    assert (err["row"], err["column"], err["rule"], err["value"]) == (4, "条码", "CODE-GTIN", wrong)
    assert "第 4 行" in err["message_zh"] and f"应为 {right}" in err["message_zh"]
    assert "row 4" in err["message_en"] and f"expected {right}" in err["message_en"]
    assert found_codes(client, m, CODES) == set()
    assert audit_count(client, m) == entries

    partial = imported(client, m, data, valid_only=True)
    assert counts(partial) == (True, 4, 0, 0)
    assert [(e["row"], e["column"]) for e in partial["errors"]] == [(4, "条码")]
    assert found_codes(client, m, CODES) == set(CODES) - {"YP1003"}
    assert client.get(f"/items/by-barcode/{wrong}", headers=m).status_code == 404

    # the corrected file brings the last one in and leaves the other four alone
    fixed = imported(client, m, csv_bytes(ROWS))
    assert counts(fixed) == (True, 1, 0, 4)
    assert found_codes(client, m, CODES) == set(CODES)
    audit_count(client, m)


def test_a_row_the_database_refuses(client: TestClient, headers: H, engine: Engine, ctx: Ctx) -> None:
    m = keeper(client, engine, ctx)
    setup_zones(engine, ctx)
    with core_unit(engine) as u:
        owner = catalog_service.create_item(u, ctx, {"code": "FY0900", "name": "一次性口罩", "gsp_class": "device",
                                                     "price_fen": 500}, [B_MASK], "Z-DEV")
        owner_id = owner.id
    rows = with_(1, zone="Z-NOPE")  # file row 3: a zone the store does not have
    data = csv_bytes(rows)  # file row 6 (FY1002) carries B_MASK, which FY0900 owns
    entries = audit_count(client, m)

    report = imported(client, m, data)
    assert counts(report) == (False, 0, 0, 0)
    assert report["rows_valid"] == 5  # the file itself is fine; the database refuses two rows
    errors = {e["row"]: e for e in report["errors"]}
    assert set(errors) == {3, 6}
    assert "Z-NOPE" in errors[3]["message_zh"] and "Z-NOPE" in errors[3]["message_en"]
    assert errors[6]["code"] == "CATALOG-BARCODE"
    assert (errors[3]["column"], errors[6]["column"]) == ("陈列区域", "条码")  # named as the file's headers
    assert B_MASK in errors[6]["message_en"] and f"#{owner_id}" in errors[6]["message_zh"]
    # rows before and after the refused ones were rolled back with them
    assert found_codes(client, m, CODES) == set()
    assert audit_count(client, m) == entries

    partial = imported(client, m, data, valid_only=True)
    assert counts(partial) == (True, 3, 0, 0)
    assert {e["row"] for e in partial["errors"]} == {3, 6}
    assert found_codes(client, m, CODES) == {"YP1001", "YP1003", "FY1001"}
    assert by_barcode(client, m, B_MASK)["id"] == owner_id  # the barcode stayed with its owner
    assert audit_count(client, m) > entries


def test_a_prices_only_file_changes_prices_only(client: TestClient, headers: H, engine: Engine, ctx: Ctx) -> None:
    m = keeper(client, engine, ctx)
    setup_zones(engine, ctx)
    assert counts(imported(client, m, csv_bytes(ROWS))) == (True, 5, 0, 0)
    before = {r["code"]: by_barcode(client, m, r["barcodes"].split(";")[0]) for r in ROWS}

    keys = ["code", "name", "gsp_class", "price"]
    prices = with_(0, price="13.80")
    prices[3] = prices[3] | {"price": "42.00"}
    result = imported(client, m, csv_bytes(prices, keys))
    assert counts(result) == (True, 0, 2, 3) and result["errors"] == []
    after = {r["code"]: by_barcode(client, m, r["barcodes"].split(";")[0]) for r in ROWS}
    assert (after["YP1001"]["price_fen"], after["FY1001"]["price_fen"]) == (1380, 4200)
    for code in CODES:
        changed = {k for k in before[code] if before[code][k] != after[code][k]}
        assert changed <= {"price_fen"}, (code, changed)
    amx = after["YP1001"]
    assert (amx["spec"], amx["manufacturer"], amx["approval_no"], amx["route"], amx["insurance_category"],
            amx["nhsa_code"], amx["zone_code"], amx["barcodes"]) == (
        "0.25g*24粒", "华北制药股份有限公司", "国药准字H13023963", "internal", "jia", NHSA, "Z-RX-IN", [B_AMX])
    assert counts(imported(client, m, csv_bytes(prices, keys))) == (True, 0, 0, 5)

    # a new drug cannot come in through a prices-only file: it has no approval number or route
    new = imported(client, m, csv_bytes([{"code": "YP1999", "name": "头孢克肟胶囊", "gsp_class": "处方药",
                                          "price": "20"}], keys))
    assert counts(new) == (False, 0, 0, 0)
    assert [(e["row"], e["code"]) for e in new["errors"]] == [(2, "CATALOG-APPROVAL")]
    assert found_codes(client, m, ["YP1999"]) == set()
    audit_count(client, m)


# --- XLSX, and what is not a catalog file ------------------------------------------------------------

def test_xlsx_imports_the_same_and_junk_is_refused(client: TestClient, headers: H, engine: Engine,
                                                   ctx: Ctx) -> None:
    m = keeper(client, engine, ctx)
    setup_zones(engine, ctx)
    data = xlsx_bytes(ROWS)
    assert counts(imported(client, m, data, "xlsx")) == (True, 5, 0, 0)
    insulin = by_barcode(client, m, B_INS)
    assert (insulin["barcodes"], insulin["storage"], insulin["price_fen"]) == ([B_INS, B_INS14], "cold", 6800)
    assert by_barcode(client, m, B_AMX)["nhsa_code"] == NHSA
    entries = audit_count(client, m)
    assert counts(imported(client, m, data, "xlsx")) == (True, 0, 0, 5)
    assert counts(imported(client, m, csv_bytes(ROWS))) == (True, 0, 0, 5)  # the CSV of the same sheet agrees
    assert audit_count(client, m) == entries

    right = gtin_check_digit(B_VC[:-1])
    bad = imported(client, m, xlsx_bytes(with_(3, barcodes=B_VC[:-1] + str((right + 1) % 10))), "xlsx")
    assert counts(bad) == (False, 0, 0, 0)
    assert [(e["row"], e["column"], e["rule"]) for e in bad["errors"]] == [(5, "条码", "CODE-GTIN")]

    # what cannot be read as a catalog at all is a 4xx in the error shape, never a 500
    junk = {
        "random bytes": (bytes(range(256)) * 4, "xlsx"),
        "a broken zip": (b"PK\x03\x04" + bytes(range(200)), "xlsx"),
        "an old .xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "xlsx"),
        "a text with no catalog header": ("这不是商品资料\n随便写的\n".encode(), "csv"),
        "blank lines": (b"\r\n\r\n", "csv"),
    }
    for what, (body, fmt) in junk.items():
        r = upload(client, m, body, fmt)
        err = assert_error(r, 422, "IMPORT")
        assert err["message_zh"] and err["message_en"] and err["details"]["errors"], what
        assert all(e["row"] in (0, 1) for e in err["details"]["errors"]), what
    assert_error(upload(client, m, b"", "csv"), 422, "IMPORT")
    assert_error(upload(client, m, b"", "xlsx"), 422, "IMPORT")
    assert_error(upload(client, m, data, "pdf"), 422, "VALIDATION")
    assert audit_count(client, m) == entries


# --- the command line -------------------------------------------------------------------------------

def test_cli_import(client: TestClient, headers: H, engine: Engine, ctx: Ctx, settings: Settings,
                    tmp_path: Path) -> None:
    from server.cli import app

    m = keeper(client, engine, ctx)
    setup_zones(engine, ctx)
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{settings.database.url}"'), encoding="utf-8")
    runner = CliRunner()

    right = gtin_check_digit(B_FYJ[:-1])
    bad_file = tmp_path / "bad.csv"
    bad_file.write_bytes(csv_bytes(with_(1, barcodes=B_FYJ[:-1] + str((right + 1) % 10))))
    bad = runner.invoke(app, ["catalog", "import", str(bad_file), "--config", str(config), "--as", "u_keeper"],
                        input="5555\n")
    assert bad.exit_code == 1, bad.output
    assert "第 3 行 [条码]" in bad.output and f"应为 {right}" in bad.output
    assert "nothing imported" in bad.output
    assert found_codes(client, m, CODES) == set()

    good_file = tmp_path / "items.xlsx"
    good_file.write_bytes(xlsx_bytes(ROWS))
    anonymous = runner.invoke(app, ["catalog", "import", str(good_file), "--config", str(config)])
    assert anonymous.exit_code == 2 and "SEC-01" in anonymous.output  # the command line acts as a named person
    unconfirmed = runner.invoke(app, ["catalog", "import", str(good_file), "--config", str(config), "--as", "u_keeper"],
                                input="5555\n")
    assert unconfirmed.exit_code == 1 and "须由另一位医保管理员" in unconfirmed.output and "nothing imported" in unconfirmed.output
    assert found_codes(client, m, CODES) == set()
    confirm = ["--confirm-user", SECOND_INSURANCE_ADMIN, "--reason", CONFIRM_MAPPING["reason"]]
    ok = runner.invoke(app, ["catalog", "import", str(good_file), "--config", str(config), "--as", "u_keeper", *confirm],
                       input="5555\n" + SECOND_INSURANCE_PIN + "\n")
    assert ok.exit_code == 0, ok.output
    assert "applied" in ok.output and "created 5" in ok.output
    # the running service sees what the CLI wrote on its next search
    assert found_codes(client, m, CODES) == set(CODES)
    again = runner.invoke(app, ["catalog", "import", str(good_file), "--config", str(config), "--as", "u_keeper"],
                        input="5555\n")
    assert again.exit_code == 0 and "unchanged 5" in again.output

    partial = runner.invoke(app, ["catalog", "import", str(bad_file), "--config", str(config), "--valid-only",
                                  "--as", "u_keeper"], input="5555\n")
    assert partial.exit_code == 0, partial.output
    assert "第 3 行" in partial.output and "unchanged 4" in partial.output
    missing = runner.invoke(app, ["catalog", "import", str(tmp_path / "none.csv"), "--config", str(config),
                                  "--as", "u_keeper"], input="5555\n")
    assert missing.exit_code == 2
    r = client.get("/audit", params={"limit": 500}, headers=m)
    # the command line acts as the named person who authenticated (SEC-01), never as "system"
    assert {e["actor"] for e in r.json() if e["action"] == "item.create"} == {"u_keeper"}
    audit_count(client, m)


@pytest.mark.refuses("CARD-07")
def test_the_mapping_columns_need_the_insurance_administrator(client: TestClient, headers: H, engine: Engine,
                                                               ctx: Ctx) -> None:
    """CARD-07: a manager's file may not set or change the 医保 code or category."""
    setup_zones(engine, ctx)
    r = upload(client, headers["manager"], csv_bytes(ROWS), confirmed=False)
    body = r.json()
    assert r.status_code == 200 and body["applied"] is False
    assert {e["code"] for e in body["errors"] if e.get("code")} == {"CARD-07"}
    assert client.get("/items/search", params={"q": "阿莫西林"}, headers=headers["manager"]).json() == []
