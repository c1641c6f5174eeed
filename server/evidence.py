"""Every table of the schema, and how an edit of it behind the service's back is caught (ST-02, SEC-04, RX-08).

One place for the answer an inspector asks first: for each table, does `dingdian audit verify` check it, and
does the database refuse an UPDATE or DELETE of it? A table is

- verified ROWS: each row against its last image in the audit chain (server.audit: an edit, a deletion, a
  row slipped in are named — table, row, columns);
- verified DERIVED: against the rows it derives from (a balance is the sum of its movements);
- verified CHAIN: the audit chain itself (links, numbering, head; the anchor outside the database);
- guarded: the database refuses UPDATE and/or DELETE except the lawful transitions (migrations 0011, 0014,
  0015, 0016, 0021 write the triggers; a correction is a new row).

A table that is not guarded, or not verified, says why (`why`). tests/server/test_evidence.py fails when a
table is added to the schema without a line here, and checks each line against what verify reads and the
triggers the head revision has.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verified(StrEnum):
    ROWS = "rows"
    DERIVED = "derived"
    CHAIN = "chain"
    NONE = "none"


BOTH = ("update", "delete")


@dataclass(frozen=True, slots=True)
class Evidence:
    verified: Verified
    guards: tuple[str, ...] = ()  # what the database refuses of a row: "update", "delete"
    why: str = ""  # required where a table is not guarded or not verified: why that is right
    since: str = ""  # ROWS: the revision from which rows are verified ("": from the first; older rows are legacy)


_REFERENCE = ("reference data, changed in place by the service (one audit entry per change, the image of the row): "
              "an edit behind the service is named by verify, a guard would refuse the lawful edits")
_R = Evidence(Verified.ROWS, why=_REFERENCE)
_APPROVED = ("a document changed in place while a draft (the inspection's verdicts): the database refuses an UPDATE "
             "or DELETE once it is approved, verify names an edit before")

TABLES: dict[str, Evidence] = {
    # the chain
    "audit_entry": Evidence(Verified.CHAIN, BOTH),
    "audit_head": Evidence(Verified.CHAIN, BOTH),
    # reference tables: audited row by row, changed in place
    "store": _R, "till": _R, "app_user": _R, "user_role": _R, "staff_profile": _R, "item": _R, "barcode": _R,
    "zone": _R, "supplier": _R, "batch": _R, "medical_institution": _R, "doctor": _R,
    # stock in and stock care: documents that move through states (draft, inspected, approved, posted) in place;
    # what they moved is in the stock ledger, guarded
    "supplier_item": _R,
    # a receipt moves in place until approved; approved, it is final (0021: the receipt, its lines but for the
    # batch the approval sets once, its trace codes)
    "receipt": Evidence(Verified.ROWS, BOTH, why=_APPROVED),
    "receipt_line": Evidence(Verified.ROWS, BOTH, why=_APPROVED),
    "receipt_trace_code": Evidence(Verified.ROWS, BOTH, why=_APPROVED),
    "supplier_return": _R, "supplier_return_line": _R,
    # transfers between a chain's stores (0021): each side written once, whole, in its own store's chain
    "stock_transfer": Evidence(Verified.ROWS, BOTH), "stock_transfer_line": Evidence(Verified.ROWS, BOTH),
    "transfer_receipt": Evidence(Verified.ROWS, BOTH), "transfer_receipt_line": Evidence(Verified.ROWS, BOTH),
    "count_sheet": _R, "count_line": _R, "stock_loss": _R, "stock_loss_line": _R, "recall": _R, "upkeep": _R,
    "upkeep_line": _R,
    "agreement_event": Evidence(Verified.ROWS, BOTH),
    "prescription": Evidence(Verified.ROWS, BOTH),
    "rx_attachment": Evidence(Verified.ROWS, BOTH),  # the scan's bytes: against their audited digest too
    # electronic 外配处方 (issue #23, 0029): the platform's download as received (its body against its audited
    # digest too), and each review as the platform took it — written once
    "eprx_download": Evidence(Verified.ROWS, BOTH),
    "eprx_review_upload": Evidence(Verified.ROWS, BOTH),
    # the sales ledger
    "sale": Evidence(Verified.ROWS, BOTH, since="0011"),
    "sale_line": Evidence(Verified.ROWS, BOTH, since="0011"),
    "tender": Evidence(Verified.ROWS, BOTH, since="0011"),
    "sale_return": Evidence(Verified.ROWS, BOTH, since="0011"),
    "sale_return_line": Evidence(Verified.ROWS, BOTH, since="0011"),
    "refund": Evidence(Verified.ROWS, BOTH, since="0011"),
    "sale_trace_code": Evidence(Verified.ROWS, BOTH, since="0011"),
    "print_job": Evidence(Verified.ROWS, BOTH, since="0011"),  # the receipt stubs (RX-08)
    "day_counter": Evidence(Verified.DERIVED, BOTH),  # the number of sales numbered that day, gap-free
    # the card
    "card_settlement": Evidence(Verified.ROWS, BOTH, since="0011"),
    "sale_insured": Evidence(Verified.ROWS, BOTH, since="0011"),
    # prescriptions, shifts, duties
    "prescription_line": Evidence(Verified.ROWS, BOTH, since="0011"),
    "rx_review": Evidence(Verified.ROWS, BOTH, since="0011"),
    "shift": Evidence(Verified.ROWS, BOTH, since="0011"),
    "pharmacist_duty": Evidence(Verified.ROWS, BOTH, since="0011"),
    # the stock ledger
    "stock_movement": Evidence(Verified.ROWS, BOTH, since="0011"),
    "batch_balance": Evidence(Verified.DERIVED, BOTH),  # the sum of its batch's movements
    # the uploads' outbox (ST-06): one row per fact the centre must hear of, derived from the stock ledger (verify
    # names a movement without its row, or a row that says other than its movement); its sending state moves
    # along its edges only (0025)
    "upload_outbox": Evidence(Verified.DERIVED, BOTH),
    # the link with the centre: evidence in a dispute with the agency
    "insurance_message": Evidence(Verified.ROWS, BOTH, since="0016"),
    "insurance_msgid_counter": Evidence(Verified.DERIVED, BOTH),  # at or past every msgid the message log holds
    # the reconciliation with the centre (ST-07): each 3201 run, the settlements 3202 named, the acknowledgments
    "recon_run": Evidence(Verified.ROWS, BOTH),
    "recon_item": Evidence(Verified.ROWS, BOTH),
    "recon_ack": Evidence(Verified.ROWS, BOTH),
    "insurance_sign_in": Evidence(Verified.ROWS, ("delete",), since="0011",
                                  why="the sign-out (9002) is written on the row: verify names any other edit"),
    # who was signed in where: a forged or revived session acts as another person (SEC-03, SEC-04)
    "auth_session": Evidence(Verified.ROWS, BOTH, since="0016"),
    # the period close (月结): a closed period and its stock at the close, written once; never reopened (0024)
    "period_close": Evidence(Verified.ROWS, BOTH),
    "period_snapshot": Evidence(Verified.ROWS, BOTH),  # imaged with its close (audit.NESTED "snapshot")
    # money from the fund and the reports handed in (issue #20, migration 0023): the calendar is reference data;
    # declarations, payments, write-offs and assessments are written once; a submission moves draft -> submitted
    # -> accepted | rejected and its file is never replaced once submitted
    "holiday_day": _R,
    "declaration": Evidence(Verified.ROWS, BOTH),
    "receivable_payment": Evidence(Verified.ROWS, BOTH),
    "receivable_write_off": Evidence(Verified.ROWS, BOTH),
    "reserve_assessment": Evidence(Verified.ROWS, BOTH),
    "report_submission": Evidence(Verified.ROWS, BOTH),
    # the service's starts with the configuration's digest (issue #17)
    "service_start": Evidence(Verified.ROWS, BOTH, since="0011"),
    # the backups and restore drills the checklist reads (SEC-05)
    "backup_run": Evidence(Verified.ROWS, BOTH),
    "restore_drill": Evidence(Verified.ROWS, BOTH),
    # what the manager attests and records for the checklist, and its runs (issue #22)
    "attestation": Evidence(Verified.ROWS, BOTH),
    "training_session": Evidence(Verified.ROWS, BOTH),
    "checklist_run": Evidence(Verified.ROWS, BOTH),
    # the shelf labels printed and what each showed (GSP-04): a stale label is judged against them (0030)
    "label_run": Evidence(Verified.ROWS, BOTH),
    "shelf_label": Evidence(Verified.ROWS, BOTH),  # imaged with its run (audit.NESTED "shelf_labels")
    # every printed copy of a stock document, its file kept by its audited sha256 (0033, issue #19)
    "issued_document": Evidence(Verified.ROWS, BOTH),
}


def tables(verified: Verified) -> list[str]:
    return [t for t, e in TABLES.items() if e.verified is verified]
