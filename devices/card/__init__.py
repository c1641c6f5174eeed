"""The social security card reader (社会保障卡): one record per card, whichever driver reads it.

- `CardRecord` — the card as the 1101 person lookup needs it; the ID number masked in every text form.
- `CardReader` — the interface: start(callback) / stop() / read() / status().
- drivers: `PcscCardReader` (pcsc, pyscard over pcscd — 2nd-generation cards), `SdkCardReader` (the
  region's card library through ctypes — production 3rd-generation cards), `SimulatedCardReader` (demo).
- `card_reader_for(settings.devices)` picks one from the configuration; `CardReaderDevice` runs it
  as a managed device (status bar, `card` events, the current card kept for settlement).
"""

from devices.card.demo_cards import DEMO_CARDS, DemoCard, demo_card
from devices.card.device import CardReaderDevice
from devices.card.errors import CardError
from devices.card.events import CardCallback, CardEvent, CardFailed, CardInserted, CardRemoved, ReaderStatus
from devices.card.factory import card_reader_for
from devices.card.reader import CardReader
from devices.card.record import CardRecord
from devices.card.sdk import SdkCardReader
from devices.card.simulated import SimulatedCardReader

__all__ = ["DEMO_CARDS", "CardCallback", "CardError", "CardEvent", "CardFailed", "CardInserted", "CardReader",
           "CardReaderDevice", "CardRecord", "CardRemoved", "DemoCard", "ReaderStatus", "SdkCardReader",
           "SimulatedCardReader", "card_reader_for", "demo_card"]
