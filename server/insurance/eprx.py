"""Electronic 外配处方 over the gateway's envelope (电子处方流转, reference §7): the pharmacy's transactions.

7201 处方二维码解析 (the patient's code → epc_token and whose it is), 7202 电子处方查询 (by the 医保电子凭证 → the
person's prescriptions waiting), 7203 电子处方下载 (the prescription whole: header, drug lines, visit, diagnoses,
signed by the platform), 7204 电子处方审核 (the pharmacist's verdict → rx_chk_biz_sn), and the sale reported as the
region does it (`VARIANTS`): 7207 sales detail and 7208 its cancellation, or Shenzhen's 7206 write-off.

The download's signature: SM2 with SM3 over `signed_text(output)` — the output's JSON without its sign fields,
keys sorted, compact, numbers as received — in `signdata` (hex), `signtype` "SM2". A region's exact signed text
is its own: confirm against the 统筹区's spec. The review (7204) and the sale reports (7206/7207/7208) go out
through the uploads' outbox with their whole input frozen in the row (server.services.outbox.platform), not from
here; `upload_review` is the bare message (another pharmacy's, in the tests).

Kept beside the gateway, as the 3501–3507 uploads are: any gateway with the HTTP adapter's `call` carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.insurance import wire
from server.insurance.gateway import Caller, Carrier

SIGN_FIELDS = ("signdata", "signtype", "sign_cert_sn")


@dataclass(frozen=True, slots=True)
class Variant:
    report: str  # the sale reported: 7207 sales detail | 7206 write-off
    cancel: str  # a return: 7208 | 7206 with sel_retn_flag 1
    cancel_flag: bool  # the cancel is the report's transaction flagged as a return


VARIANTS = {"national": Variant("7207", "7208", False), "shenzhen": Variant("7206", "7206", True)}
PLATFORM_TXNS = ("7204", "7206", "7207", "7208")



@dataclass(frozen=True, slots=True)
class Decoded:
    epc_token: str
    hi_rxno: str
    psn_name: str
    cert_type: str
    certno: str
    insuplc_admdvs: str


@dataclass(frozen=True, slots=True)
class Listed:
    hi_rxno: str
    auth_rxno: str
    prsc_time: str
    fixmedins_name: str
    prsc_dr_name: str


@dataclass(frozen=True, slots=True)
class Download:
    output: dict[str, Any]  # the 7203 output as received (numbers as Decimal, nothing dropped)
    msgid: str

    @property
    def signdata(self) -> str:
        return wire.to_text(self.output.get("signdata"))

    @property
    def signtype(self) -> str:
        return wire.to_text(self.output.get("signtype"))


def signed_text(output: dict[str, Any]) -> str:
    """What the platform signs of a download: the output without its sign fields, keys sorted, compact."""
    return wire.dumps(wire.canonical({k: v for k, v in output.items() if k not in SIGN_FIELDS}))


def sign(output: dict[str, Any], private_key: str, public_key: str) -> str:
    """The platform's side (the sandbox): SM2/SM3 signature of `signed_text`, hex."""
    from gmssl import sm2  # pure Python and slow to import: loaded when a download is signed

    return str(sm2.CryptSM2(private_key=private_key, public_key=public_key).sign_with_sm3(
        signed_text(output).encode("utf-8")))


def verify(output: dict[str, Any], public_key: str) -> bool:
    """Whether the download is as the platform signed it (False: tampered on the way, or not the platform's)."""
    from gmssl import sm2

    signature = wire.to_text(output.get("signdata"))
    if not signature or wire.to_text(output.get("signtype")).upper() != "SM2":
        return False
    try:
        return bool(sm2.CryptSM2(private_key="", public_key=public_key).verify_with_sm3(
            signature, signed_text(output).encode("utf-8")))
    except (ValueError, TypeError, IndexError):  # a signature that is not hex, or of the wrong length
        return False


def decode(gateway: Carrier, caller: Caller, qr: str) -> Decoded:
    """7201: the prescription code the patient shows → the token that downloads it."""
    def read(o: dict[str, Any]) -> Decoded:
        d: dict[str, Any] = o["data"] if isinstance(o.get("data"), dict) else o
        return Decoded(*(wire.to_text(d.get(k)) for k in ("epc_token", "hi_rxno", "name", "cert_type", "certno",
                                                         "insuplc_admdvs")))

    _, out = gateway.call("7201", caller, {"data": {"epc_qrcd": qr}}, read=read)
    assert out is not None
    if not out.epc_token:
        raise wire.WireFormatError("7201: the answer carries no epc_token")
    return out


def query(gateway: Carrier, caller: Caller, mdtrt_cert_type: str, mdtrt_cert_no: str) -> list[Listed]:
    """7202: the insured person's prescriptions waiting at the platform, by their 医保电子凭证 (or card, ID)."""
    def read(o: dict[str, Any]) -> list[Listed]:
        rows: list[Any] = o["rxlist"] if isinstance(o.get("rxlist"), list) else []
        return [Listed(*(wire.to_text(r.get(k)) for k in ("hi_rxno", "auth_rxno", "prsc_time", "fixmedins_name",
                                                           "prsc_dr_name"))) for r in rows if isinstance(r, dict)]

    _, out = gateway.call("7202", caller, {"data": {"mdtrt_cert_type": mdtrt_cert_type,
                                                    "mdtrt_cert_no": mdtrt_cert_no}}, read=read)
    return out or []


def download(gateway: Carrier, caller: Caller, epc_token: str = "", auth_rxno: str = "") -> Download:
    """7203: the prescription whole, as the platform signed it."""
    receipt, _ = gateway.call("7203", caller, {"data": {"epc_token": epc_token, "auth_rxno": auth_rxno}})
    return Download(receipt.output, receipt.msgid)


def upload_review(gateway: Carrier, caller: Caller, data: dict[str, Any]) -> tuple[str, str]:
    """7204: the pharmacist's review → (rx_chk_biz_sn, msgid). The platform answers the same msgid alike."""
    receipt, out = gateway.call("7204", caller, {"data": data},
                                read=lambda o: wire.to_text((o.get("data") if isinstance(o.get("data"), dict)
                                                             else o).get("rx_chk_biz_sn")))
    if not out:
        raise wire.WireFormatError("7204: the answer carries no rx_chk_biz_sn")
    return str(out), receipt.msgid
