"""The sandbox centre's insured persons (参保人员): 职工 (310) and 居民 (390), with their social
security cards (card number + 卡识别码), e-voucher tokens and personal-account balances.

The card fields are the ones a card reader yields (devices/card CardRecord: card_no, card_sn,
name, id_number, region), so a demo card read at the till identifies the same person here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from catalog.demo_data import id_check_char


def _certno(division: str, born: date, seq: int, female: bool) -> str:
    # 顺序码: odd for men, even for women (GB 11643).
    seq = seq * 2 + (0 if female else 1)
    first17 = f"{division}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


@dataclass(frozen=True)
class DemoPerson:
    psn_no: str
    name: str
    female: bool
    born: date
    certno: str
    card_no: str
    card_sn: str
    ec_token: str
    insutype: str  # the settled insured type: 310 职工 / 390 居民
    psn_type: str  # 11 在职, 12 退休, 15 居民成年, 16 居民老年
    balance_fen: int  # 个人账户 balance
    insuplc_admdvs: str = "440300"
    emp_name: str = ""
    insu_stas: str = "1"  # 参保状态: 1 正常参保; 2 暂停参保
    other_insutypes: tuple[str, ...] = field(default_factory=tuple)  # further insuinfo rows (e.g. 330 大额)

    @property
    def gend(self) -> str:
        return "2" if self.female else "1"


def _card_sn(region: str, serial: int) -> str:
    """卡识别码: 6-digit issuing region + D156000005 + 16 hex (devices reference §4)."""
    return f"{region}D156000005{serial:016X}"


DEMO_PERSONS: tuple[DemoPerson, ...] = (
    DemoPerson("44030000000000000001", "张建国", False, date(1975, 3, 14), _certno("440305", date(1975, 3, 14), 12, False),
               "A10000001", _card_sn("440300", 0x0050640776EF3192), "EC440300" + "1A2B3C4D5E6F708192A3B4C5", "310",
               "11", 85640, emp_name="深圳市丁点科技有限公司", other_insutypes=("330",)),
    DemoPerson("44030000000000000002", "李秀英", True, date(1958, 9, 2), _certno("440303", date(1958, 9, 2), 31, True),
               "A10000002", _card_sn("440300", 0x0050640776EF3193), "EC440300" + "2B3C4D5E6F708192A3B4C5D6", "310",
               "12", 3520, emp_name="深圳市纺织厂（退休）"),
    DemoPerson("44030000000000000003", "陈芳", True, date(1990, 6, 21), _certno("440304", date(1990, 6, 21), 45, True),
               "A10000003", _card_sn("440300", 0x0050640776EF3194), "EC440300" + "3C4D5E6F708192A3B4C5D6E7", "390",
               "15", 0),
    DemoPerson("44030000000000000004", "赵磊", False, date(1949, 11, 30), _certno("440306", date(1949, 11, 30), 7, False),
               "A10000004", _card_sn("440300", 0x0050640776EF3195), "EC440300" + "4D5E6F708192A3B4C5D6E7F8", "390",
               "16", 0),
    DemoPerson("44010000000000000005", "刘洋", False, date(1986, 1, 8), _certno("440106", date(1986, 1, 8), 23, False),
               "B20000005", _card_sn("440100", 0x0060A1B2C3D4E5F6), "EC440100" + "5E6F708192A3B4C5D6E7F809", "310",
               "11", 20000, insuplc_admdvs="440100", emp_name="广州市某贸易公司"),
    DemoPerson("44030000000000000006", "孙丽", True, date(1979, 4, 17), _certno("440307", date(1979, 4, 17), 52, True),
               "A10000006", _card_sn("440300", 0x0050640776EF3196), "EC440300" + "6F708192A3B4C5D6E7F8091A", "310",
               "11", 10000, insu_stas="2", emp_name="深圳市某公司（已停保）"),
)
