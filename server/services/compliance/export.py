"""The checklist's files (issue #22): run it for a period (recorded as any run is: server.services.compliance.
checklist.run) and write it as PDF or XLSX with the attestations on record — the store's own file, identity numbers
masked (reports.export.checklist_doc)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from reports.export.checklist_doc import Attested, ChecklistFile
from server.db.models import Attestation, AttestationTopic, User
from server.db.uow import read_session
from server.errors import AppError
from server.services.compliance.checklist import Run, run
from server.services.context import Ctx

FORMATS = ("pdf", "xlsx")


def attested(engine: Engine, store_id: int) -> list[Attested]:
    """The latest attestation of every topic, in the topics' order; a topic never attested says so."""
    with read_session(engine) as s:
        found = s.exec(select(Attestation, User.display_name).join(User, col(User.id) == Attestation.confirmed_by)
                       .where(Attestation.store_id == store_id).order_by(col(Attestation.id))).all()
    latest = {a.topic: (a, name) for a, name in found}  # the newest row of a topic wins: a fresh one is a new row
    out = []
    for topic in AttestationTopic:
        if topic.value in latest:
            a, name = latest[topic.value]
            out.append(Attested(topic.label, name, a.confirmed_at, a.valid_until, a.note, a.photo_sha256))
        else:
            out.append(Attested(topic.label))
    return out


def document(engine: Engine, ctx: Ctx, done: Run) -> ChecklistFile:
    return ChecklistFile(done.checklist, ctx.settings.store.name, ctx.now, ctx.actor.name, ctx.settings.store.tz,
                         done.previous_at, done.changes, attested(engine, ctx.store_id))


def write(doc: ChecklistFile, path: Path, fmt: str) -> Path:
    from reports.export.fonts import FontMissing

    if fmt == "xlsx":
        from reports.export import checklist_xlsx

        return checklist_xlsx.write(doc, path)
    from reports.export import checklist_pdf

    try:
        return checklist_pdf.write(doc, path)
    except FontMissing as exc:  # never a PDF of boxes: the package to install, in both languages
        raise AppError(503, "FONT", exc.message_zh, exc.message_en) from exc


def export(engine: Engine, ctx: Ctx, first: date, last: date, fmt: str) -> tuple[bytes, Run]:
    """The checklist of [first, last] run now (and recorded), as the file's bytes."""
    if fmt not in FORMATS:
        raise AppError(422, "VALIDATION", f"不支持的格式 {fmt}：pdf 或 xlsx", f"unknown format {fmt}: pdf or xlsx",
                       {"format": fmt})
    done = run(engine, ctx, first, last)
    with tempfile.TemporaryDirectory() as tmp:
        path = write(document(engine, ctx, done), Path(tmp) / f"checklist.{fmt}", fmt)
        return path.read_bytes(), done
