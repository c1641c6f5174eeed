"""The demo's social security cards: the same people for the simulated reader and the sandbox centre.

The sandbox centre imports `DEMO_CARDS` so that 1101 with one of these cards (mdtrt_cert_type 03,
card number + 卡识别码) finds the matching insured person; the simulated reader "inserts" them.
Numbers are made up but well-formed: ID numbers carry a valid GB 11643 check digit, 卡识别码 has the
issuing region + D156000005 + a serial, card numbers are 9 alphanumerics. Region 440300 (Shenzhen)
matches the demo store's 统筹区.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from devices.card.record import CardRecord


@dataclass(frozen=True)
class DemoCard:
    key: str  # what the demo's "insert card" takes
    insutype: str  # 险种 the sandbox insures this person under: 310 职工 / 390 居民
    label: str  # shown in the demo's menu
    record: CardRecord


def _card(card_no: str, serial: str, name: str, id_number: str, issued: date) -> CardRecord:
    return CardRecord(card_no=card_no, card_sn=f"440300D156000005{serial}", name=name, id_number=id_number,
                      region="440300", version="2.00", issued_on=issued,
                      valid_until=issued.replace(year=issued.year + 10), atr_history="0086534443444D4F",
                      source="simulated")


DEMO_CARDS: dict[str, DemoCard] = {
    card.key: card
    for card in (
        DemoCard("employee", "310", "职工医保 · 周德明", _card("D44030001", "7E21A4C0019B3F52", "周德明",
                                                         "440305197806152030", date(2018, 9, 12))),
        DemoCard("resident", "390", "居民医保 · 王秀英", _card("D44030002", "5C08D3E14A6F2B90", "王秀英",
                                                         "440306199202283545", date(2021, 3, 4))),
    )
}


def demo_card(key: str = "employee") -> DemoCard:
    try:
        return DEMO_CARDS[key]
    except KeyError:
        raise KeyError(f"no demo card {key!r}; there are {', '.join(DEMO_CARDS)}") from None


def by_card_no(card_no: str) -> DemoCard | None:
    """The demo card with this card number (what the sandbox's 1101 receives as mdtrt_cert_no)."""
    return next((c for c in DEMO_CARDS.values() if c.record.card_no == card_no.split("|", 1)[0]), None)
