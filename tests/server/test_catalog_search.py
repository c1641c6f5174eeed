"""The till's catalog search (GET /items/search): its answer is exactly the one the response models give (built
from the ORM's items as before, and as GET /items/{id} shows each item), its stock figure is the sellable
one, and it is served on the event loop where it never waits — for the index or for another writer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import col, select

from server.api import lane
from server.api.catalog import find, items_out
from server.api.schemas.catalog import ItemOut, SearchHitOut, item_fields
from server.db.models import Item
from server.db.uow import NotOnLoop, core_unit, read_session
from server.services.catalog import items as catalog_service
from server.services.catalog.search import CatalogSearch, index_of
from server.services.context import Ctx
from tests.conftest import (
    BARCODE_AMOX,
    BARCODE_ICE,
    BARCODE_MASK,
    ROLE_PINS,
    Shop,
    login,
    mapping_approval,
    seed_shop,
    sqlite_file,
)

ANSWER = TypeAdapter(list[SearchHitOut])
NOBODY: Any = None  # the caller, which the search does not need


def _extra_items(engine: Engine, ctx: Ctx) -> None:
    """What the shop's items do not show: no zone, two barcodes, a 医保 code, a split price; an inactive item."""
    approval = mapping_approval(engine, ctx)
    with core_unit(engine) as s:
        catalog_service.create_item(s, ctx, {"code": "YP0901", "name": "板蓝根颗粒", "spec": "10g*20袋",
                                             "approval_no": "国药准字Z1", "gsp_class": "otc_a", "route": "internal",
                                             "nhsa_code": "ZA04BAB0088010102140", "insurance_category": "jia",
                                             "price_fen": 1590, "split_unit": "袋", "split_ratio": 20,
                                             "split_price_fen": 80}, ["6905678901236", "6905678901243"], None,
                                    approval)
        gone = catalog_service.create_item(s, ctx, {"code": "YP0902", "name": "板蓝根片", "gsp_class": "otc_a",
                                                    "route": "internal", "approval_no": "国药准字Z2",
                                                    "price_fen": 990}, [], None)
        catalog_service.update_item(s, ctx, gone.id or 0, {"active": False})


def _as_the_models_give(engine: Engine, ctx: Ctx, q: str, limit: int) -> bytes:
    """The answer as the route built it before: the ORM's items, ItemOut validated per item, the list serialised."""
    hits = CatalogSearch(engine, ctx.store_id).search(q, limit)
    with read_session(engine) as s:
        rows = {i.id: i for i in s.exec(select(Item).where(col(Item.id).in_([h.item_id for h in hits])))}
        outs = {o.id: o for o in items_out(s, ctx, [rows[h.item_id] for h in hits])}
    return ANSWER.dump_json([SearchHitOut(rank=h.rank, matched=h.field, item=outs[h.item_id]) for h in hits])


def test_the_answer_is_the_one_the_models_give(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    _extra_items(engine, ctx)
    client, cashier = shop["client"], shop["cashier"]
    seen: set[str] = set()
    for q, limit in (("YP", 20), ("板蓝根", 20), ("BLG", 20), ("FY", 1), ("国药准字", 3), (BARCODE_AMOX, 20),
                     ("6905678901243", 20), ("690", 100), ("口罩", 20), ("nothing-like-it", 20)):
        r = client.get("/items/search", params={"q": q, "limit": limit}, headers=cashier)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
        assert r.content == _as_the_models_give(engine, ctx, q, limit), q  # byte for byte
        for hit in r.json():
            assert hit["item"] == client.get(f"/items/{hit['item']['id']}", headers=cashier).json()
            seen.add(hit["item"]["code"])
    assert seen == {"YP0001", "YP0002", "YP0901", "FY0001", "FY0002"}  # every kind of item; the inactive one never
    [blg] = client.get("/items/search", params={"q": "BLG"}, headers=cashier).json()
    assert (blg["item"]["zone_code"], blg["item"]["barcodes"], blg["item"]["split_price_fen"],
            blg["item"]["insurance_label"]) == (None, ["6905678901236", "6905678901243"], 80, "甲")


def test_the_fields_hold_the_models_types_and_order(shop: Shop, engine: Engine, ctx: Ctx) -> None:
    """item_fields builds ItemOut's fields without the model: the model given them changes nothing."""
    answer = find(engine, ctx, NOBODY, "YP", 20)
    for hit in TypeAdapter(list[dict[str, Any]]).validate_json(answer):
        assert list(hit) == list(SearchHitOut.model_fields)
        assert list(hit["item"]) == list(ItemOut.model_fields)
        assert ItemOut.model_validate(hit["item"]).model_dump(mode="json") == hit["item"]
    with pytest.raises(KeyError):  # a column the catalog did not read is a failure, never a silent default
        item_fields({"gsp_class": "rx", "insurance_category": "none"}, 0)


def test_the_stock_is_what_can_be_sold(shop: Shop) -> None:
    """GSP-06 through the stock ledger's one predicate: the expired batch and the stopped one are not counted."""
    def stock(code: str) -> int:
        r = shop["client"].get("/items/search", params={"q": code}, headers=shop["cashier"])
        [hit] = r.json()
        return int(hit["item"]["stock"])

    assert (stock(BARCODE_AMOX), stock(BARCODE_MASK), stock(BARCODE_ICE)) == (12 * 24, 3, 0)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_the_loop_it_never_waits(engine: Engine, ctx: Ctx) -> None:
    """find(on_loop=True) answers as a worker's find does, or raises NotOnLoop (nothing read) where it would wait:
    the index not loaded yet or changed since (loading is a worker's), or held by another thread."""
    items = seed_shop(engine, ctx)

    def find_(q: str, on_loop: bool = False) -> bytes:
        return find(engine, ctx, NOBODY, q, 20, on_loop=on_loop)

    with pytest.raises(NotOnLoop):
        find_("YP", on_loop=True)  # the first load (100k items in a store) is a worker's
    answer = find_("YP")
    assert find_("YP", on_loop=True) == answer and b"YP0001" in answer

    with index_of(engine, ctx.store_id)._lock:  # another thread searching, or the start-up load still going
        with pytest.raises(NotOnLoop):
            find_("YP", on_loop=True)

    with core_unit(engine) as s:  # a catalog change: the worker loads it, then the loop answers with it
        catalog_service.update_item(s, ctx, items["vitc"], {"price_fen": 360})
    with pytest.raises(NotOnLoop):
        find_("YP0002", on_loop=True)
    changed = find_("YP0002")
    assert b'"price_fen":360' in changed and find_("YP0002", on_loop=True) == changed

    other = sqlite3.connect(sqlite_file(engine), isolation_level=None)  # another process mid-write
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE item SET price_fen = 1 WHERE code = 'YP0002'")
        t0 = time.perf_counter()
        assert find_("YP0002", on_loop=True) == changed  # what is committed, at once
        assert time.perf_counter() - t0 < 5
    finally:
        other.close()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the hot lane served itself, by handler."""
    seen: list[str] = []
    real = lane._call

    async def counted(hot_lane: Any, *args: Any) -> bytes:
        seen.append(hot_lane.name)
        return await real(hot_lane, *args)

    monkeypatch.setattr(lane, "_call", counted)
    yield seen


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_hot_lane_answers_as_the_route_does(shop: Shop, engine: Engine, ctx: Ctx,
                                                 served: list[str]) -> None:
    """The search's happy path is served by the hot lane; whatever it cannot read as the route does goes the long
    way — and either way the answer is the same."""
    client, cashier = shop["client"], shop["cashier"]
    lane_served = [  # query strings the lane reads as the route does
        "q=YP", "q=YP&limit=2", "q=%E9%98%BF%E8%8E%AB", "q=FY&limit=+1", "q=YP&limit=2.0", "q=YP&other=1&other=2",
        "q=" + BARCODE_AMOX, "q=%20YP%20", "limit=3&q=yp"]
    long_way = {  # and those it leaves to the route, with the route's answer
        "q=YP&q=FY": 200, "q=YP&limit=1&limit=2": 200, "": 422, "q=": 422, "limit=3": 422, "q=" + "x" * 51: 422,
        "q=YP&limit=0": 422, "q=YP&limit=101": 422, "q=YP&limit=": 422, "q=YP&limit=two": 422}
    for query in lane_served:
        before = len(served)
        r = client.get(f"/items/search?{query}", headers=cashier)
        assert r.status_code == 200 and served[before:] == ["find"], query
        assert r.content == _as_the_models_give(engine, ctx, *_q_limit(query)), query
    for query, status in long_way.items():
        before = len(served)
        r = client.get(f"/items/search?{query}", headers=cashier)
        assert r.status_code == status and served[before:] == [], (query, r.text)
        if status == 422:
            assert r.json()["code"] == "VALIDATION"
    # no token, an unknown one, a post that may not read the catalog, a body: the route answers, as ever
    for headers, status in (({}, 401), ({"Authorization": "Bearer " + "x" * 43}, 401),
                            (login(client, "u_sysadmin", ROLE_PINS["sysadmin"]), 403)):
        r = client.get("/items/search?q=YP", headers=headers)
        assert r.status_code == status and served == ["find"] * len(lane_served)
    r = client.request("GET", "/items/search?q=YP", headers=cashier, content=b"{}")
    assert r.status_code == 200 and served == ["find"] * len(lane_served)


def _q_limit(query: str) -> tuple[str, int]:
    from urllib.parse import parse_qs

    given = parse_qs(query, keep_blank_values=True)
    return given["q"][0], int(float(given.get("limit", ["20"])[0]))
