"""What every use case is given: the store it acts for, who acts, the settings and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from server.audit import SYSTEM, Actor
from server.config import Settings
from server.db.types import business_day, utcnow


@dataclass(frozen=True, slots=True)
class Ctx:
    store_id: int
    settings: Settings
    actor: Actor = SYSTEM
    now: datetime = field(default_factory=utcnow)

    @property
    def actor_id(self) -> int:
        """The acting user's id, for a row that records who did it (NOT NULL): a use case a signed-in user runs."""
        if self.actor.user_id is None:
            raise ValueError(f"{self.actor.name} acts as no user: this row needs one")
        return self.actor.user_id

    @property
    def today(self) -> date:
        """The store's local date: deadlines and expiries are in the store's time zone."""
        return business_day(self.now, self.settings.store.tz)

    def acting(self, actor: Actor) -> Ctx:
        return Ctx(self.store_id, self.settings, actor, self.now)
