"""The rules audit stays true: each rule of SHOWN_REFUSING keeps a test marked `refuses` for it, every mark names a
registered rule, and the report (`make rules`) lists every rule with its tests and ends with the rules without.
Pure: reads the test files' syntax trees, runs none of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.rules.register import RULES
from tests import rules_audit

# The rules a test already shows refusing. Issue #17 grows this to every rule it covers. A rule joins when its test
# does; it never leaves.
SHOWN_REFUSING = frozenset({
    "AGR-01", "AGR-02", "AGR-03",
    "RX-01", "RX-02", "RX-03", "RX-04", "RX-05", "RX-06", "RX-07", "RX-08", "RX-10", "RX-11",
    "CARD-01", "CARD-02", "CARD-03", "CARD-04", "CARD-05", "CARD-06", "CARD-07",
    "GSP-01", "GSP-02", "GSP-03", "GSP-04", "GSP-05", "GSP-06", "GSP-07",
    "STAFF-01", "STAFF-02",
    "ST-01", "ST-02", "ST-04", "ST-05", "ST-06", "ST-07", "ST-08",
    "SEC-01", "SEC-02", "SEC-03", "SEC-04", "SEC-05", "SEC-06",
})


@pytest.fixture(scope="module")
def audit() -> rules_audit.Audit:
    return rules_audit.audit()


def test_every_rule_of_the_set_keeps_a_test_that_shows_it_refusing(audit: rules_audit.Audit) -> None:
    assert SHOWN_REFUSING <= set(RULES)
    lost = sorted(rule_id for rule_id in SHOWN_REFUSING if not audit.by_rule[rule_id])
    assert not lost, f"no test marked @pytest.mark.refuses shows these rules refusing any more: {lost}"


def test_every_mark_names_a_registered_rule_and_is_read(audit: rules_audit.Audit) -> None:
    assert audit.unknown == {} and audit.problems == []


def test_the_report_lists_every_rule_and_ends_with_the_rules_without(audit: rules_audit.Audit) -> None:
    text = rules_audit.report(audit)
    listed = [line.split()[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert listed[:len(RULES)] == list(RULES)
    tail = text.split(f"{len(RULES)} rules: ", 1)[1].splitlines()
    assert [line.split()[0] for line in tail[1:]] == audit.without
    assert set(audit.without).isdisjoint(SHOWN_REFUSING)
    assert "tests/server/test_prescriptions.py::test_rx10_a_sale_is_not_paid_once_the_approving_pharmacist_left_duty" \
        in audit.by_rule["RX-10"]


def test_make_rules_runs_the_audit_on_its_own() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.rules_audit", "--missing"], capture_output=True, text=True,
                          cwd=Path(rules_audit.__file__).parents[1], timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{len(RULES)} rules: ")


def test_marks_are_read_as_pytest_applies_them(tmp_path: Path) -> None:
    """On a function, on a Test class (its tests inherit it), in a module's pytestmark; an unregistered ID and a mark
    that cannot be read without running the code are reported, not lost."""
    tests = tmp_path / "tests"
    (tests / "server").mkdir(parents=True)
    (tests / "server" / "test_a.py").write_text('''
import pytest
from pytest import mark

pytestmark = [pytest.mark.slow, pytest.mark.refuses("SEC-01")]

@pytest.mark.parametrize("x", [1])
@pytest.mark.refuses("RX-10", "STAFF-01")
def test_one(x): ...

@mark.refuses("RX-99")
async def test_two(): ...

@pytest.mark.refuses("GSP-06")
class TestBatches:
    @pytest.mark.refuses("GSP-05")
    def test_three(self): ...

    def helper(self): ...

IDS = ("CARD-02",)

@pytest.mark.refuses(*IDS)
def test_four(): ...

@pytest.mark.refuses("CARD-02")
def not_a_test(): ...
''', encoding="utf-8")
    (tests / "test_b.py").write_text("def test_unmarked(): ...\n", encoding="utf-8")
    problems: list[str] = []
    marked = {m.test: m.rules for m in rules_audit.marked_tests(tests, problems)}
    assert marked == {
        "tests/server/test_a.py::test_one": ("SEC-01", "RX-10", "STAFF-01"),
        "tests/server/test_a.py::test_two": ("SEC-01", "RX-99"),
        "tests/server/test_a.py::TestBatches::test_three": ("SEC-01", "GSP-06", "GSP-05"),
        "tests/server/test_a.py::test_four": ("SEC-01",),
    }
    assert len(problems) == 3 and "*IDS" in problems[0] and "names no rule" in problems[1]
    assert "not_a_test" in problems[2]
    result = rules_audit.audit(tests)
    assert result.unknown == {"RX-99": ["tests/server/test_a.py::test_two"]}
    assert result.by_rule["GSP-05"] == ["tests/server/test_a.py::TestBatches::test_three"]
    assert "NOT A RULE of the register: RX-99" in rules_audit.report(result)
