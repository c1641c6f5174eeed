"""The rule register (server/rules/register.py) is the one list of rule IDs: every ID the code cites is in it,
so a typo'd or invented rule ID fails here; and, where the domain's rules.md is at hand, the register has
exactly rules.md's rules with their sources. Pure: reads source files, starts nothing."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.rules.register import FAMILIES, RULE_ID, RULES, Rule

REPO = Path(__file__).resolve().parents[2]
RULES_MD = REPO / ".." / "shared" / "domain" / "rules.md"
CODE_PACKAGES = ("server", "catalog", "pos", "reports", "devices")

# A rule ID of a known family anywhere in the text (code, docstring, comment): "RX-05's", "GSP-01..03".
CITED = re.compile(rf"\b(?:{'|'.join(FAMILIES)})-[0-9]{{1,2}}(?![0-9])")
# An error code shaped like a rule ID, whatever its family ("GPS-02" too); "SALE-STATE", "CODE-GTIN" are not.
RULE_SHAPED = re.compile(r"^[A-Z]{2,6}-[0-9]{1,3}$")
QUOTED_RULE_SHAPED = re.compile(r"""["'][A-Z]{2,6}-[0-9]{1,3}["']""")  # only files with one are parsed


def _sources() -> Iterator[tuple[Path, str]]:
    for package in CODE_PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO)}:{line}"


def _cited_in_text(path: Path, source: str) -> Iterator[tuple[str, str]]:
    """Rule IDs in strings and comments (tokens, so an identifier never counts)."""
    if not CITED.search(source):
        return
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.STRING, tokenize.COMMENT) or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            for m in CITED.finditer(tok.string):
                yield m.group(), _where(path, tok.start[0])


def _codes_in_calls(path: Path, source: str) -> Iterator[tuple[str, str]]:
    """Rule-shaped string literals handed to a call: Violation("RX-10", …), AppError(403, "STAFF-01", …),
    conflict("RX-08", …), error(rule="GSP-01"), a rule's own helper _v("CARD-02", …)."""
    if not QUOTED_RULE_SHAPED.search(source):
        return
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and RULE_SHAPED.match(arg.value):
                    yield arg.value, _where(path, arg.lineno)


def test_every_rule_id_the_code_cites_is_in_the_register() -> None:
    cited: dict[str, list[str]] = {}
    for path, source in _sources():
        for code, where in [*_codes_in_calls(path, source), *_cited_in_text(path, source)]:
            cited.setdefault(code, []).append(where)
    unknown = {code: where for code, where in cited.items() if code not in RULES}
    assert not unknown, f"rule IDs cited in the code but not in server/rules/register.py: {unknown}"
    # the scan itself sees the code: the rules the code is known to refuse with are found
    assert {"RX-10", "STAFF-01", "CARD-02", "GSP-06", "SEC-01"} <= set(cited)


def test_a_typo_or_an_invented_rule_id_would_be_found() -> None:
    source = ('raise AppError(409, "RX-12", "zh", "en")\n'
              'v = Violation("GPS-02", "zh", "en")  # and see CARD-9\n'
              'def f():\n    """Docstring citing SEC-08."""\n')
    path = REPO / "server" / "rogue.py"
    found = {code for code, _ in [*_codes_in_calls(path, source), *_cited_in_text(path, source)]}
    assert found - set(RULES) == {"RX-12", "GPS-02", "CARD-9", "SEC-08"}
    # error codes that are not rule IDs pass, and so do identifiers and a prescription number
    ok = ('conflict("RX-STATE", "zh", "en")\nAppError(422, "CODE-GTIN", "", "")\nRX_10 = 1\nrx_no = "RX-1001"\n')
    assert [*_codes_in_calls(path, ok), *_cited_in_text(path, ok)] == []


def test_the_register_is_well_formed() -> None:
    assert len(RULES) == len(set(RULES))
    for rule_id, rule in RULES.items():
        assert isinstance(rule, Rule) and rule.id == rule_id and RULE_ID.match(rule_id), rule_id
        assert rule.family in FAMILIES
        assert re.search(r"[\u4e00-\u9fff]", rule.title_zh), rule_id
        assert rule.title_en and rule.title_en[0].isupper(), rule_id
        assert rule.source.strip() == rule.source and rule.source, rule_id
    families = [r.family for r in RULES.values()]
    assert families == sorted(families, key=FAMILIES.index)  # grouped in rules.md's order
    with pytest.raises(AttributeError):
        RULES["RX-01"].title_en = "x"  # type: ignore[misc]  # what the types forbid, shown refused at run time
    with pytest.raises(TypeError):
        RULES["RX-99"] = RULES["RX-01"]  # type: ignore[index]  # a read-only mapping, shown refused at run time


def _rules_md_rows(text: str) -> dict[str, str]:
    """ID → source (the table's last column) of every rule row of rules.md's tables."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and RULE_ID.match(cells[0]):
            assert cells[0] not in rows, f"rules.md lists {cells[0]} twice"
            rows[cells[0]] = cells[-1]
    return rows


def test_the_register_has_exactly_the_rules_of_rules_md() -> None:
    path = RULES_MD.resolve()
    if not path.is_file():
        pytest.skip(f"the domain's rules.md is not beside this checkout ({path}): the register is checked "
                    "against the code only")
    text = path.read_text(encoding="utf-8")
    rows = _rules_md_rows(text)
    assert len(rows) >= 40  # the tables were read
    assert list(RULES) == list(rows), "the register's IDs (in order) differ from rules.md's"
    differ = {rule_id: (RULES[rule_id].source, source) for rule_id, source in rows.items()
              if RULES[rule_id].source != source}
    assert not differ, f"sources differ from rules.md (register, rules.md): {differ}"
    # no rule ID of a family the register does not know (the CHECK list cites only the rules above)
    mentioned = set(re.findall(r"\b[A-Z]{2,6}-[0-9]{2}\b", text))
    assert mentioned <= set(RULES), mentioned - set(RULES)


def test_dingdian_rules_lists_the_register() -> None:
    """`dingdian rules` prints every rule with its title and source, one family on request; needs no config."""
    import json

    from typer.testing import CliRunner

    from server.cli import app

    runner = CliRunner()
    everything = runner.invoke(app, ["rules"])
    assert everything.exit_code == 0, everything.output
    ids = [line.split()[0] for line in everything.output.splitlines() if line[:1].isalpha() and "-" in line.split()[0]]
    assert ids == list(RULES)
    assert f"RX-10    {RULES['RX-10'].title_zh} / {RULES['RX-10'].title_en}" in everything.output
    assert f"来源 / source: {RULES['RX-10'].source}" in everything.output
    staff = json.loads(runner.invoke(app, ["rules", "staff", "--json"]).output)
    assert [r["id"] for r in staff] == ["STAFF-01", "STAFF-02"] and staff[0]["source"] == RULES["STAFF-01"].source
    unknown = runner.invoke(app, ["rules", "GPS"])
    assert unknown.exit_code == 2 and "GPS" in unknown.output
