"""The stock documents as issued (issue #19): each printed copy kept, and a presented copy checked against them.

`issue` prints a document (a receipt with its 验收, a count sheet or result, a loss or destruction record) and keeps
the copy — its bytes, sha256 and 核验码 — in the append-only `issued_document`, audited in the same transaction.
The facts are gathered and the PDF drawn on a read session first, so the writer is held only for the one insert.

`verify_file` checks a presented PDF: a copy this store issued is found by its sha256, so one changed byte finds
nothing and is refused (ST-02: no altered records). `verify_code` lists the copies that carry a 核验码 as printed on
a paper copy. Either says whether the document still reads the same today (`current`): a count sheet printed before
it was posted says the same as when printed, but no longer what the store's records say.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server import audit
from server.db.models import User
from server.db.models.base import id_of
from server.db.models.documents import IssuedDocument
from server.db.uow import Unit, core_unit, orm, read_session
from server.errors import AppError
from server.services.context import Ctx
from server.services.stock import documents

if TYPE_CHECKING:
    from reports.documents import CountDoc, LossDoc, ReceiptDoc
    from reports.export.pdf_doc import Document

KINDS = {"receipt": "入库验收单", "count_sheet": "盘点表", "count_result": "盘点结果", "loss": "报损/销毁记录"}
CODE = re.compile(r"^[0-9A-F]{4}(-?[0-9A-F]{4}){3}$")
MAX_BYTES = 20 * 1024 * 1024


def facts_of(s: Session, ctx: Ctx, kind: str, ref_id: int) -> ReceiptDoc | CountDoc | LossDoc:
    """What the document says today, from the store's records."""
    if kind == "receipt":
        return documents.receipt_doc(s, ctx, ref_id)
    if kind in ("count_sheet", "count_result"):
        return documents.count_doc(s, ctx, ref_id, result=kind == "count_result")
    if kind == "loss":
        return documents.loss_doc(s, ctx, ref_id)
    raise AppError(422, "VALIDATION", f"单据类型 {kind} 不认识", f"unknown document kind {kind}", {"kind": kind})


def _renderer(kind: str) -> Callable[..., Document]:
    from reports.export import stock_pdf

    renderers: dict[str, Callable[..., Document]] = {
        "receipt": stock_pdf.receipt, "count_sheet": stock_pdf.count_sheet, "count_result": stock_pdf.count_result,
        "loss": stock_pdf.loss}
    return renderers[kind]


def file_name(kind: str, ref_id: int) -> str:
    return {"receipt": f"receipt-{ref_id}.pdf", "count_sheet": f"count-sheet-{ref_id}.pdf",
            "count_result": f"count-result-{ref_id}.pdf", "loss": f"loss-{ref_id}.pdf"}[kind]


def issue(engine: Engine, ctx: Ctx, kind: str, ref_id: int) -> IssuedDocument:
    """The document printed now as the caller, and the copy kept (refusals as the facts' gathering gives them; a
    missing CJK font raises reports.export.fonts.FontMissing before anything is kept)."""
    from reports.documents import fingerprint

    with read_session(engine) as s:
        facts = facts_of(s, ctx, kind, ref_id)
    body = _renderer(kind)(facts, ctx.settings.store.name, ctx.now, ctx.settings.store.tz).bytes()
    with core_unit(engine) as u:
        return keep(u, ctx, kind, ref_id, fingerprint(facts), body)


def keep(u: Unit, ctx: Ctx, kind: str, ref_id: int, code: str, body: bytes) -> IssuedDocument:
    """The printed copy kept, audited in the caller's transaction."""
    s = orm(u)
    row = IssuedDocument(store_id=ctx.store_id, kind=kind, ref_id=ref_id, fingerprint=code,
                         file_name=file_name(kind, ref_id), content=body, sha256=hashlib.sha256(body).hexdigest(),
                         size=len(body), issued_by=ctx.actor_id, issued_at=ctx.now, business_date=ctx.today)
    s.add(row)
    audit.record_row(u, ctx.store_id, ctx.actor, "document.issue", row, note=f"{kind} {ref_id} {code}")
    s.expunge(row)  # the bytes go out with the answer; the row is never written again
    return row


@dataclass(frozen=True, slots=True)
class Checked:
    """A kept copy found for what was presented, and whether the document still reads the same today."""

    copy: IssuedDocument
    issued_by: str
    current: bool

    def describe(self) -> dict[str, Any]:
        c = self.copy
        return {"id": c.id, "kind": c.kind, "kind_zh": KINDS.get(c.kind, c.kind), "ref_id": c.ref_id,
                "fingerprint": c.fingerprint, "file_name": c.file_name, "sha256": c.sha256, "size": c.size,
                "issued_by": self.issued_by, "issued_at": c.issued_at, "business_date": c.business_date,
                "current": self.current}


def _checked(s: Session, ctx: Ctx, rows: list[IssuedDocument]) -> list[Checked]:
    from reports.documents import fingerprint

    users = {id_of(u): f"{u.display_name}（{u.username}）"
             for u in s.exec(select(User).where(col(User.id).in_({r.issued_by for r in rows})))}
    today: dict[tuple[str, int], str] = {}
    out = []
    for r in rows:
        if (r.kind, r.ref_id) not in today:
            try:
                today[r.kind, r.ref_id] = fingerprint(facts_of(s, ctx, r.kind, r.ref_id))
            except AppError:  # e.g. a blind count's result, no longer printable as it was: not current
                today[r.kind, r.ref_id] = ""
        out.append(Checked(r, users.get(r.issued_by, str(r.issued_by)), today[r.kind, r.ref_id] == r.fingerprint))
    return out


def verify_file(s: Session, ctx: Ctx, content: bytes) -> Checked:
    """The kept copy a presented file is, byte for byte; refused (ST-02) when no copy this store issued is."""
    sha = hashlib.sha256(content).hexdigest()
    row = s.exec(select(IssuedDocument).where(IssuedDocument.store_id == ctx.store_id, IssuedDocument.sha256 == sha)
                 .order_by(col(IssuedDocument.id))).first()
    if row is None:
        raise AppError(409, "ST-02", "此文件与本店留存的任何单据副本都不一致：内容已被改动，或不是本店出具的",
                       "this file matches no copy of a document this store issued: it was altered, or not issued "
                       "here", {"sha256": sha, "size": len(content)})
    return _checked(s, ctx, [row])[0]


def normal_code(code: str) -> str:
    plain = code.strip().upper().replace("-", "").replace(" ", "")
    if not CODE.match(plain):
        raise AppError(422, "VALIDATION", f"核验码 {code.strip()[:30]} 格式不对（16 位十六进制，如 1A2B-3C4D-5E6F-7A8B）",
                       f"{code.strip()[:30]!r} is not a 核验码 (16 hex digits, e.g. 1A2B-3C4D-5E6F-7A8B)")
    return "-".join(plain[i:i + 4] for i in range(0, 16, 4))


def verify_code(s: Session, ctx: Ctx, code: str) -> list[Checked]:
    """Every kept copy printed with this 核验码 (the same facts print the same code); refused when none was."""
    wanted = normal_code(code)
    rows = list(s.exec(select(IssuedDocument).where(IssuedDocument.store_id == ctx.store_id,
                                                    IssuedDocument.fingerprint == wanted)
                       .order_by(col(IssuedDocument.id))))
    if not rows:
        raise AppError(404, "ST-02", f"本店没有出具过核验码为 {wanted} 的单据",
                       f"this store issued no document with the 核验码 {wanted}", {"fingerprint": wanted})
    return _checked(s, ctx, rows)


def kept(s: Session, ctx: Ctx, doc_id: int) -> IssuedDocument:
    row = s.get(IssuedDocument, doc_id)
    if row is None or row.store_id != ctx.store_id:
        raise AppError(404, "NOT_FOUND", "留存单据不存在", "kept document not found", {"id": doc_id})
    return row
