"""The sandbox centre's 进销存 side, from the store's end: what it holds per batch, and its completeness query
(count and amount per day and transaction) — the `Completeness` the replay compares with (tests, the CLI)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx


class CentreUploads:
    def __init__(self, base_url: str, fixmedins_code: str) -> None:
        self.code = fixmedins_code
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=10, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def _ok(self, r: httpx.Response) -> Any:
        r.raise_for_status()
        return r.json()

    def __call__(self, first: date, last: date) -> dict[tuple[date, str], tuple[int, int]]:
        """The completeness query: {(day, txn): (count, amount in fen)}."""
        rows = self._ok(self._http.get("/admin/uploads/summary", params={"fixmedins_code": self.code,
                                                                        "first": first.isoformat(),
                                                                        "last": last.isoformat()}))
        return {(date.fromisoformat(r["day"]), r["txn"]): (int(r["count"]), int(r["amount_fen"] or 0)) for r in rows}

    def held(self, bchno: str = "") -> list[dict[str, Any]]:
        """The facts the centre keeps (of one batch, or all), each with its row as received."""
        return self._ok(self._http.get("/admin/uploads", params={"fixmedins_code": self.code, "bchno": bchno}))

    def deletions(self) -> list[dict[str, Any]]:
        return self._ok(self._http.get("/admin/uploads/deletions", params={"fixmedins_code": self.code}))

    def forget(self, day: date, every: int = 2) -> int:
        return int(self._ok(self._http.post("/admin/uploads/forget", json={"fixmedins_code": self.code,
                                                                           "day": day.isoformat(), "every": every}))
                   ["forgotten"])

    def result_in_output(self, on: bool) -> None:
        self._ok(self._http.put("/admin/uploads/settings", json={"result_in_output": on}))
