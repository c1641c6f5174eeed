"""The card reader the configuration asks for (`[devices] card_reader = simulated | pcsc | sdk`).

pyscard is imported only when the PC/SC driver is chosen, so a till configured for the simulated
reader or the regional library does not need pcsc-lite installed.
"""

from __future__ import annotations

from typing import Protocol

from devices.card.reader import CardReader
from devices.card.sdk import SdkCardReader
from devices.card.simulated import SimulatedCardReader


class CardReaderSettings(Protocol):
    """What the factory reads of the `[devices]` settings (the service's DeviceSettings: drivers import
    nothing of the service)."""

    @property
    def card_reader(self) -> str: ...
    @property
    def card_reader_name(self) -> str: ...
    @property
    def card_sdk_library(self) -> str: ...
    @property
    def card_sdk_init(self) -> str: ...
    @property
    def card_sdk_encoding(self) -> str: ...


def card_reader_for(devices: CardReaderSettings) -> CardReader:
    if devices.card_reader == "pcsc":
        from devices.card.pcsc import PcscCardReader

        return PcscCardReader(devices.card_reader_name)
    if devices.card_reader == "sdk":
        return SdkCardReader(devices.card_sdk_library, devices.card_sdk_init, devices.card_sdk_encoding)
    return SimulatedCardReader()
