"""Shelf labels (药品标签 / 价签, GSP-04): printed from the catalog with the class mark and, on every 医保 drug, the
医保 mark; recorded as printed; stale once the catalog changes after them; printed anew, never the old label again.

The walk-arounds of GSP-04: the small price tag (no room for the 医保 mark) asked for a 医保 drug by item, by its
zone, as "what changed", by the 医保 administrator instead of the pharmacist, over HTTP and from the command line;
an old run printed again after the price changed. Each is refused and writes nothing.

One store for the module; each test names its own items, so any order holds."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select
from typer.testing import CliRunner

from catalog.classes import GspClass, Storage, ZonePurpose
from server.audit import Actor
from server.config import Settings
from server.db.engine import make_engine
from server.db.models import User
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.errors import AppError
from server.rules.labels import LabelFacts, Template, changed, class_mark, insurance_mark, print_refusals
from server.services.catalog import items as catalog
from server.services.catalog import labels
from server.services.context import Ctx
from server.services.store.profile import bootstrap_store, register_till
from tests.conftest import ROLE_PINS, add_role_users, make_settings, mapping_approval, till_login
from tests.reports.pdf_check import POPPLER, inked


def _facts(**kw: Any) -> LabelFacts:
    base: dict[str, Any] = {"item_id": 1, "code": "X1", "name": "阿莫西林胶囊", "spec": "0.25g*24粒",
                            "manufacturer": "某药业", "unit": "盒", "price_fen": 1250, "barcode": "",
                            "gsp_class": "rx", "insurance_category": "yi", "zone_code": "Z-RX"}
    return LabelFacts(**(base | kw))


def test_the_marks_are_the_catalogs_and_a_small_tag_is_refused_only_for_a_medical_insurance_drug() -> None:
    assert [class_mark(c) for c in ("rx", "otc_a", "otc_b", "herbal", "device", "food", "bogus")] == [
        "处方药", "甲类OTC", "乙类OTC", "中药饮片", "非药品", "非药品", "非药品"]
    assert insurance_mark(_facts()) == "医保乙类" and insurance_mark(_facts(insurance_category="jia")) == "医保甲类"
    # self-pay, and a non-drug whatever its category says: no 医保 mark
    assert insurance_mark(_facts(insurance_category="bing")) == insurance_mark(_facts(gsp_class="device",
                                                                                  insurance_category="jia")) == ""
    assert print_refusals([_facts()], Template.STANDARD) == []
    refused = print_refusals([_facts(), _facts(item_id=2, insurance_category="none")], Template.SMALL)
    assert [(v.rule, v.details["item_id"]) for v in refused] == [("GSP-04", 1)]
    assert changed(_facts(), _facts(price_fen=1300, insurance_category="jia")) == ["price_fen", "insurance_category"]
    assert changed(_facts(), None) == ["item"] and changed(_facts(), _facts()) == []
    assert changed(_facts(gsp_class="herbal"), _facts(gsp_class="herbal", origin="甘肃岷县")) == ["origin"]


def test_the_receipt_printer_prints_each_label_with_its_marks_on_its_own_cut() -> None:
    from devices.printer import escpos_bytes, preview
    from devices.printer.documents import LabelSheet, ShelfLabelDoc, StoreHeader, from_json, to_json

    sheet = LabelSheet(StoreHeader("丁点大药房", "P44030000001", ""), 7, "2026-12-07", [
        ShelfLabelDoc("阿莫西林胶囊", "0.25g*24粒", "华北制药", "盒", 1250, "6901234567892", "处方药", "医保乙类"),
        ShelfLabelDoc("维生素C片", "0.1g*100片", "东北制药", "瓶", 350, "LB0002", "乙类OTC", "")])
    again = from_json(LabelSheet, to_json(sheet))  # as the print queue keeps it
    assert again == sheet
    first, second, rest = preview(again, 32).split("(切纸)")  # big text is previewed spaced out
    assert "[处方药]" in first and "[医保乙类]" in first and "￥12.50/盒" in first.replace(" ", "")
    assert "[乙类OTC]" in second and "医保" not in second and "￥3.50/瓶" in second.replace(" ", "")
    assert not rest.strip()
    raw = escpos_bytes(again, 32)
    assert "医保乙类".encode("gbk") in raw and raw.count(b"\x1dV") == 2  # GS V: a cut after each label


@dataclass
class Shop:
    engine: Engine
    settings: Settings
    ctx: Ctx
    people: dict[str, Ctx]
    items: dict[str, int]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Shop]:
    path = tmp_path_factory.mktemp("labels") / "labels.db"
    shutil.copy(sqlite_template, path)
    settings = make_settings(f"sqlite:///{path}")
    engine = make_engine(settings.database.url)
    ctx = Ctx(bootstrap_store(engine, settings), settings)
    add_role_users(engine, ctx)
    approval = mapping_approval(engine, ctx)
    with read_session(engine) as s:
        people = {u.username: ctx.acting(Actor(id_of(u), u.username)) for u in s.exec(select(User))}
    ids: dict[str, int] = {}
    with core_unit(engine) as u:
        register_till(u, ctx, settings.till.code, "1号台", "")
        for code, admits in (("Z-RX", {GspClass.RX}), ("Z-OTC", {GspClass.OTC_A, GspClass.OTC_B}),
                             ("Z-HERB", {GspClass.HERBAL})):
            catalog.create_zone(u, ctx, code, code, ZonePurpose.DISPLAY, admits, "internal", Storage.NORMAL, False)
        for key, values, zone in (
                ("amox", {"code": "LB0001", "name": "阿莫西林胶囊", "spec": "0.25g*24粒", "manufacturer": "华北制药", "approval_no": "国药准字H11",
                          "gsp_class": "rx", "route": "internal", "price_fen": 1250, "nhsa_code": "XJ01CAA040A001010100001",
                          "insurance_category": "yi"}, "Z-RX"),
                ("vitc", {"code": "LB0002", "name": "维生素C片", "spec": "0.1g*100片", "approval_no": "国药准字H12", "gsp_class": "otc_b",
                          "route": "internal", "price_fen": 350}, "Z-OTC"),
                ("ibu", {"code": "LB0003", "name": "布洛芬缓释胶囊", "spec": "0.3g*20粒", "approval_no": "国药准字H13", "gsp_class": "otc_a",
                         "route": "internal", "price_fen": 1680, "nhsa_code": "XN02BGB012E002010100002",
                         "insurance_category": "jia"}, "Z-OTC"),
                ("gui", {"code": "LB0004", "name": "当归片", "spec": "10g", "gsp_class": "herbal", "route": "internal",
                         "origin": "甘肃岷县", "price_fen": 880, "unit": "袋"}, "Z-HERB")):
            ids[key] = id_of(catalog.create_item(u, ctx, values, [], zone, approval))
    yield Shop(engine, settings, ctx, people, ids)
    engine.dispose()


def _written(shop: Shop) -> tuple[int, int, int]:
    with shop.engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM label_run), (SELECT count(*) FROM shelf_label),"
            " (SELECT count(*) FROM audit_entry)")).one())


def _item_21(shop: Shop) -> Any:
    from reports import queries
    from reports.checklist.run import gather
    from reports.checklist.settled import mapped
    from server.services.compliance.checklist import policy_of

    today = shop.ctx.today
    with queries.reading(shop.engine) as conn:
        facts = gather(conn, shop.ctx.store_id, today, today, today, policy_of(shop.settings), None)
    return mapped(facts, SimpleNamespace(no=21, title_zh="结算品种均已对码并有标签", rules=("CARD-07", "GSP-04")))


def test_labels_print_from_the_catalog_go_stale_when_the_price_changes_and_are_printed_anew(
        shop: Shop, tmp_path: Path) -> None:
    pharmacist, vitc, amox = shop.people["u_pharmacist"], shop.items["vitc"], shop.items["amox"]
    with core_unit(shop.engine) as u:
        first = labels.print_labels(u, pharmacist, labels.Selection.ITEMS, Template.STANDARD,
                                    [amox, vitc, shop.items["gui"]])
    run_id = id_of(first.run)
    by_item = {f.item_id: f for f in first.labels}
    assert insurance_mark(by_item[amox]) == "医保乙类" and insurance_mark(by_item[vitc]) == ""
    on_paper = {lab.name: lab for lab in labels.label_sheet(shop.ctx, first).labels}  # as the receipt printer has it
    assert on_paper["当归片"].maker == "产地 甘肃岷县" and on_paper["当归片"].class_mark == "中药饮片"
    assert on_paper["阿莫西林胶囊"].insurance_mark == "医保乙类" and on_paper["维生素C片"].insurance_mark == ""
    assert by_item[amox].price_fen == 1250 and by_item[amox].zone_code == "Z-RX"

    # the price changes: the label on the shelf is stale, by what changed
    with core_unit(shop.engine) as u:
        catalog.update_item(u, shop.ctx, vitc, {"price_fen": 380})
    with read_session(shop.engine) as s:
        mine = {x.printed.item_id: x for x in labels.stale(s, shop.ctx)}
        now = mine[vitc].now
        assert mine[vitc].fields == ["price_fen"] and now is not None and now.price_fen == 380
        assert amox not in mine
        assert vitc in {f.item_id for f in labels.select_labels(s, shop.ctx, labels.Selection.CHANGED)}

    # the checklist (CHECK 21) flags it, by what changed
    flagged = _item_21(shop)
    assert flagged.verdict.value == "fail"
    assert {"item": "LB0002", "changed": ["price_fen"], "printed_price_fen": 350, "price_fen": 380}.items() <= \
        next(e for e in flagged.evidence if e["item"] == "LB0002").items()

    # the old run printed again would hang the old price: refused, nothing written
    before = _written(shop)
    with pytest.raises(AppError) as refused, core_unit(shop.engine) as u:
        labels.reprint_run(u, pharmacist, run_id)
    assert refused.value.code == "GSP-04" and refused.value.details["changed"] == ["price_fen"]
    assert "价格" in refused.value.message_zh and _written(shop) == before

    # printed anew from the catalog, for what changed: the new price; the shelf is current again
    with core_unit(shop.engine) as u:
        anew = labels.print_labels(u, pharmacist, labels.Selection.CHANGED, Template.STANDARD)
    assert {f.item_id: f.price_fen for f in anew.labels}[vitc] == 380
    with read_session(shop.engine) as s:
        assert vitc not in {x.printed.item_id for x in labels.stale(s, shop.ctx)}
    assert "LB0002" not in {e["item"] for e in _item_21(shop).evidence}

    # each run and its labels verify against the audit chain (imaged with the run)
    from sqlmodel import Session

    from server import audit

    with Session(shop.engine) as s:
        checked = audit.verify(s, shop.ctx.store_id)
    assert checked.problems == [] and checked.rows_checked > 0

    # what was printed is evidence: the database refuses its edit
    for statement in ("UPDATE shelf_label SET price_fen = 1", "DELETE FROM label_run"):
        with pytest.raises(DBAPIError), shop.engine.begin() as conn:
            conn.execute(text(statement))


def _shows(body: bytes, where: Path, texts: tuple[str, ...]) -> None:
    """The sheet as a reader sees it: its first page rendered (inked), its text read back."""
    if not POPPLER:
        return
    pdf = where / "labels.pdf"
    pdf.write_bytes(body)
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", "-f", "1", "-l", "1", str(pdf), str(where / "p")],
                   check=True, timeout=60)
    assert inked(Image.open(next(where.glob("p-*.png"))).convert("L")) > 300
    said = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    for shown in texts:
        assert shown in said, shown


@pytest.mark.refuses("GSP-04")
def test_a_price_tag_without_the_medical_insurance_mark_is_refused_for_a_medical_insurance_drug_every_way(
        shop: Shop, tmp_path: Path) -> None:
    pharmacist, admin = shop.people["u_pharmacist"], shop.people["u_insurance_admin"]
    ibu = shop.items["ibu"]  # 甲类OTC, 医保甲类, in Z-OTC beside a self-pay drug
    before = _written(shop)
    tries: list[tuple[Ctx, labels.Selection, list[int] | None, str | None]] = [
        (pharmacist, labels.Selection.ITEMS, [ibu], None),
        (pharmacist, labels.Selection.ZONE, None, "Z-OTC"),  # another path: the zone, which holds a self-pay drug too
        (admin, labels.Selection.ITEMS, [ibu, shop.items["vitc"]], None),  # another person, a mixed sheet
    ]
    for who, selection, ids, zone in tries:
        with pytest.raises(AppError) as refused, core_unit(shop.engine) as u:
            labels.print_labels(u, who, selection, Template.SMALL, ids, zone)
        assert refused.value.code == "GSP-04" and "医保" in refused.value.message_zh
        assert refused.value.details["item_id"] == ibu and refused.value.details["mark"] == "医保甲类"
    # "what changed": a 医保 drug just added (never labelled) is among it
    approval = mapping_approval(shop.engine, shop.ctx)
    with core_unit(shop.engine) as u:
        new = id_of(catalog.create_item(u, shop.ctx, {"code": "LB0099", "name": "头孢克肟片", "approval_no": "国药准字H19", "gsp_class": "rx",
                                                      "route": "internal", "price_fen": 2900}, [], "Z-RX"))
        catalog.update_item(u, shop.ctx, new, {"nhsa_code": "XJ01DDC099A001010100003", "insurance_category": "yi"},
                            approval)
    before = _written(shop)
    with pytest.raises(AppError) as refused, core_unit(shop.engine) as u:
        labels.print_labels(u, pharmacist, labels.Selection.CHANGED, Template.SMALL)
    assert refused.value.code == "GSP-04" and _written(shop) == before
    named = refused.value.details.get("violations") or [{"details": refused.value.details}]
    assert new in {v["details"]["item_id"] for v in named}

    # over HTTP, as the 医保 administrator at the till: 422 GSP-04; the standard label goes
    from server.app import create_app

    app = create_app(shop.settings)
    with TestClient(app) as client:
        h = till_login(client, "u_insurance_admin", ROLE_PINS["insurance_admin"])
        before = _written(shop)  # the logins are audited: counted from here
        r = client.post("/labels/runs", json={"selection": "items", "item_ids": [ibu], "template": "small"}, headers=h)
        assert r.status_code == 422 and r.json()["code"] == "GSP-04", r.text
        typed = client.post("/labels/runs", json={"selection": "items", "item_ids": [ibu], "price_fen": 1},
                            headers=h)  # a label is never typed: the body has no room for what it says
        assert typed.status_code == 422
        back_dated = client.post("/labels/runs", json={"selection": "items", "item_ids": [ibu], "template": "small",
                                                       "business_date": "2026-01-01"}, headers=h)
        assert back_dated.status_code == 422  # a label's day is the clock's, never the caller's
        assert _written(shop) == before
        ok = client.post("/labels/runs", json={"selection": "items", "item_ids": [ibu], "to_printer": True},
                         headers=h)
        assert ok.status_code == 201, ok.text
        assert ok.json()["queued_on"] == "T01"
        with shop.engine.connect() as conn:  # on the till's receipt printer too, through the print queue
            job = conn.execute(text("SELECT kind, ref, document FROM print_job ORDER BY id DESC LIMIT 1")).one()
        assert (job.kind, job.ref) == ("labels", f"label_run:{ok.json()['id']}") and "医保甲类" in json.loads(job.document)["labels"][0]["insurance_mark"]
        assert ok.json()["labels"][0]["insurance_mark"] == "医保甲类"
        assert ok.json()["labels"][0]["class_mark"] == "甲类OTC"
        sheet = client.get(f"/labels/runs/{ok.json()['id']}/pdf", headers=h)
        assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
        _shows(sheet.content, tmp_path, ("布洛芬缓释胶囊", "甲类OTC", "医保甲类", "¥16.80", "0.3g*20粒"))
    app.state.dingdian.engine.dispose()

    # from the command line, as the pharmacist (their PIN typed): exit 1, the rule named, no sheet written
    before = _written(shop)
    config = tmp_path / "config.toml"
    config.write_text(Path("config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{shop.settings.database.url}"'), encoding="utf-8")
    from server.cli import app as cli

    out = tmp_path / "small.pdf"
    said = CliRunner().invoke(cli, ["labels", "print", "--item", "LB0003", "--template", "small", "--out", str(out),
                                    "--config", str(config), "--as", "u_pharmacist"],
                              input=f"{ROLE_PINS['pharmacist']}\n")
    assert said.exit_code == 1 and "GSP-04" in said.output, said.output
    assert not out.exists() and _written(shop) == before


def test_the_command_line_prints_a_zone_and_lists_what_is_stale(shop: Shop, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(Path("config.toml").read_text(encoding="utf-8").replace(
        'url = "sqlite:///var/dingdian.db"', f'url = "{shop.settings.database.url}"'), encoding="utf-8")
    from server.cli import app as cli

    out = tmp_path / "zone.pdf"
    printed = CliRunner().invoke(cli, ["labels", "print", "--zone", "Z-RX", "--out", str(out), "--config",
                                       str(config), "--as", "u_pharmacist"], input=f"{ROLE_PINS['pharmacist']}\n")
    assert printed.exit_code == 0, printed.output
    assert out.read_bytes().startswith(b"%PDF") and "label(s) printed" in printed.output
    with core_unit(shop.engine) as u:
        catalog.update_item(u, shop.ctx, shop.items["amox"], {"spec": "0.5g*12粒"})
    stale = CliRunner().invoke(cli, ["labels", "stale", "--config", str(config)])
    assert stale.exit_code == 1 and "LB0001" in stale.output and "spec" in stale.output
    with core_unit(shop.engine) as u:  # the catalog back as the label says, for the module's other tests
        catalog.update_item(u, shop.ctx, shop.items["amox"], {"spec": "0.25g*24粒"})
