"""The inspection export (ST-08): for any period, one zip an inspector can take away and check.

Inside: the dispensing records (sales, their lines, tenders, returns), the prescriptions with their scans and
reviews, the purchase lists signed by their inspector and approver (receipts, their lines, supplier returns;
people/staff.csv names whom the ids point at),
the receipt stubs (the print queue's documents), the card settlements with who they were for, the 进销存 (XLSX,
reports.export.xlsx), and the audit log of the period — each file listed in manifest.json with its size, SHA-256
and row count, beside the audit chain's head when the archive was made (the anchor: a rewrite of the chain
since shows). `verify` reads an archive back and names every file changed, missing or added.

Identity numbers (SEC-06) are masked (catalog.codes.mask_id) in every file — the columns that hold them, and
anything shaped like one (18 characters: region, birth date, sequence, check) in any text — unless the archive
is for the agency, which only the 医保 administrator may make (Action.INSPECTION_AGENCY, at the door). Either way
the export is audited. Read in one read-only snapshot (reports.queries.reading): the archive is one instant.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlmodel import Session, SQLModel

from catalog.codes import mask_id
from server import audit
from server.db.models import (
    AuditEntry,
    CardSettlement,
    Prescription,
    PrescriptionLine,
    PrintJob,
    Receipt,
    ReceiptLine,
    Refund,
    RxAttachment,
    RxReview,
    Sale,
    SaleInsured,
    SaleLine,
    SaleReturn,
    SaleReturnLine,
    SupplierReturn,
    SupplierReturnLine,
    Tender,
    User,
)
from server.db.models.base import table_of
from server.db.uow import core_unit
from server.privacy import record_reads
from server.services.context import Ctx

MANIFEST = "manifest.json"
FORMAT = "dingdian-inspection/1"
# Columns that hold an identity number whole (their models mask them in the audit log: __audit_mask__).
ID_COLUMNS = frozenset({"certno", "buyer_certno", "patient_certno", "id_number", "mdtrt_cert_no"})
# An identity number's shape (GB 11643): 6-digit region, birth date 18xx-20xx, 3-digit sequence, check digit or X.
ID_SHAPE = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                      r"[0-9]{3}[0-9Xx](?![0-9])")
_IMAGE_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "application/pdf": ".pdf",
              "image/tiff": ".tif", "image/webp": ".webp"}


# Files other wings add to the archive (the card-purchase and 外配处方 statements, the uploads' receipts …): name ->
# fn(connection, ctx, first, last, mask) -> entries; registered at import by their module, listed in the manifest
# like the rest. The seam for what this branch does not write itself.
Part = Callable[[Connection, Ctx, date, date, bool], list["Entry"]]
PARTS: dict[str, Part] = {}


def register_part(name: str, part: Part) -> None:
    PARTS[name] = part


def masked_text(text: str) -> str:
    """Every identity-number-shaped run in a text masked (SEC-06)."""
    return ID_SHAPE.sub(lambda m: mask_id(m.group(0)), text)


@dataclass
class Entry:
    name: str
    data: bytes
    rows: int | None = None  # a table's data rows; None for a file that is not a table (an image)


@dataclass
class Built:
    path: Path
    manifest: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)


def _bounds(ctx: Ctx, first: date, last: date) -> tuple[datetime, datetime]:
    """The period's business dates as UTC instants [start, end) in the store's zone."""
    tz = ctx.settings.store.tz
    return (datetime.combine(first, time(0), tz).astimezone(UTC),
            datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC))


def _cell(value: Any, column: str, mask: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    elif isinstance(value, (datetime, date)):
        value = value.isoformat()
    elif isinstance(value, bytes):
        value = hashlib.sha256(value).hexdigest()
    if mask and column in ID_COLUMNS:
        return mask_id(str(value))
    return value


def _csv(name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], mask: bool) -> Entry:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    n = 0
    for r in rows:
        w.writerow([_cell(v, c, mask) for v, c in zip(r, columns, strict=True)])
        n += 1
    text = buf.getvalue()
    return Entry(name, ("\ufeff" + (masked_text(text) if mask else text)).encode("utf-8"), n)


def _table(conn: Connection, name: str, model: type[SQLModel], where: Any, mask: bool,
           skip: Sequence[str] = ()) -> tuple[Entry, list[Any]]:
    """A table's rows that `where` selects, every column but `skip`, as CSV; and the rows themselves."""
    t = table_of(model)
    cols = [c for c in t.c if c.name not in skip]
    rows = list(conn.execute(sa.select(*cols).where(where).order_by(*t.primary_key.columns)).all())
    return _csv(name, [c.name for c in cols], rows, mask), rows


def _collect(conn: Connection, ctx: Ctx, first: date, last: date, mask: bool, workdir: Path) -> list[Entry]:
    sid = ctx.store_id
    start, end = _bounds(ctx, first, last)
    out: list[Entry] = []

    def add(name: str, model: type[SQLModel], where: Any, skip: Sequence[str] = ()) -> list[Any]:
        entry, rows = _table(conn, name, model, where, mask, skip)
        out.append(entry)
        return rows

    # Each table's rows are chosen by a sub-select of the rows they belong to, not by a list of ids: a year's
    # archive names more sales than a statement may carry bound values.
    sale, line = table_of(Sale).c, table_of(SaleLine).c
    # dispensing records: the sales completed in the period (their business date), what they sold and how paid
    in_period = (sale.store_id == sid) & (sale.business_date >= first) & (sale.business_date <= last)
    sales_q = sa.select(sale.id).where(in_period)
    add("dispensing/sales.csv", Sale, in_period)
    add("dispensing/sale_lines.csv", SaleLine, line.sale_id.in_(sales_q))
    add("dispensing/tenders.csv", Tender, table_of(Tender).c.sale_id.in_(sales_q))
    ret = table_of(SaleReturn).c
    returned = (ret.store_id == sid) & (ret.created_at >= start) & (ret.created_at < end)
    returns_q = sa.select(ret.id).where(returned)
    add("dispensing/returns.csv", SaleReturn, returned)
    add("dispensing/return_lines.csv", SaleReturnLine, table_of(SaleReturnLine).c.return_id.in_(returns_q))
    add("dispensing/refunds.csv", Refund, table_of(Refund).c.return_id.in_(returns_q))
    # prescriptions: entered in the period or dispensed by its sales; their lines, reviews and scans
    rx, rxl = table_of(Prescription).c, table_of(PrescriptionLine).c
    dispensed = sa.select(rxl.prescription_id).where(rxl.id.in_(
        sa.select(line.rx_line_id).where(line.sale_id.in_(sales_q), line.rx_line_id.is_not(None))))
    chosen = (rx.store_id == sid) & (((rx.entered_at >= start) & (rx.entered_at < end)) | rx.id.in_(dispensed))
    rx_q = sa.select(rx.id).where(chosen)
    add("prescriptions/prescriptions.csv", Prescription, chosen)
    add("prescriptions/prescription_lines.csv", PrescriptionLine, rxl.prescription_id.in_(rx_q))
    add("prescriptions/reviews.csv", RxReview, table_of(RxReview).c.prescription_id.in_(rx_q))
    att = table_of(RxAttachment)
    attachments = add("prescriptions/images.csv", RxAttachment, att.c.prescription_id.in_(rx_q), skip=("data",))
    for a in attachments:
        data = conn.execute(sa.select(att.c.data).where(att.c.id == a.id)).scalar_one()
        out.append(Entry(f"prescriptions/images/{a.prescription_id}-{a.id}{_IMAGE_EXT.get(a.content_type, '.bin')}",
                         bytes(data)))
    # purchases: the receipts (采购入库单) with who inspected and who approved them; goods sent back
    rc = table_of(Receipt).c
    received = (rc.store_id == sid) & (rc.business_date >= first) & (rc.business_date <= last)
    add("purchases/receipts.csv", Receipt, received)
    add("purchases/receipt_lines.csv", ReceiptLine,
        table_of(ReceiptLine).c.receipt_id.in_(sa.select(rc.id).where(received)))
    sr = table_of(SupplierReturn).c
    sent_back = (sr.store_id == sid) & (sr.business_date >= first) & (sr.business_date <= last)
    add("purchases/supplier_returns.csv", SupplierReturn, sent_back)
    add("purchases/supplier_return_lines.csv", SupplierReturnLine,
        table_of(SupplierReturnLine).c.return_id.in_(sa.select(sr.id).where(sent_back)))
    # the receipt stubs: what the printers were given to print in the period (RX-08)
    pj = table_of(PrintJob).c
    add("receipt_stubs/print_jobs.csv", PrintJob, (pj.store_id == sid) & (pj.created_at >= start)
        & (pj.created_at < end))
    # settlements: of the period's sales, or made in the period (a cancellation of an earlier one)
    st = table_of(CardSettlement).c
    settled = (st.store_id == sid) & (st.sale_id.in_(sales_q) | ((st.created_at >= start) & (st.created_at < end)))
    add("settlements/card_settlements.csv", CardSettlement, settled)
    si = table_of(SaleInsured).c
    add("settlements/insured.csv", SaleInsured,
        si.sale_id.in_(sales_q) | si.sale_id.in_(sa.select(st.sale_id).where(settled)))
    # who is who: the ids the records above name (the signer of a purchase list, the reviewing pharmacist …) —
    # names and posts' status only, never a PIN's or a code's hash
    u = table_of(User).c
    people = conn.execute(sa.select(u.id, u.username, u.display_name, u.status).where(u.store_id == sid)
                          .order_by(u.id)).all()
    out.append(_csv("people/staff.csv", ["id", "username", "display_name", "status"], people, mask))
    # the audit log of the period, one entry a line, as chained (images already masked by the log itself)
    ae = table_of(AuditEntry).c
    entries = conn.execute(sa.select(table_of(AuditEntry)).where(ae.store_id == sid, ae.at >= start, ae.at < end)
                           .order_by(ae.seq)).all()
    text = "".join(json.dumps({k: _cell(v, k, False) if not isinstance(v, (dict, list)) else v
                               for k, v in e._mapping.items()}, ensure_ascii=False, default=str) + "\n"
                   for e in entries)
    out.append(Entry("audit/audit_log.jsonl", (masked_text(text) if mask else text).encode("utf-8"), len(entries)))
    out.append(_ledger_xlsx(conn.engine, ctx, first, last, workdir))
    for part in list(PARTS.values()):
        out.extend(part(conn, ctx, first, last, mask))
    return out


def _ledger_xlsx(engine: Engine, ctx: Ctx, first: date, last: date, workdir: Path) -> Entry:
    """The 进销存 of the period, the file the reports route gives (reports.export.xlsx)."""
    from reports.export import xlsx
    from reports.layout import configured
    from reports.ledger import ledger_report

    report = ledger_report(engine, ctx.store_id, first, last, configured(ctx.settings.reports.ledger_layout))
    path = xlsx.write(report, workdir / "ledger.xlsx")
    return Entry("ledger/进销存.xlsx", path.read_bytes(), len(report.batches))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _whole_ids(entries: Iterable[Entry]) -> list[str]:
    """Every identity number the agency's archive holds whole — whatever the masked archive would mask (ID_SHAPE)
    — in its files (its XLSX read member by member), in order, once."""
    found: dict[str, None] = {}
    for e in entries:
        texts = [e.data]
        if e.data.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(io.BytesIO(e.data)) as z:
                texts = [z.read(m) for m in z.namelist()]
        for t in texts:
            found.update(dict.fromkeys(m.group(0) for m in ID_SHAPE.finditer(t.decode("latin-1"))))
    return list(found)


def export(engine: Engine, ctx: Ctx, first: date, last: date, out: Path, for_agency: bool = False,
           route: str = "dingdian inspection export") -> Built:
    """Write the archive of [first, last] to `out` and audit that it was made (by whom, for whom, its manifest's
    digest); the agency's, with whole numbers, is also logged as a read of each person's full record it holds
    (SEC-06, through `route`). The door checks who may: Action.INSPECTION_EXPORT, and INSPECTION_AGENCY for the
    agency's."""
    from reports.queries import reading

    if last < first:
        raise ValueError("the period ends before it starts")
    mask = not for_agency
    with tempfile.TemporaryDirectory() as tmp, reading(engine) as conn:
        entries = _collect(conn, ctx, first, last, mask, Path(tmp))
        head = audit.head(_Conn(conn), ctx.store_id)
    manifest = {
        "format": FORMAT, "store_id": ctx.store_id, "store_code": ctx.settings.store.fixmedins_code,
        "from": first.isoformat(), "to": last.isoformat(), "made_at": ctx.now.isoformat(),
        "made_by": ctx.actor.name, "for_agency": for_agency, "identity_numbers": "full" if for_agency else "masked",
        "audit_head": {"seq": head.seq, "hash": head.hash},
        "files": [{"name": e.name, "size": len(e.data), "sha256": _digest(e.data),
                   **({"rows": e.rows} if e.rows is not None else {})} for e in entries],
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for e in entries:
            z.writestr(e.name, e.data)
        z.writestr(MANIFEST, body)
    with core_unit(engine) as u:
        if for_agency:  # SEC-06: a read of the full record of everyone whose number the archive holds whole
            record_reads(u, ctx.store_id, ctx.actor, (("", n, "") for n in _whole_ids(entries)),
                         f"inspection archive {first.isoformat()}..{last.isoformat()} (manifest {_digest(body)[:16]})",
                         "检查导出，供经办机构（身份证号完整） / the inspection archive for the agency", route)
        audit.record(u, ctx.store_id, ctx.actor, "inspection.export", "inspection_export", _digest(body)[:16], None,
                     {"from": first.isoformat(), "to": last.isoformat(), "for_agency": for_agency,
                      "files": len(entries), "manifest_sha256": _digest(body), "audit_head_seq": head.seq},
                     note="检查导出 / inspection export" + ("（供经办机构，身份证号完整）/ for the agency" if for_agency else ""))
    return Built(out, manifest, entries)


class _Conn:
    """A Connection where audit.head wants a Reader (it only asks for connection())."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def connection(self) -> Connection:
        return self._conn

    def flush(self) -> None:
        return None


@dataclass
class Checked:
    ok: bool
    problems: list[dict[str, str]]
    manifest: dict[str, Any] | None
    manifest_sha256: str = ""  # to compare with the export's audit entry (inspection.export: manifest_sha256)


def verify(path: Path) -> Checked:
    """Every file of the archive against its manifest: changed (size or SHA-256), missing, or added."""
    problems: list[dict[str, str]] = []
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return Checked(False, [{"kind": "unreadable", "file": str(path), "zh": f"无法读取归档：{exc}",
                                "en": f"the archive cannot be read: {exc}"}], None)
    with z:
        names = [i.filename for i in z.infolist() if not i.is_dir()]
        if MANIFEST not in names:
            return Checked(False, [{"kind": "missing", "file": MANIFEST, "zh": "缺少清单 manifest.json",
                                    "en": "manifest.json is missing"}], None)
        body = z.read(MANIFEST)
        manifest = json.loads(body)
        listed = {f["name"]: f for f in manifest.get("files", [])}
        for name in names:
            if name == MANIFEST:
                continue
            f = listed.get(name)
            if f is None:
                problems.append({"kind": "added", "file": name, "zh": f"清单外的文件：{name}",
                                 "en": f"a file the manifest does not list: {name}"})
                continue
            data = z.read(name)
            if len(data) != f["size"] or _digest(data) != f["sha256"]:
                problems.append({"kind": "changed", "file": name, "zh": f"文件已被改动：{name}",
                                 "en": f"the file was changed: {name}"})
        for name in listed:
            if name not in names:
                problems.append({"kind": "missing", "file": name, "zh": f"文件缺失：{name}",
                                 "en": f"a listed file is missing: {name}"})
    return Checked(not problems, problems, manifest, _digest(body))


def exports(s: Session, store_id: int) -> list[dict[str, Any]]:
    """The inspection exports made, latest first, as the audit log records them (who, when, which period, for
    whom, the manifest's digest): what the compliance checklist's item 8 (ST-08) reads; `verify` of an archive
    prints the digest to compare."""
    ae = table_of(AuditEntry).c
    rows = s.connection().execute(sa.select(ae.seq, ae.at, ae.actor, ae.after)
                                  .where(ae.store_id == store_id, ae.action == "inspection.export")
                                  .order_by(ae.seq.desc())).all()
    out = []
    for seq, at, actor, after in rows:
        doc = json.loads(after) if isinstance(after, str) else dict(after or {})
        out.append({"seq": int(seq), "at": at, "by": actor} | doc)
    return out
