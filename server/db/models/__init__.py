"""All tables. Importing this module registers every model on SQLModel.metadata (Alembic reads it)."""

from server.db.models.audit import AuditEntry, AuditHead
from server.db.models.catalog import Barcode, Item, Supplier, Zone
from server.db.models.insurance import (
    InsuranceMessage,
    InsuranceMsgidCounter,
    InsuranceSignIn,
    MessageDirection,
    MessageOutcome,
)
from server.db.models.people import (
    AuthSession,
    Qualification,
    StaffProfile,
    User,
    UserRole,
    UserStatus,
)
from server.db.models.printing import PrintJob, PrintJobKind, PrintJobStatus
from server.db.models.selling import (
    DayCounter,
    PharmacistDuty,
    Refund,
    Sale,
    SaleLine,
    SaleReturn,
    SaleReturnLine,
    SaleStatus,
    Shift,
    ShiftStatus,
    Tender,
    TenderKind,
)
from server.db.models.stock import Batch, BatchBalance, BatchStatus, MovementKind, StockMovement
from server.db.models.store import AgreementEvent, AgreementStatus, Store, Till, TillStatus

__all__ = [
    "AgreementEvent",
    "AgreementStatus",
    "AuditEntry",
    "AuditHead",
    "AuthSession",
    "Barcode",
    "Batch",
    "BatchBalance",
    "BatchStatus",
    "DayCounter",
    "InsuranceMessage",
    "InsuranceMsgidCounter",
    "InsuranceSignIn",
    "Item",
    "MessageDirection",
    "MessageOutcome",
    "MovementKind",
    "PharmacistDuty",
    "PrintJob",
    "PrintJobKind",
    "PrintJobStatus",
    "Qualification",
    "Refund",
    "Sale",
    "SaleLine",
    "SaleReturn",
    "SaleReturnLine",
    "SaleStatus",
    "Shift",
    "ShiftStatus",
    "StaffProfile",
    "StockMovement",
    "Store",
    "Supplier",
    "Tender",
    "TenderKind",
    "Till",
    "TillStatus",
    "User",
    "UserRole",
    "UserStatus",
    "Zone",
]
