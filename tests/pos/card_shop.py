"""A till's store ready for the 医保 card, against a real sandbox centre: the agreement active, the licence
valid, 维生素C片 mapped 甲 and 阿莫西林 乙 with their mappings uploaded (as tests/insurance/test_card_sale.py
makes it, here through the running service)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from server.db.models import Item
from server.db.models.base import id_of
from server.db.uow import core_unit, read_session
from server.services.catalog import items as catalog_service
from server.services.context import Ctx
from tests.conftest import CONFIRM_MAPPING, ROLE_PINS, by_second_admin, mapping_approval
from tests.insurance.conftest import CODES


def item_ids(engine: Engine) -> dict[str, int]:
    with read_session(engine) as s:
        return {i.code: id_of(i) for i in s.exec(select(Item))}


def headers(http: httpx.Client, post: str, till_code: str | None = None) -> dict[str, str]:
    body: dict[str, Any] = {"username": f"u_{post}", "pin": ROLE_PINS[post]} | ({"till_code": till_code} if till_code else {})
    r = http.post("/auth/login", json=body)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def make_card_ready(base: str, engine: Engine, ctx: Ctx, sign_in: str | None = None) -> dict[str, int]:
    """Returns the item ids by code; `sign_in`: a till user signed in to the centre (9001) already."""
    today = ctx.today
    ids = item_ids(engine)
    with httpx.Client(base_url=base, timeout=10) as http:
        admin = headers(http, "insurance_admin")
        r = http.post("/store/agreement-events", headers=admin, json={
            "status": "active", "effective_on": (today - timedelta(days=30)).isoformat(),
            "ends_on": (today + timedelta(days=300)).isoformat(), "agreement_no": "YB-2026-001"})
        assert r.status_code == 201, r.text
        r = http.patch("/store", headers=headers(http, "manager"), json={
            "drug_licence_no": "粤AA0001", "drug_licence_expiry": (today + timedelta(days=900)).isoformat()})
        assert r.status_code == 200, r.text
        approval = mapping_approval(engine, ctx)
        with core_unit(engine) as u:
            catalog_service.update_item(u, ctx, ids["YP0002"], {"nhsa_code": CODES["jia"], "insurance_category": "jia"},
                                        approval)
            catalog_service.update_item(u, ctx, ids["YP0001"], {"nhsa_code": CODES["yi"], "insurance_category": "yi"},
                                        approval)
        r = http.post("/items/mapping-uploaded", headers=by_second_admin(http, admin, "mapping.write"),
                      json={"item_ids": [ids["YP0002"], ids["YP0001"]]} | CONFIRM_MAPPING)
        assert r.status_code == 200, r.text
        if sign_in is not None:
            r = http.post("/insurance/sign-in", json={}, headers=headers(http, sign_in, "T01"))
            assert r.status_code == 201, r.text
    return ids
