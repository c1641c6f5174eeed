"""The registry of medical institutions and their doctors, as the store keeps it (RX-02)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, select

from server import audit
from server.db.models import (
    Doctor,
    MedicalInstitution,
)
from server.db.models.base import id_of
from server.db.uow import Unit, orm
from server.services.context import Ctx


@dataclass
class DoctorIn:
    code: str
    name: str
    active: bool = True


@dataclass
class InstitutionIn:
    code: str
    name: str
    admdvs: str = ""
    designated: bool = True
    designated_until: date | None = None
    doctors: list[DoctorIn] = field(default_factory=list)


def import_registry(u: Unit, ctx: Ctx, rows: list[InstitutionIn]) -> dict[str, int]:
    """Create or update institutions and their doctors; each change audited. Doctors not listed stay."""
    s = orm(u)
    counts = {"institutions_created": 0, "institutions_updated": 0, "doctors_created": 0, "doctors_updated": 0}
    for row in rows:
        inst = s.exec(select(MedicalInstitution).where(MedicalInstitution.store_id == ctx.store_id,
                                                       MedicalInstitution.code == row.code)).first()
        values: dict[str, Any] = {"name": row.name, "admdvs": row.admdvs, "designated": row.designated,
                                  "designated_until": row.designated_until}
        if inst is None:
            inst = MedicalInstitution(store_id=ctx.store_id, code=row.code, updated_at=ctx.now, **values)
            s.add(inst)
            audit.record_row(u, ctx.store_id, ctx.actor, "institution.create", inst)
            counts["institutions_created"] += 1
        elif any(getattr(inst, k) != v for k, v in values.items()):
            before = audit.snapshot(inst)
            for k, v in values.items():
                setattr(inst, k, v)
            inst.updated_at = ctx.now
            s.add(inst)
            audit.record_row(u, ctx.store_id, ctx.actor, "institution.update", inst, before)
            counts["institutions_updated"] += 1
        for d in row.doctors:
            doc = s.exec(select(Doctor).where(Doctor.institution_id == inst.id, Doctor.code == d.code)).first()
            if doc is None:
                doc = Doctor(store_id=ctx.store_id, institution_id=id_of(inst), code=d.code, name=d.name,
                             active=d.active)
                s.add(doc)
                audit.record_row(u, ctx.store_id, ctx.actor, "doctor.create", doc)
                counts["doctors_created"] += 1
            elif (doc.name, doc.active) != (d.name, d.active):
                before = audit.snapshot(doc)
                doc.name, doc.active = d.name, d.active
                s.add(doc)
                audit.record_row(u, ctx.store_id, ctx.actor, "doctor.update", doc, before)
                counts["doctors_updated"] += 1
    return counts


def institutions(s: Session, ctx: Ctx) -> list[tuple[MedicalInstitution, list[Doctor]]]:
    insts = list(s.exec(select(MedicalInstitution).where(MedicalInstitution.store_id == ctx.store_id)
                        .order_by(MedicalInstitution.code)))
    docs: dict[int, list[Doctor]] = {}
    for d in s.exec(select(Doctor).where(Doctor.store_id == ctx.store_id).order_by(Doctor.code)):
        docs.setdefault(d.institution_id, []).append(d)
    return [(i, docs.get(id_of(i), [])) for i in insts]
