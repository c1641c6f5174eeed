"""All tables. Importing this module registers every model on SQLModel.metadata (Alembic reads it)."""

from server.db.models import care as _care  # noqa: F401  (registers stock care's documents; see care.py)
from server.db.models import documents as _documents  # noqa: F401  (the stock documents as issued; see documents.py)
from server.db.models import ledger as _ledger  # noqa: F401  (registers the ledger's tables; see ledger.py)
from server.db.models import money as _money  # noqa: F401  (declarations, receivables, submissions; see money.py)
from server.db.models import period as _period  # noqa: F401  (registers the period close's tables; see period.py)
from server.db.models import recon as _recon  # noqa: F401  (registers the reconciliation with the centre; see recon.py)
from server.db.models import transfer as _transfer  # noqa: F401  (registers the transfers between stores)
from server.db.models import uploads as _uploads  # noqa: F401  (registers the uploads' outbox; see uploads.py)
from server.db.models.audit import AuditEntry, AuditHead, ServiceStart
from server.db.models.backup import BackupRun, RestoreDrill
from server.db.models.catalog import Barcode, Item, Supplier, Zone
from server.db.models.checklist import Attestation, AttestationTopic, ChecklistRun, TrainingSession
from server.db.models.insurance import (
    InsuranceMessage,
    InsuranceMsgidCounter,
    InsuranceSignIn,
    MessageDirection,
    MessageOutcome,
)
from server.db.models.labels import LabelRun, ShelfLabel
from server.db.models.people import (
    AuthSession,
    Qualification,
    StaffProfile,
    User,
    UserRole,
    UserStatus,
)
from server.db.models.prescriptions import (
    Doctor,
    EprxDownload,
    EprxReviewUpload,
    MedicalInstitution,
    Prescription,
    PrescriptionLine,
    RxAttachment,
    RxReview,
    RxStatus,
)
from server.db.models.printing import PrintJob, PrintJobKind, PrintJobStatus
from server.db.models.receiving import (
    Receipt,
    ReceiptLine,
    ReceiptTraceCode,
    SupplierItem,
    SupplierReturn,
    SupplierReturnLine,
)
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
from server.db.models.settlement import CardSettlement, SaleInsured, SettlementStatus
from server.db.models.stock import Batch, BatchStatus, MovementKind
from server.db.models.store import AgreementEvent, AgreementStatus, Store, Till, TillStatus
from server.db.models.trace import SaleTraceCode

__all__ = [
    "AgreementEvent",
    "AgreementStatus",
    "Attestation",
    "AttestationTopic",
    "AuditEntry",
    "AuditHead",
    "AuthSession",
    "BackupRun",
    "Barcode",
    "Batch",
    "BatchStatus",
    "CardSettlement",
    "ChecklistRun",
    "DayCounter",
    "Doctor",
    "EprxDownload",
    "EprxReviewUpload",
    "InsuranceMessage",
    "InsuranceMsgidCounter",
    "InsuranceSignIn",
    "Item",
    "LabelRun",
    "MedicalInstitution",
    "MessageDirection",
    "MessageOutcome",
    "MovementKind",
    "PharmacistDuty",
    "Prescription",
    "PrescriptionLine",
    "PrintJob",
    "PrintJobKind",
    "PrintJobStatus",
    "Qualification",
    "Receipt",
    "ReceiptLine",
    "ReceiptTraceCode",
    "Refund",
    "RestoreDrill",
    "RxAttachment",
    "RxReview",
    "RxStatus",
    "Sale",
    "SaleInsured",
    "SaleLine",
    "SaleReturn",
    "SaleReturnLine",
    "SaleStatus",
    "SaleTraceCode",
    "ServiceStart",
    "SettlementStatus",
    "ShelfLabel",
    "Shift",
    "ShiftStatus",
    "StaffProfile",
    "Store",
    "Supplier",
    "SupplierItem",
    "SupplierReturn",
    "SupplierReturnLine",
    "Tender",
    "TenderKind",
    "Till",
    "TillStatus",
    "TrainingSession",
    "User",
    "UserRole",
    "UserStatus",
    "Zone",
]
