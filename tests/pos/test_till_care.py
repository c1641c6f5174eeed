"""The till warns on its message line when the batch a sale takes first is near expiry (GSP-06, near_expiry_days)."""

from __future__ import annotations

import asyncio

import pytest

from server.config import Settings
from tests.conftest import BARCODE_AMOX, BARCODE_VITC
from tests.pos.helpers import SIZE, log_in, message, scan, settled, till

pytestmark = pytest.mark.slow


def test_a_near_expiry_batch_is_warned_of_on_the_message_line(service: str, settings: Settings) -> None:
    async def body() -> None:
        app = till(settings, service)
        async with app.run_test(size=SIZE) as pilot:
            sale = await log_in(pilot)
            await scan(pilot, BARCODE_VITC)
            await settled(pilot, sale)
            assert "近效期" not in message(sale), message(sale)
            await scan(pilot, BARCODE_AMOX)  # its first batch (FEFO) expires in 30 days
            await settled(pilot, sale)
            said = message(sale)
            assert "阿莫西林胶囊 × 1" in said and "⚠ 近效期：阿莫西林胶囊 批号 L2" in said and "剩 30 天" in said, said
    asyncio.run(body())
