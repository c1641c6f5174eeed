"""The clearing group and the centre's settlement day, from a stored 2102 answer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from server.insurance.clearing import ClearingGroup, centre_day, group_of, settled_at

SH = ZoneInfo("Asia/Shanghai")
ANSWER = {"insutype": "310", "clr_type": "41", "clr_optins": "110100", "setl_time": "2026-12-31 23:59:59"}


def test_group_is_insurance_clearing_type_agency_and_local_or_not() -> None:
    local = group_of(ANSWER, insuplc_admdvs="110100", store_admdvs="110100")
    away = group_of(ANSWER, insuplc_admdvs="310100", store_admdvs="110100")
    assert local == ClearingGroup("310", "41", "110100", False)
    assert away.nonlocal_ and away != local
    assert away.label_zh.endswith("异地") and local.label_zh.endswith("本地")


def test_the_day_is_the_centres_settlement_time_not_ours() -> None:
    ours = datetime(2027, 1, 1, 0, 0, 5, tzinfo=SH).astimezone(UTC)  # we recorded it a few seconds later
    assert centre_day(ANSWER, SH, ours) == date(2026, 12, 31)
    assert settled_at(ANSWER, SH) == datetime(2026, 12, 31, 23, 59, 59, tzinfo=SH)


def test_an_unreadable_time_falls_back_to_our_instant_in_the_store_zone() -> None:
    ours = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in Shanghai
    assert settled_at({"setl_time": "31/12/2026"}, SH) is None
    assert centre_day({}, SH, ours) == date(2027, 1, 1)
