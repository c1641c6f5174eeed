"""The back office's calls (后台: receiving, counts, the month end, uploads and reconciliation), over the till's one
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

    async def recon_days(self, first: date, last: date) -> list[Json]:
        return await self.client.call("GET", "/reconciliation/days", params=_period(first, last, "first", "last"))

    async def reconcile_day(self, day: date) -> list[Json]:
        return await self.client.call("POST", f"/reconciliation/days/{day.isoformat()}")


# The month-end reports the till runs, by kind: the route, and which file formats it offers.
REPORTS = {"ledger": "/reports/ledger", "card": "/reports/card-statement"}
FORMATS = {"ledger": ("xlsx", "pdf"), "card": ("xlsx",)}
SUBMISSION_KINDS = {"ledger": "ledger", "card": "card_statement"}  # the report shown -> what ST-04 calls it


def _period(first: date, last: date, a: str = "from", b: str = "to") -> dict[str, Any]:
    return {a: first.isoformat(), b: last.isoformat()}
