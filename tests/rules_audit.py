"""The rules audit: for every rule of the register (server/rules/register.py), the tests that show it refusing,
and at the end the rules that have none.

A test that performs a walk-around of a rule and shows it refused (or, for tamper evidence, named) carries
`@pytest.mark.refuses("RX-10", "STAFF-01")`. This reads those marks from the test files' syntax trees: it
collects and runs nothing, so it answers in a second with no service, database or device.

    make rules                     # python -m tests.rules_audit
    python -m tests.rules_audit --missing

The exit status is 1 when a mark names an ID the register does not have (or one that cannot be read without
running the code); a rule with no refusing test is reported, not failed — tests/test_rules_audit.py holds the
rules that must keep theirs.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from server.rules.register import RULES

TESTS = Path(__file__).resolve().parent
MARK = "refuses"


@dataclass(frozen=True)
class Marked:
    test: str  # tests/server/test_selling.py::test_x, or ::TestClass::test_x
    rules: tuple[str, ...]


@dataclass
class Audit:
    by_rule: dict[str, list[str]]  # every registered rule ID → the tests that show it refusing
    unknown: dict[str, list[str]] = field(default_factory=dict)  # IDs marked but not registered → where
    problems: list[str] = field(default_factory=list)  # marks the audit cannot read

    @property
    def without(self) -> list[str]:
        return [rule_id for rule_id, tests in self.by_rule.items() if not tests]


def _refuses_ids(node: ast.expr, where: str, problems: list[str]) -> tuple[str, ...] | None:
    """The IDs of `pytest.mark.refuses(...)` (or `mark.refuses(...)`); None when `node` is another expression."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == MARK):
        return None
    owner = node.func.value
    on_mark = ((isinstance(owner, ast.Attribute) and owner.attr == "mark")
               or (isinstance(owner, ast.Name) and owner.id == "mark"))
    if not on_mark:
        return None
    ids = []
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            ids.append(arg.value)
        else:
            problems.append(f"{where}: refuses(...) takes the rule IDs as string literals, got {ast.unparse(arg)}")
    if not ids:
        problems.append(f"{where}: refuses() names no rule")
    return tuple(ids)


def _marks(exprs: Sequence[ast.expr], where: str, problems: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for expr in exprs:
        for node in expr.elts if isinstance(expr, (ast.List, ast.Tuple)) else [expr]:  # pytestmark = [a, b]
            out.extend(_refuses_ids(node, where, problems) or ())
    return tuple(out)


def _tests(body: list[ast.stmt], prefix: str, inherited: tuple[str, ...], where: str,
           problems: list[str]) -> Iterator[Marked]:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            own = _marks(node.decorator_list, f"{where}:{node.lineno}", problems)
            if node.name.startswith("test"):
                if own or inherited:
                    yield Marked(f"{prefix}::{node.name}", tuple(dict.fromkeys(inherited + own)))
            elif own:
                problems.append(f"{where}:{node.lineno}: {node.name} is marked refuses but is not a test")
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            own = _marks(node.decorator_list, f"{where}:{node.lineno}", problems)
            yield from _tests(node.body, f"{prefix}::{node.name}", inherited + own, where, problems)


def marked_tests(root: Path = TESTS, problems: list[str] | None = None) -> list[Marked]:
    """Every test under `root` carrying a refuses mark (its own, its class's or its module's pytestmark)."""
    problems = [] if problems is None else problems
    out: list[Marked] = []
    base = root.parent
    for path in sorted(root.rglob("test_*.py")):
        rel = path.relative_to(base).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), rel)
        module: tuple[str, ...] = ()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                    for t in node.targets):
                module += _marks([node.value], f"{rel}:{node.lineno}", problems)
        out.extend(_tests(tree.body, rel, module, rel, problems))
    return out


def audit(root: Path = TESTS) -> Audit:
    problems: list[str] = []
    result = Audit({rule_id: [] for rule_id in RULES}, problems=problems)
    for marked in marked_tests(root, problems):
        for rule_id in marked.rules:
            (result.by_rule if rule_id in RULES else result.unknown).setdefault(rule_id, []).append(marked.test)
    return result


def report(result: Audit, missing_only: bool = False) -> str:
    lines: list[str] = []
    if not missing_only:
        for rule_id, tests in result.by_rule.items():
            rule = RULES[rule_id]
            lines.append(f"{rule_id:<9}{rule.title_zh} / {rule.title_en}")
            lines.extend(f"{'':9}{test}" for test in tests)
            if not tests:
                lines.append(f"{'':9}(no test shows it refusing)")
        lines.append("")
    shown = len(RULES) - len(result.without)
    lines.append(f"{len(RULES)} rules: {shown} with a test that shows them refusing, {len(result.without)} without:")
    lines.extend(f"  {rule_id:<9}{RULES[rule_id].title_zh} / {RULES[rule_id].title_en}" for rule_id in result.without)
    for rule_id, where in result.unknown.items():
        lines.append(f"NOT A RULE of the register: {rule_id}, marked on {', '.join(where)}")
    lines.extend(f"UNREADABLE MARK: {problem}" for problem in result.problems)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rules_audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--missing", action="store_true", help="only the rules no test shows refusing")
    args = parser.parse_args(argv)
    result = audit()
    print(report(result, missing_only=args.missing))
    return 1 if result.unknown or result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
