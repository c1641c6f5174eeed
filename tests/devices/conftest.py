"""Device-stack fixtures: one pcscd with the test's vpcd reader for the whole run, a card per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.devices.pcscd import CHANNEL, Pcscd, wait_card
from tests.devices.vcard import VirtualCard


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    daemon = Pcscd(tmp_path_factory.mktemp("pcscd")).ensure()
    yield daemon
    if daemon.owned:
        daemon.stop()


@pytest.fixture
def card(pcscd: Pcscd) -> Iterator[Callable[..., VirtualCard]]:
    """`card(**misbehaviour)` makes a virtual card (not yet inserted); every card is pulled out at the
    end of the test and the slot seen empty, so the next test starts clean."""
    made: list[VirtualCard] = []

    def make(**kwargs: Any) -> VirtualCard:
        vc = VirtualCard(CHANNEL, **kwargs)
        made.append(vc)
        return vc

    yield make
    for vc in made:
        vc.remove()
    if pcscd.owned and pcscd.proc is None:  # a test stopped pcscd and failed before restarting it
        pcscd.start()
    wait_card(False)
