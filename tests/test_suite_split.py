"""`make test` leaves out of the suite exactly the tests `make check` has just run: no test twice, none lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest

from tests.conftest import _already_checked

CHECK = "tests/catalog tests/server/test_card_rules.py --deselect tests/server/test_card_rules.py::test_slowish"


@dataclass
class FakeItem:
    nodeid: str
    markers: set[str] = field(default_factory=set)

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.markers else None


def item(nodeid: str, markers: set[str] | None = None) -> pytest.Item:
    return cast(pytest.Item, FakeItem(nodeid, markers or set()))


def test_the_checked_fast_tests_are_left_out_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINGDIAN_ALREADY_CHECKED", CHECK)
    checked = _already_checked()
    assert checked(item("tests/catalog/test_codes.py::test_gtin"))
    assert checked(item("tests/server/test_card_rules.py::test_x"))
    # what the check did not run stays in the suite
    assert not checked(item("tests/server/test_card_rules.py::test_slowish"))
    assert not checked(item("tests/catalogue/test_other.py::test_y"))
    assert not checked(item("tests/server/test_card_rules_pg.py::test_z"))
    for marker in ("slow", "postgres", "hardware"):
        assert not checked(item("tests/catalog/test_codes.py::test_gtin", {marker}))


def test_without_the_variable_nothing_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DINGDIAN_ALREADY_CHECKED", raising=False)
    assert not _already_checked()(item("tests/catalog/test_codes.py::test_gtin"))
