"""At start-up, before a till can touch a sale again: every card settlement a crash left as an intent or
uncertain is resolved with the centre (2601 by msgid; a 2103 of unknown outcome taken back). The print
queue's own recovery (a job cut off mid-send is marked uncertain, never resent by itself) is the print
worker's first step (printing.py)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from server.audit import SYSTEM
from server.config import Settings
from server.insurance.gateway import InsuranceGateway
from server.services.card import settle as card_settle
from server.services.context import Ctx

log = logging.getLogger(__name__)


def recover_settlements(engine: Engine, settings: Settings, store_id: int, gateway: InsuranceGateway) -> None:
    try:
        outcome = card_settle.recover(engine, Ctx(store_id, settings, SYSTEM), gateway)
        if outcome:
            log.warning("unresolved card settlements at start-up: %s", outcome)
    except Exception:  # the centre may be away: the settlements stay blocked and are resolved by hand or next start
        log.exception("settlement recovery failed")


