"""What every wire shape shares: strict bodies (unknown fields refused), partial updates, codes, ids, money."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

Code = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_.\-]+$")


# A second person's username and PIN, as requests once carried them: refused by name (server.api.errors says
# what to do instead), since a PIN never travels in a business request's body.
PIN_FIELDS = frozenset({"confirm_username", "confirm_pin"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Patch(Strict):
    """A partial update: absent means unchanged; null is accepted only where the field may be empty."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Patch:
        bad = sorted(k for k in self.model_fields_set if getattr(self, k) is None and k not in self.nullable)
        if bad:
            raise ValueError(f"these fields cannot be empty (不能为空): {', '.join(bad)}")
        return self


UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


SaleId = Field(pattern=UUID_PATTERN, description="a UUID the till generates; retries send the same one")


Fen = Field(ge=0, le=100_000_000)

# The days a business date may fall on: a report's period, a reconciled day, a payment. Far outside them a date is
# a typing mistake (0001-01-01), and would overflow the conversion to the store's time zone.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


def in_era(**days: date | None) -> None:
    """Refuses (422, naming the field) a business date outside [FIRST_DAY, LAST_DAY]."""
    from server.errors import AppError

    for name, day in days.items():
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise AppError(422, "VALIDATION", f"日期 {name} 超出范围（{FIRST_DAY} 至 {LAST_DAY}）：{day}",
                           f"{name} is outside {FIRST_DAY}..{LAST_DAY}: {day}", {"field": name, "value": str(day)})


class SecondPerson(Strict):
    """A change that loosens an item's controlled facts (RX-01, CARD-07): why. Who approves it confirms at the
    till or the office (POST /auth/authorise with `second`) and the request carries their grant (X-Second)."""

    reason: str = Field(default="", max_length=200)


SECOND_PERSON_FIELDS = frozenset(SecondPerson.model_fields)
