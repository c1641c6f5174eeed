"""A small client for the sandbox's admin endpoints (tests, benchmarks, the demo)."""

from __future__ import annotations

from typing import Any

import httpx


class SandboxAdmin:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base, timeout=10, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def _ok(self, r: httpx.Response) -> Any:
        r.raise_for_status()
        return r.json()

    def reset(self) -> None:
        self._ok(self._http.post("/admin/reset"))

    def settlements(self, fixmedins_code: str = "") -> list[dict[str, Any]]:
        """The centre's own ledger: one row per 2102 (refd_setl_flag 0) and per 2103 (1, negative amounts);
        status active | cancelled | reversed."""
        return self._ok(self._http.get("/admin/ledger", params={"fixmedins_code": fixmedins_code}))["settlements"]

    def reversals(self) -> list[dict[str, Any]]:
        return self._ok(self._http.get("/admin/ledger"))["reversals"]

    def person(self, psn_no: str) -> dict[str, Any]:
        return self._ok(self._http.get(f"/admin/persons/{psn_no}"))

    def persons(self) -> list[dict[str, Any]]:
        return self._ok(self._http.get("/admin/persons"))

    def deliveries(self, msgid: str = "", infno: str = "") -> list[dict[str, Any]]:
        return self._ok(self._http.get("/admin/deliveries", params={"msgid": msgid, "infno": infno}))

    def sign_ins(self) -> list[dict[str, Any]]:
        return self._ok(self._http.get("/admin/sign-ins"))

    def inject(self, kind: str, infno: str = "", **more: Any) -> None:
        """kind: delay (delay_ms) | drop | twice | error (infcode, err_msg) | refuse_sign_in | http_status (status)
        | garble | misstate (offset_fen); `times` (default 1) messages of `infno` ("" = any)."""
        self._ok(self._http.post("/admin/faults", json={"kind": kind, "infno": infno, **more}))

    def faults(self) -> dict[str, Any]:
        return self._ok(self._http.get("/admin/faults"))

    def clear_faults(self) -> None:
        self._ok(self._http.delete("/admin/faults"))

    def set_policy(self, **policy: Any) -> dict[str, Any]:
        return self._ok(self._http.put("/admin/policy", json=policy))

    def set_settings(self, **settings: Any) -> dict[str, Any]:
        return self._ok(self._http.put("/admin/settings", json=settings))

    def add_directory(self, entries: dict[str, str], traced: bool | None = None) -> None:
        """{national code: chrgitm_lv (01/1 甲, 02/2 乙, 03/3 丙)}; `traced`: whether they carry trace codes."""
        self._ok(self._http.post("/admin/directory", json=[{"code": c, "chrgitm_lv": lv, "traced": traced}
                                                           for c, lv in entries.items()]))

    # --- the reconciliation's knobs (server.insurance.sandbox.statements) ------------------------------------

    def recon_fault(self, kind: str, setl_id: str, offset_fen: int = 1) -> None:
        """lose (the centre loses the settlement) | offset (its amount off by offset_fen) | unrefund (the centre
        loses its cancellation)."""
        self._ok(self._http.post("/admin/recon-faults", json={"kind": kind, "setl_id": setl_id,
                                                              "offset_fen": offset_fen}))

    def pin_clock(self, at: str | None) -> None:
        """The centre's clock pinned at `at` (yyyy-MM-dd HH:mm:ss, its own time), or the real clock again (None)."""
        self._ok(self._http.put("/admin/clock", json={"at": at}))

    # --- the prescription circulation platform (server.insurance.sandbox.eprx) -------------------------------

    def issue_eprx(self, psn_no: str, drugs: list[dict[str, Any]], **more: Any) -> dict[str, str]:
        """A prescription from the demo hospital: its hi_rxno, qr (the patient's code), epc_token, auth_rxno.
        `more`: days_ago, valid_days, code_hours (negative: already expired), doctor, course, diag_code/name."""
        return self._ok(self._http.post("/admin/eprx", json={"psn_no": psn_no, "drugs": drugs, **more}))

    def eprx(self) -> list[dict[str, Any]]:
        """Every prescription with its reviews and sales (cancelled_by set once cancelled)."""
        return self._ok(self._http.get("/admin/eprx"))

    def tamper_eprx(self, times: int = 1) -> None:
        """The next `times` downloads are changed after the platform signed them."""
        self._ok(self._http.put("/admin/eprx/tamper", json={"times": times}))
