"""The card reader the configuration asks for (`[devices] card_reader = simulated | pcsc | sdk`).

pyscard is imported only when the PC/SC driver is chosen, so a till configured for the simulated
reader or the regional library does not need pcsc-lite installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.card.reader import CardReader
from devices.card.sdk import SdkCardReader
from devices.card.simulated import SimulatedCardReader

if TYPE_CHECKING:
    from server.config import DeviceSettings


def card_reader_for(devices: DeviceSettings) -> CardReader:
    if devices.card_reader == "pcsc":
        from devices.card.pcsc import PcscCardReader

        return PcscCardReader(devices.card_reader_name)
    if devices.card_reader == "sdk":
        return SdkCardReader(devices.card_sdk_library, devices.card_sdk_init, devices.card_sdk_encoding)
    return SimulatedCardReader()
