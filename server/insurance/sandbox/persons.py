"""The sandbox centre's insured persons (参保人员): 职工 (310) and 居民 (390), with their social
security cards (card number + 卡识别码), e-voucher tokens and personal-account balances.

The 职工 and 居民 on the demo cards (devices/card/demo_cards.py: the simulated reader's cards) are
persons here with the same card number, 卡识别码, name and ID number, so a demo card read at the
till identifies them in 1101; the others cover a low balance, an elderly resident, a person insured
in another region (异地) and a suspended insurance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from catalog.codes import id_check_char


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


def _from_card(key: str, psn_no: str, psn_type: str, balance_fen: int, ec_token: str, emp_name: str = "",
               other_insutypes: tuple[str, ...] = ()) -> DemoPerson:
    """The person behind one of the demo cards (devices/card/demo_cards.py): the simulated reader's
    card, read at the till, identifies this person in 1101."""
    from devices.card.demo_cards import DEMO_CARDS

    card = DEMO_CARDS[key]
    r = card.record
    born = date(int(r.id_number[6:10]), int(r.id_number[10:12]), int(r.id_number[12:14]))
    return DemoPerson(psn_no, r.name, int(r.id_number[16]) % 2 == 0, born, r.id_number, r.card_no, r.card_sn,
                      ec_token, card.insutype, psn_type, balance_fen, insuplc_admdvs=r.region, emp_name=emp_name,
                      other_insutypes=other_insutypes)


DEMO_PERSONS: tuple[DemoPerson, ...] = (
    _from_card("employee", "44030000000000000001", "11", 85640, "ECQR440300" + "1A2B3C4D5E6F708192A3B4C5",
               "深圳市丁点科技有限公司", ("330",)),
    DemoPerson("44030000000000000002", "李秀英", True, date(1958, 9, 2), _certno("440303", date(1958, 9, 2), 31, True),
               "A10000002", _card_sn("440300", 0x0050640776EF3193), "ECQR440300" + "2B3C4D5E6F708192A3B4C5D6", "310",
               "12", 3520, emp_name="深圳市纺织厂（退休）"),
    _from_card("resident", "44030000000000000003", "15", 0, "ECQR440300" + "3C4D5E6F708192A3B4C5D6E7"),
    DemoPerson("44030000000000000004", "赵磊", False, date(1949, 11, 30), _certno("440306", date(1949, 11, 30), 7, False),
               "A10000004", _card_sn("440300", 0x0050640776EF3195), "ECQR440300" + "4D5E6F708192A3B4C5D6E7F8", "390",
               "16", 0),
    DemoPerson("44010000000000000005", "刘洋", False, date(1986, 1, 8), _certno("440106", date(1986, 1, 8), 23, False),
               "B20000005", _card_sn("440100", 0x0060A1B2C3D4E5F6), "ECQR440100" + "5E6F708192A3B4C5D6E7F809", "310",
               "11", 20000, insuplc_admdvs="440100", emp_name="广州市某贸易公司"),
    DemoPerson("44030000000000000006", "孙丽", True, date(1979, 4, 17), _certno("440307", date(1979, 4, 17), 52, True),
               "A10000006", _card_sn("440300", 0x0050640776EF3196), "ECQR440300" + "6F708192A3B4C5D6E7F8091A", "310",
               "11", 10000, insu_stas="2", emp_name="深圳市某公司（已停保）"),
)
