"""Logging in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict
from server.roles import Role


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=30)
    pin: str = Field(min_length=1, max_length=64)
    till_code: str | None = Field(default=None, max_length=20)


class FirstPinIn(Strict):
    """The owner of a new account sets their first PIN with the one-time code handed to them (SEC-01)."""

    username: str = Field(min_length=1, max_length=30)
    code: str = Field(min_length=1, max_length=20)
    pin: str = Field(min_length=4, max_length=12, pattern=r"^\d+$")


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    status: str
    roles: list[Role]
    pending_roles: list[Role] = []  # requested, not yet approved: no right (SEC-01)
    needs_first_pin: bool = False  # the owner has not set their PIN yet


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut
