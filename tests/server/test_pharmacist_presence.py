"""RX-10 and STAFF-01 against someone trying: a pharmacist who is frozen, whose contract or qualification ended, or
who went off duty no longer lets 处方药 or 甲类非处方药 be sold — not at the scan, not at the payment after a resume, not
with an approval given while they were on duty — and the time the store sold without one is on record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from tests.conftest import BARCODE_AMOX, BARCODE_MASK, BARCODE_VITC, Shop, nobody_on_duty, pharmacist_on_duty, prescribe
from tests.server.test_selling import new_sale, pay_cash, scan


def _pharmacist_id(shop: Shop) -> int:
    return int(shop["client"].get("/auth/me", headers=shop["pharmacist"]).json()["id"])


def _on_duty(shop: Shop) -> list[str]:
    return list(shop["client"].get("/till/status", headers=shop["cashier"]).json()["on_duty"])


@pytest.fixture(autouse=True)
def _only_the_shops_pharmacist(shop: Shop) -> None:
    """The shop's own pharmacist the only one on duty (the seeded duty pharmacist gone off)."""
    pharmacist_on_duty(shop)
    nobody_on_duty(shop["client"])


def _off_duty(shop: Shop) -> None:
    r = shop["client"].delete(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    assert r.status_code == 200, r.text


def _staff(shop: Shop, **changes: Any) -> Any:
    c = shop["client"]
    pid = _pharmacist_id(shop)
    body = {k: v for k, v in c.get(f"/users/{pid}/staff", headers=shop["manager"]).json().items()
            if k in ("qualification", "qualification_no", "qualification_expiry", "registered_store_code",
                     "contract_start", "contract_end", "work_cert_no", "work_cert_expiry")}
    r = c.put(f"/users/{pid}/staff", json=body | changes, headers=shop["manager"])
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.refuses("RX-10")
def test_without_a_pharmacist_on_duty_rx_and_class_a_otc_are_refused_at_the_scan(shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    _off_duty(shop)
    assert _on_duty(shop) == []
    sid = new_sale(c, h)
    for barcode in (BARCODE_AMOX, BARCODE_VITC):
        r = scan(c, h, sid, barcode)
        assert r.status_code == 422 and r.json()["code"] == "RX-10", r.text
        assert "药师不在岗" in r.json()["message_zh"]
    assert scan(c, h, sid, BARCODE_MASK).status_code == 201  # a device needs no pharmacist
    assert [ln["item_code"] for ln in c.get(f"/sales/{sid}", headers=h).json()["lines"]] == ["FY0001"]
    back = c.post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    assert back.status_code in (200, 201), back.text
    assert scan(c, h, sid, BARCODE_VITC).status_code == 201


@pytest.mark.refuses("RX-10")
def test_a_class_a_otc_scanned_while_a_pharmacist_was_on_duty_is_not_paid_after_they_left(
        shop: Shop) -> None:
    """Another time: scanned with a pharmacist present, parked, resumed and paid once they have gone."""
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    assert scan(c, h, sid, BARCODE_VITC, 2).status_code == 201
    assert c.post(f"/sales/{sid}/suspend", headers=h).status_code == 200
    _off_duty(shop)
    assert c.post(f"/sales/{sid}/resume", json={}, headers=h).status_code == 200
    r = pay_cash(c, h, sid, 700, 700)
    assert r.status_code == 422 and r.json()["code"] == "RX-10", r.text
    assert c.get(f"/sales/{sid}", headers=h).json()["status"] == "open"  # nothing paid, nothing lost


@pytest.mark.refuses("RX-10", "STAFF-01", "SEC-03")
def test_a_frozen_pharmacists_duty_ends_at_once_and_their_approval_no_longer_completes_a_sale(
        shop: Shop) -> None:
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    assert scan(c, h, sid, BARCODE_AMOX).status_code == 201
    prescribe(shop, sid, [(shop["items"]["amox"], 1, False)])
    assert _on_duty(shop) == ["测试pharmacist"]
    frozen = c.post(f"/users/{_pharmacist_id(shop)}/freeze", json={"reason": "离职"}, headers=shop["manager"])
    assert frozen.status_code == 200, frozen.text
    assert _on_duty(shop) == []
    r = pay_cash(c, h, sid, 1250, 1250)
    assert r.status_code == 422 and r.json()["code"] == "RX-10", r.text
    assert scan(c, h, new_sale(c, h), BARCODE_VITC).json()["code"] == "RX-10"


@pytest.mark.refuses("RX-10", "STAFF-01")
@pytest.mark.parametrize("lapse", ["contract_end", "qualification_expiry"])
def test_a_pharmacist_whose_contract_or_qualification_ended_no_longer_counts_though_still_logged_on(
        shop: Shop, lapse: str) -> None:
    """Another path: nobody freezes the account; the record's date passes (here: set to yesterday by the manager)."""
    c, h = shop["client"], shop["cashier"]
    sid = new_sale(c, h)
    assert scan(c, h, sid, BARCODE_AMOX).status_code == 201
    prescribe(shop, sid, [(shop["items"]["amox"], 1, False)])
    yesterday = (shop["clock"].today - timedelta(days=1)).isoformat()
    changes = {lapse: yesterday} | ({"contract_start": (shop["clock"].today - timedelta(days=800)).isoformat()}
                                    if lapse == "contract_end" else {})
    assert _staff(shop, **changes)["pharmacist_signoff_refusals"][0]["code"] == "STAFF-01"
    assert _on_duty(shop) == []  # the duty row is open; the person no longer counts
    r = pay_cash(c, h, sid, 1250, 1250)
    assert r.status_code == 422 and r.json()["code"] == "RX-10", r.text
    assert scan(c, h, sid, BARCODE_VITC).json()["code"] == "RX-10"


@pytest.mark.refuses("STAFF-01")
def test_a_licensed_pharmacist_without_a_registration_expiry_on_record_cannot_go_on_duty(shop: Shop) -> None:
    c = shop["client"]
    _off_duty(shop)
    _staff(shop, qualification_expiry=None)
    r = c.post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"])
    assert r.status_code == 403 and r.json()["code"] == "STAFF-01", r.text


def test_the_time_the_store_sold_without_a_pharmacist_is_on_record(shop: Shop) -> None:
    """The shift is open throughout; the pharmacist leaves for twenty minutes, and a device is sold meanwhile."""
    c, h, m = shop["client"], shop["cashier"], shop["manager"]
    t0 = shop["clock"].now.replace(microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(t0, tick=False) as traveller:
        _off_duty(shop)
        traveller.move_to(t0 + timedelta(minutes=10))
        sid = new_sale(c, h)
        assert scan(c, h, sid, BARCODE_MASK).status_code == 201
        assert pay_cash(c, h, sid, 990, 1000).status_code == 200
        traveller.move_to(t0 + timedelta(minutes=20))
        assert c.post(f"/shifts/{shop['shift_id']}/duty", headers=shop["pharmacist"]).status_code in (200, 201)
        traveller.move_to(t0 + timedelta(minutes=30))
        r = c.get("/shifts/unattended", params={"start": (t0 - timedelta(hours=1)).isoformat(),
                                                "end": (t0 + timedelta(minutes=30)).isoformat()}, headers=m)
    assert r.status_code == 200, r.text
    periods = r.json()["periods"]
    gap = [p for p in periods if p["start"] == t0.isoformat().replace("+00:00", "Z")
           or p["start"].startswith(t0.strftime("%Y-%m-%dT%H:%M:%S"))]
    assert len(gap) == 1 and gap[0]["seconds"] == 20 * 60 and gap[0]["sales"] == [sid], periods
    # the shop's fixture opened the shift a moment before the pharmacist came on: that moment is on record too
    assert all(p["seconds"] < 60 and p["sales"] == [] for p in periods if p is not gap[0])
    assert r.json()["total_seconds"] == sum(p["seconds"] for p in periods)


def test_unattended_selling_is_for_the_manager_not_the_cashier(shop: Shop) -> None:
    r = shop["client"].get("/shifts/unattended", headers=shop["cashier"])
    assert r.status_code == 403
