"""The house's shape holds: the import contracts (pyproject, [tool.importlinter]) refuse the imports they
forbid, and what an import contract cannot see is checked here — a ledger table named in raw SQL, a
private name taken from another wing.

Each contract test adds a module that breaks it to a copy of the tree and shows lint-imports refuse it, so
a contract that silently stopped checking would fail here."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.config import ROOT

PACKAGES = ("pos", "server", "devices", "catalog", "reports")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _tree_with(tmp_path: Path, module: str, source: str) -> Path:
    """A copy of the code (not the tests) with one more module."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(source, encoding="utf-8")
    return tmp_path


def _lint(tree: Path, contract: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--contract", contract, "--no-cache"], cwd=tree, capture_output=True,
                          text=True, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize(("contract", "module", "source", "named"), [
    ("one-stock-ledger", "server.services.sale.rogue",
     "from server.db.models.ledger import StockMovement\n", "server.services.sale.rogue -> server.db.models.ledger"),
    ("wings-over-a-floor", "server.services.catalog.rogue",
     "from server.services.sale import basket\n", "server.services.catalog.rogue"),
    ("private-modules", "server.api.rogue", "from server.services.sale import _private\n", "_private"),
    ("till-is-a-client", "pos.rogue", "from server.services.sale import basket\n", "pos.rogue"),
])
def test_a_contract_refuses_the_import_it_forbids(tmp_path: Path, contract: str, module: str, source: str,
                                                  named: str) -> None:
    tree = _tree_with(tmp_path, module, source)
    if contract == "private-modules":  # the private module must exist for the import to be in the graph
        (tree / "server" / "services" / "sale" / "_private.py").write_text("X = 1\n", encoding="utf-8")
    broken = _lint(tree, contract)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "BROKEN" in broken.stdout and named in broken.stdout, broken.stdout
    (tree.joinpath(*module.split(".")).with_suffix(".py")).unlink()
    kept = _lint(tree, contract)
    assert kept.returncode == 0, kept.stdout + kept.stderr


# --- what an import contract cannot see ------------------------------------------------------------------

_LEDGER_SQL = re.compile(r"\b(stock_movement|batch_balance)\b")
# Where the ledger's tables may be named: the ledger itself, its models, the migrations that make them, audit
# verify (it recomputes the balances), and strings that only name them for an audit entry's table.
_MAY_NAME = {"server/services/stock/ledger.py", "server/db/models/ledger.py", "server/audit.py"}


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_no_sql_outside_the_ledger_names_the_ledgers_tables() -> None:
    """A movement written with raw SQL, or a Core table looked up by name, would pass the import contract."""
    offending = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in _MAY_NAME or rel.startswith("server/db/migrations/"):
            continue
        for line, text in _string_constants(path):
            if _LEDGER_SQL.search(text) and (" " in text.strip() or "." in text):  # SQL, not an audit's table name
                offending.append(f"{rel}:{line}: {text[:60]!r}")
    assert offending == []


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[:2] == ["server", "services"] else None


def test_no_wing_takes_a_private_name_from_another() -> None:
    """`from server.services.sale.basket import _basket_row` in the card wing: a private function used across
    wings (import-linter sees modules, not names)."""
    offending = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("server."):
                for alias in node.names:
                    if alias.name.startswith("_") and _wing(node.module) != _wing(module):
                        offending.append(f"{module}: from {node.module} import {alias.name}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and isinstance(node.value, ast.Name) and node.value.id in {"selling", "printing", "records",
                                                                               "ledger", "prescriptions", "settlement",
                                                                               "basket", "completion", "returns"}:
                offending.append(f"{module}: {node.value.id}.{node.attr}")
    assert offending == []


def test_every_wire_shape_lives_in_the_schemas_package() -> None:
    """One convention for request and response bodies: server/api/schemas/<area>.py, never inside a router."""
    declared = []
    for path in sorted((ROOT / "server" / "api").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and node.name != "ErrorBody" and any(
                    isinstance(b, ast.Name) and (b.id in ("BaseModel", "Strict", "Patch") or b.id.endswith(("In", "Out")))
                    for b in node.bases):
                declared.append(f"{path.name}: {node.name}")
    assert declared == []


_ORM_WRITES = frozenset({"add", "add_all", "delete", "merge"})


def test_a_use_case_writes_through_the_unit_and_a_session_parameter_only_reads() -> None:
    """One unit of work (server.db.uow.Unit): no other opener is used, and a function given a Session (a read
    session, or orm(unit) for a read) adds, changes or deletes nothing through it — what writes takes the Unit.
    (An audited write given a Session fails mypy already: audit.record takes the Unit.)"""
    offending = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "server/db/uow.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.alias) and "write_session" in (getattr(node, "id", None),
                                                                               getattr(node, "name", None)):
                offending.append(f"{rel}:{getattr(node, 'lineno', '')}: write_session")
            if not isinstance(node, ast.FunctionDef) or not node.args.args:
                continue
            first = node.args.args[0]
            if first.annotation is None or ast.unparse(first.annotation) != "Session":
                continue
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                        and call.func.attr in _ORM_WRITES and isinstance(call.func.value, ast.Name) \
                        and call.func.value.id == first.arg:
                    offending.append(f"{rel}:{call.lineno}: {node.name}({first.arg}: Session) {first.arg}.{call.func.attr}()")
    assert offending == []


def test_nothing_overrides_a_dependency_the_shared_route_table_would_ignore() -> None:
    """server.app builds its routes once per process and every app shares them: FastAPI binds an app's
    dependency_overrides to the routes at their include, so an override set on a later app would be ignored —
    in code or in a test. None is set; one that appears must come with routes of its own app."""
    uses = [f"{path.relative_to(ROOT)}:{n}" for top in ("server", "tests", "pos", "bench")
            for path in sorted((ROOT / top).rglob("*.py")) if path != Path(__file__)
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if "dependency_overrides" in line]
    assert not uses, uses
