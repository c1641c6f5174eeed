"""Import a catalog file: validated as a whole; nothing written from a file with errors unless the
user asks for the valid rows only; the whole apply is one transaction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from catalog.importer import parse_file
from server.db.uow import core_unit
from server.services.catalog.items import Approval, import_rows
from server.services.context import Ctx


class _Rollback(Exception):
    pass


@dataclass
class ImportResult:
    applied: bool
    rows_total: int
    rows_valid: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def import_file(engine: Engine, ctx: Ctx, path: Path, valid_only: bool, may_map: bool = True,
                approval: Approval | None = None) -> ImportResult:
    report = parse_file(path)
    errors: list[dict[str, Any]] = [asdict(e) for e in report.errors]
    out = ImportResult(applied=False, rows_total=len(report.rows) + len({e["row"] for e in errors if e.get("row")}),
                    rows_valid=len(report.rows), errors=errors)
    if (errors and not valid_only) or not report.rows:
        return out
    try:
        with core_unit(engine) as u:
            outcome = import_rows(u, ctx, report.rows, may_map, approval)
            out.errors = errors + outcome.refused
            out.created, out.updated, out.unchanged = outcome.created, outcome.updated, outcome.unchanged
            if outcome.refused and not valid_only:
                raise _Rollback  # a row the database refuses is an error of the file too
            out.applied = True
    except _Rollback:
        out.created = out.updated = out.unchanged = 0
    return out
