"""Issue #16 §1, "the suite must pass at any hour": the store's business day comes from one clock in the store's
zone, in the code and in the tests; the date-sensitive tests (marked `business_day`) also run frozen at a day's,
a month's and a year's edges in store time and at 16:30 UTC (tests/conftest.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.config import ROOT
from server.services.context import Ctx
from tests.conftest import INSTANTS, SHANGHAI, Clock

# Reads of the machine's clock or zone that can give a business date: never, anywhere in the code or the tests.
# (A naive now is the machine's zone; the database's clock is not the one the tests freeze, nor the service's.)
MACHINE_CLOCK = {
    r"\bdate\.today\(": "date.today() is the machine's date",
    r"\bdatetime\.today\(": "datetime.today() is the machine's wall clock",
    r"\bdatetime\.utcnow\(": "datetime.utcnow() is naive",
    r"\bdatetime\.now\(\s*\)": "a naive datetime.now() is the machine's zone",
    r"\btime\.(localtime|ctime)\(\s*\)": "the machine's zone",
    r"(?i)\b(date|datetime|julianday|strftime|unixepoch)\(\s*'(%[^']*',\s*')?now'": "SQLite's own clock",
    r"(?i)\b(current_date|current_timestamp|localtimestamp|clock_timestamp|transaction_timestamp)\b":
        "the database's own clock",
    r"(?i)(?<![\w.])now\(\)": "SQL now(): the database's own clock",
    r"\bfunc\.(now|current_date|current_timestamp|localtimestamp)\b": "the database's own clock",
}
# In the tests, "now" and "today" come from the `clock` fixture only (tests/conftest.py is where it reads utcnow).
TESTS_READ_THE_CLOCK_FIXTURE = {
    r"\bdatetime\.now\(": "use the clock fixture's .now / .today",
    r"\butcnow\(": "use the clock fixture's .now",
    r"\btime\.time(_ns)?\(": "use the clock fixture (or time.monotonic for a timeout)",
}
PACKAGES = ("server", "pos", "devices", "catalog", "reports", "bench", "tests")


def _offences(patterns: dict[str, str], files: list[Path]) -> list[str]:
    found = []
    for path in files:
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for pattern, why in patterns.items():
                if re.search(pattern, line):
                    found.append(f"{path.relative_to(ROOT)}:{no}: {why}: {line.strip()}")
    return found


def _sources(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py") if ".venv" not in p.parts)


def test_no_code_or_test_reads_the_machines_clock_for_a_date() -> None:
    offences = _offences(MACHINE_CLOCK, [p for p in _sources(*PACKAGES) if p != Path(__file__)])
    assert not offences, "a business date from the machine's clock (take it from utcnow()/Ctx, tests from the " \
                         "clock fixture):\n" + "\n".join(offences)


def test_tests_read_now_and_today_from_the_clock_fixture_only() -> None:
    files = [p for p in _sources("tests") if p not in (Path(__file__), ROOT / "tests" / "conftest.py")]
    offences = _offences(TESTS_READ_THE_CLOCK_FIXTURE, files)
    assert not offences, "\n".join(offences)


def test_the_meta_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The greps above are only worth something if they match the readings that broke CI."""
    sample = tmp_path / "sample.py"
    sample.write_text("a = date.today()\nb = datetime.now()\nc = datetime.now(UTC)\nd = \"SELECT date('now')\"\n"
                      "e = 'WHERE d < CURRENT_DATE'\nf = utcnow()\ng = ctx.now\n", encoding="utf-8")

    def lines(patterns: dict[str, str]) -> set[int]:
        found = set()
        for no, line in enumerate(sample.read_text(encoding="utf-8").splitlines(), 1):
            if any(re.search(p, line) for p in patterns):
                found.add(no)
        return found

    assert lines(MACHINE_CLOCK) == {1, 2, 4, 5}
    assert lines(TESTS_READ_THE_CLOCK_FIXTURE) == {2, 3, 6}


@pytest.mark.business_day
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the Ctx's clock is the same on both backends
def test_the_clock_gives_the_store_s_day_and_the_service_agrees(clock: Clock, business_instant: datetime | None,
                                                                ctx: Ctx) -> None:
    assert clock.now.tzinfo is not None and clock.now.utcoffset() == timedelta(0)
    assert clock.today == clock.now.astimezone(SHANGHAI).date() == ctx.today  # one clock, in the store's zone
    if business_instant is not None:  # frozen, not ticking: the instant stays put for the whole test
        assert clock.now == ctx.now == business_instant
        assert clock.frozen_at == business_instant


@pytest.mark.business_day
def test_the_tills_default_day_is_the_store_s(clock: Clock) -> None:
    """The prescription form offers today as the issue day (pos/screens/prescription.py): the store's today."""
    from pos.format import store_today

    assert store_today(clock.tz) == clock.today


def test_the_instants_straddle_the_days_edges() -> None:
    """16:30 UTC is the next day in Shanghai — the hours in which every CI run used to fail."""
    frozen = {name: at for name, at in INSTANTS.items() if at is not None}
    assert {at.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S") for at in frozen.values()} >= {
        "01-31 23:59:59", "02-01 00:00:01", "12-31 23:59:59", "01-01 00:00:01"}
    late = frozen["2027-03-10T16:30:00Z"]
    assert late.astimezone(UTC).date() != late.astimezone(SHANGHAI).date()
