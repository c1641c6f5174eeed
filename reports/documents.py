"""The printable stock documents' facts (issue #19): a receipt with its 验收 record, a count sheet and its result,
a loss or destruction record — as plain values, gathered by server.services.stock.documents from the documents
the stock wing keeps and printed by reports.export.stock_pdf. Nothing here reads or writes the database.

Each printed document carries its 核验码 (`fingerprint`): a digest of what it says, not of when it was printed,
so a paper copy is checked against the store's records by printing the document again (or `dingdian pdf … `)
and comparing the two codes: the same code, the same document; a document changed since (a count handed in and
posted) prints another code."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Signed:
    """Who did a step of a document and when (UTC): shown by name beside a line to sign by hand."""

    name: str = ""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Goods:
    """What a line is of: the item and its batch, as printed on every document."""

    code: str
    name: str
    spec: str
    manufacturer: str
    unit: str  # the unit the line's quantity is in
    batch_no: str = ""
    lot_no: str = ""
    expires_on: date | None = None


@dataclass(frozen=True, slots=True)
class ReceiptLineDoc:
    line_no: int
    goods: Goods
    approval_no: str
    manufactured_on: date
    qty: int  # packs
    loose: int  # split units beyond them (a first inventory's)
    split_unit: str
    unit_cost_fen: int  # per pack
    zone: str
    outcome: str  # server.rules.stock.Outcome value
    reason: str
    trace_codes: int

    @property
    def amount_fen(self) -> int:
        return self.qty * self.unit_cost_fen


@dataclass(frozen=True, slots=True)
class ReceiptDoc:
    id: int
    kind: str  # purchase | opening
    status: str
    business_date: date
    supplier: str
    supplier_licence: str  # 许可证号 and its expiry
    supplier_credit_code: str
    dynt_no: str
    purc_invo_no: str
    note: str
    entered: Signed
    inspected: Signed
    approved: Signed
    lines: list[ReceiptLineDoc] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CountLineDoc:
    goods: Goods
    book_qty: int | None  # None where the document must not show it (a blind sheet before it is handed in)
    counted_qty: int | None
    reason: str
    counted_by: str
    cost_fen: int | None  # the posted variance at cost (gain positive, loss negative); None until posted

    @property
    def variance(self) -> int | None:
        if self.book_qty is None or self.counted_qty is None:
            return None
        return self.counted_qty - self.book_qty


@dataclass(frozen=True, slots=True)
class CountDoc:
    id: int
    zone: str
    blind: bool
    status: str
    snapshot_at: datetime
    business_date: date
    note: str
    created: Signed
    submitted: Signed
    posted: Signed
    lines: list[CountLineDoc] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LossLineDoc:
    goods: Goods
    qty: int  # split units
    location: str
    cost_fen: int  # what left at cost (positive)
    retail_fen: int


@dataclass(frozen=True, slots=True)
class LossDoc:
    id: int
    kind: str  # a MovementKind: damage | expiry_writeoff | destruction | recall
    reason: str
    method: str
    business_date: date
    recall: str  # the recall's notice number, for a recall's return
    created: Signed
    witnesses: list[Signed] = field(default_factory=list)
    lines: list[LossLineDoc] = field(default_factory=list)


def fingerprint(doc: ReceiptDoc | CountDoc | LossDoc) -> str:
    """The document's 核验码: SHA-256 over its facts as canonical JSON, the first 16 hex digits in groups of four."""
    def plain(v: Any) -> Any:
        return v.isoformat() if isinstance(v, date | datetime) else str(v)

    facts = json.dumps({"type": type(doc).__name__, **asdict(doc)}, sort_keys=True, ensure_ascii=False,
                       default=plain)
    digest = hashlib.sha256(facts.encode("utf-8")).hexdigest()[:16].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 16, 4))
