"""The till's state (pos/state.py): one object the screens are given; whoever shows it hears of every change."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from pos.client import TillClient
from pos.state import LOGGED_OUT, TillState


def state() -> TillState:
    return TillState(client=TillClient("http://till.test"), store_name="丁点药房", till_code="T01",
                     tz=ZoneInfo("Asia/Shanghai"))


def test_subscribers_hear_of_a_change_once_and_not_of_a_value_set_again() -> None:
    till = state()
    heard: list[str | None] = []
    stop = till.subscribe(lambda: heard.append(till.user_name))
    till.logged_in("张药师")
    till.update(user_name="张药师", insurance_signed_in=None)  # nothing new
    till.update(shift={"id": 1}, on_duty=["张药师"])  # two fields, one notice
    assert heard == ["张药师", "张药师"]
    till.device_state("printer", {"ok": False, "text": "缺纸"})
    assert len(heard) == 3 and till.device_states["printer"]["text"] == "缺纸"
    stop()
    till.logged_out()
    assert len(heard) == 3 and till.user_name == LOGGED_OUT
    stop()  # stopping twice is harmless


def test_a_field_that_does_not_exist_is_refused() -> None:
    with pytest.raises(AttributeError, match="shfit"):
        state().update(shfit=None)
