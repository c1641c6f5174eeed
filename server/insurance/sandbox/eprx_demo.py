"""The sandbox platform's demo hospital and the demo's electronic 外配处方 (issue #23): shared by the sandbox, which
issues them, and `dingdian demo`, which registers the hospital at the demo store and shows the codes to scan.

The codes are fixed, so the demo's guide can print them (`dingdian eprx codes --qr` shows them as QR on screen,
`--printer T01` on the till's receipt printer); each prescription is
issued again at the sandbox's start when it is not of today and nobody holds it (valid three days). The drugs are the demo catalog's 处方药 that carry no trace code (the demo fills them
without a code scanner); the prescriptions are for the demo card's 职工 (周德明)."""

from __future__ import annotations

from typing import Any

HOSPITAL: dict[str, Any] = {"code": "H44030500017", "name": "深圳市丁点示范医院", "admdvs": "440300",
                            "doctors": [{"code": "D0001", "name": "王建国"}, {"code": "D0002", "name": "陈静"}]}
DEMO_DRUGS: tuple[dict[str, str], ...] = (
    {"med_list_codg": "XC09CAA012A002000103278", "drug_genname": "氯沙坦钾片", "drug_dosform": "片剂",
     "sin_doscnt": "50", "sin_dosunt": "mg", "used_frquname": "qd", "medc_way_dscr": "口服", "drug_cnt": "2",
     "prd_days": "14"},
    {"med_list_codg": "XC10AAA015A002000116922", "drug_genname": "瑞舒伐他汀钙片", "drug_dosform": "片剂",
     "sin_doscnt": "10", "sin_dosunt": "mg", "used_frquname": "qn", "medc_way_dscr": "口服", "drug_cnt": "2",
     "prd_days": "14"},
)
DEMO_CODES = ("EPRX44030020260101000000001", "EPRX44030020260101000000002", "EPRX44030020260101000000003")


def demo_guide() -> str:
    """What `dingdian demo` prints: the codes to scan at the till, and what each prescribes."""
    what = ("氯沙坦钾片 2盒", "瑞舒伐他汀钙片 2盒", "氯沙坦钾片 2盒 + 瑞舒伐他汀钙片 2盒")
    rows = [f"  {code}  {w}" for code, w in zip(DEMO_CODES, what, strict=True)]
    return ("演示电子处方 / demo electronic prescriptions (医保电子处方流转, 患者 周德明 — 演示医保卡「职工」):\n"
            + "\n".join(rows)
            + "\n  收银台扫描处方码下载 → 药师审方 → 读卡结算 / scan the code at the till → the pharmacist reviews → "
              "read the card and settle"
            + "\n  显示为二维码 / as QR codes: dingdian eprx codes --qr（打印到收银台小票机 / on a till's printer: "
              "--printer T01）")
