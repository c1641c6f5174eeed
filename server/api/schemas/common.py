"""What every wire shape shares: strict bodies (unknown fields refused), partial updates, codes, ids, money."""

from __future__ import annotations

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


class SecondPerson(Strict):
    """A change that loosens an item's controlled facts (RX-01, CARD-07): why. Who approves it confirms at the
    till or the office (POST /auth/authorise with `second`) and the request carries their grant (X-Second)."""

    reason: str = Field(default="", max_length=200)


SECOND_PERSON_FIELDS = frozenset(SecondPerson.model_fields)
