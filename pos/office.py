"""The back office's calls (后台: receiving, counts, the month end, uploads and reconciliation, the checklist), over the till's one
client: each sends an intent and returns the service's answer as JSON, refusals as ServiceError — the till decides
nothing. Kept apart from pos/client.py, which holds the counter's calls."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from pos.client import Json, TillClient

# A month's 进销存 on a year of sales may take seconds (#20): its file is waited for longer than a call.
REPORT_TIMEOUT = 120.0


class OfficeCalls:
    def __init__(self, client: TillClient) -> None:
        self.client = client

    # --- receiving with 验收 (GSP-05) -------------------------------------------------------------

    async def suppliers(self) -> list[Json]:
        return await self.client.call("GET", "/suppliers")

    async def item_by_barcode(self, code: str) -> Json:
        return await self.client.call("GET", f"/items/by-barcode/{code}")

    async def item(self, item_id: int) -> Json:
        return await self.client.call("GET", f"/items/{item_id}")

    async def receipts(self, status: str | None = None) -> list[Json]:
        return await self.client.call("GET", "/receipts", params={"status": status} if status else None)

    async def create_receipt(self, body: Json) -> Json:
        return await self.client.call("POST", "/receipts", json=body)

    async def inspect(self, receipt_id: int, verdicts: list[Json], note: str = "") -> Json:
        return await self.client.call("POST", f"/receipts/{receipt_id}/inspection",
                                      json={"verdicts": verdicts, "note": note})

    async def approve(self, receipt_id: int, note: str = "") -> Json:
        return await self.client.call("POST", f"/receipts/{receipt_id}/approve", json={"note": note})

    # --- counts (盘点) ------------------------------------------------------------------------------

    async def new_count(self, zone_code: str | None, blind: bool) -> Json:
        return await self.client.call("POST", "/counts", json={"zone_code": zone_code or None, "blind": blind})

    async def count(self, sheet_id: int) -> Json:
        return await self.client.call("GET", f"/counts/{sheet_id}")

    async def enter_count(self, sheet_id: int, entry: Json) -> Json:
        return await self.client.call("POST", f"/counts/{sheet_id}/entries", json={"entries": [entry]})

    async def submit_count(self, sheet_id: int, note: str = "") -> Json:
        return await self.client.call("POST", f"/counts/{sheet_id}/submit", json={"note": note})

    async def post_count(self, sheet_id: int, reasons: dict[int, str], note: str = "") -> Json:
        return await self.client.call("POST", f"/counts/{sheet_id}/post",
                                      json={"note": note, "reasons": {str(k): v for k, v in reasons.items()}})

    # --- the month end (#20) ----------------------------------------------------------------------

    async def report(self, kind: str, first: date, last: date) -> Json:
        return await self.client.call("GET", REPORTS[kind], params=_period(first, last),
                                      timeout=REPORT_TIMEOUT)

    async def report_file(self, kind: str, first: date, last: date, fmt: str) -> tuple[bytes, str]:
        return await self.client.download(REPORTS[kind], _period(first, last) | {"format": fmt},
                                          timeout=REPORT_TIMEOUT)

    async def submit_report(self, kind: str, first: date, last: date) -> Json:
        """The month's report handed in (ST-04): a draft of the file the service makes (the 进销存's XLSX it makes
        itself; the card statement's as GET …?format=xlsx gives it), then submitted; the submission as described."""
        body: Json = {"kind": SUBMISSION_KINDS[kind], "period_start": first.isoformat()}
        if kind != "ledger":
            content, name = await self.report_file(kind, first, last, "xlsx")
            body |= {"file_name": name, "content_b64": base64.b64encode(content).decode("ascii")}
        draft = await self.client.call("POST", "/submissions", json=body, timeout=REPORT_TIMEOUT)
        return await self.client.call("POST", f"/submissions/{draft['id']}/submit", json={})

    # --- uploads and reconciliation (#21) ---------------------------------------------------------

    async def uploads(self) -> Json:
        return await self.client.call("GET", "/uploads")

    async def retry_uploads(self, ids: list[int]) -> Json:
        return await self.client.call("POST", "/uploads/retry", json={"ids": ids})

    async def rederive_upload(self, row_id: int, note: str) -> Json:
        return await self.client.call("POST", f"/uploads/{row_id}/rederive", json={"note": note})

    async def correct_upload(self, row_id: int, fields: dict[str, str], note: str) -> Json:
        return await self.client.call("POST", f"/uploads/{row_id}/correct", json={"fields": fields, "note": note})

    async def recon_days(self, first: date, last: date) -> list[Json]:
        return await self.client.call("GET", "/reconciliation/days", params=_period(first, last, "first", "last"))

    async def reconcile_day(self, day: date) -> list[Json]:
        return await self.client.call("POST", f"/reconciliation/days/{day.isoformat()}")

    # --- stock care: losses and destruction, recalls, upkeep, near-expiry (#19) -------------------------------

    async def find_batches(self, number: str | None = None, zone: str | None = None) -> list[Json]:
        params = {k: v for k, v in (("number", number), ("zone", zone)) if v}
        return await self.client.call("GET", "/stock/batches", params=params)

    async def write_off(self, body: Json) -> Json:
        return await self.client.call("POST", "/losses", json=body)

    async def loss_pdf(self, loss_id: int) -> tuple[bytes, str]:
        """The loss or destruction record as PDF; the service keeps the copy it hands out."""
        return await self.client.download(f"/losses/{loss_id}/pdf", {})

    async def start_recall(self, batch_id: int, reason: str, notice_no: str) -> Json:
        return await self.client.call("POST", "/recalls", json={"batch_id": batch_id, "reason": reason,
                                                                 "notice_no": notice_no})

    async def recall(self, recall_id: int) -> Json:
        return await self.client.call("GET", f"/recalls/{recall_id}")

    async def upkeep_due(self) -> list[Json]:
        return await self.client.call("GET", "/upkeep/due")

    async def record_upkeep(self, zone_code: str, checks: list[Json], note: str = "") -> Json:
        return await self.client.call("POST", "/upkeep", json={"zone_code": zone_code, "checks": checks, "note": note})

    async def upkeep_doubts(self) -> list[Json]:
        return await self.client.call("GET", "/upkeep/doubts")

    async def clear_doubt(self, line_id: int, reason: str) -> Json:
        return await self.client.call("POST", f"/upkeep/lines/{line_id}/clear", json={"reason": reason})

    async def near_expiry(self, zone: str | None) -> list[Json]:
        return await self.client.call("GET", "/near-expiry", params={"zone": zone} if zone else None)
    # --- 购进退出, 调拨, 追溯码 at receipt (#19, helper stocka) ---------------------------------------------

    async def approved_deliveries(self, latest: int | None = None, item_id: int | None = None,
                                  trace_code: str | None = None) -> list[Json]:
        given = {"latest": latest, "item_id": item_id, "trace_code": trace_code}
        return await self.client.call("GET", "/receipts", params={"status": "approved"} | {
            k: v for k, v in given.items() if v is not None})

    async def check_trace_code(self, code: str, scanned: list[str]) -> Json:
        return await self.client.call("POST", "/receipts/trace-codes/check", json={"code": code, "scanned": scanned})

    async def return_to_supplier(self, receipt_id: int, lines: list[Json], reason: str) -> Json:
        return await self.client.call("POST", f"/receipts/{receipt_id}/returns",
                                      json={"lines": lines, "reason": reason})

    async def store(self) -> Json:
        return await self.client.call("GET", "/store")

    async def item_batches(self, item_id: int) -> list[Json]:
        return await self.client.call("GET", f"/items/{item_id}/batches")

    async def send_transfer(self, to_store_code: str, lines: list[Json], note: str = "") -> Json:
        return await self.client.call("POST", "/transfers", json={"to_store_code": to_store_code, "lines": lines,
                                                                  "note": note})

    async def transfers_in_transit(self) -> list[Json]:
        return await self.client.call("GET", "/transfers/in-transit")

    async def receive_transfer(self, transfer_id: int, verdicts: list[Json], note: str = "") -> Json:
        return await self.client.call("POST", f"/transfers/{transfer_id}/receive",
                                      json={"verdicts": verdicts, "note": note})


    # --- the compliance checklist (#22) -------------------------------------------------------------

    async def checklist(self, first: date, last: date) -> Json:
        """Every CHECK item for the period (ChecklistOut); the service records the run, so the next shows changes."""
        return await self.client.call("GET", "/checklist", params=_period(first, last), timeout=REPORT_TIMEOUT)

    async def checklist_file(self, first: date, last: date, fmt: str) -> tuple[bytes, str]:
        return await self.client.download("/checklist/export", _period(first, last) | {"format": fmt},
                                          timeout=REPORT_TIMEOUT)


# The month-end reports the till runs, by kind: the route, and which file formats it offers.
REPORTS = {"ledger": "/reports/ledger", "card": "/reports/card-statement"}
FORMATS = {"ledger": ("xlsx", "pdf"), "card": ("xlsx",)}
SUBMISSION_KINDS = {"ledger": "ledger", "card": "card_statement"}  # the report shown -> what ST-04 calls it


def _period(first: date, last: date, a: str = "from", b: str = "to") -> dict[str, Any]:
    return {a: first.isoformat(), b: last.isoformat()}
