"""The stock documents as issued (issue #19): every copy of a receipt, count sheet, count result or loss/destruction
record the service printed, kept byte for byte with its sha256 and its 核验码 (reports.documents.fingerprint).

Kept as bytes, not regenerated: a copy prints the moment it was made (its footer) and its bytes depend on the font
file and the PDF library of that day, so a regeneration would match only while neither changes; and the document
itself may move on after it was printed (a count submitted, then posted). The copy handed out is what an inspector
compares a paper or a file against. Append-only: a copy printed again is a new row."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field

from server.db.models.base import Table, store_fk
from server.db.types import UTCDateTime


class IssuedDocument(Table, table=True):
    """One printed copy of a stock document: what it is of, its file, who printed it and when."""

    __tablename__ = "issued_document"
    __audit_exclude__ = ("content",)  # the audit log keeps the file by its sha256 (a column, imaged)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    kind: str = Field(max_length=20)  # receipt | count_sheet | count_result | loss
    ref_id: int  # the receipt's, count sheet's or loss document's id
    fingerprint: str = Field(max_length=19, index=True)  # 核验码: the facts' digest, as printed on it
    file_name: str = Field(max_length=100)
    content: bytes = Field(sa_type=LargeBinary)
    sha256: str = Field(max_length=64, index=True)
    size: int
    issued_by: int = Field(foreign_key="app_user.id")
    issued_at: datetime = Field(sa_type=UTCDateTime)
    business_date: date
