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


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    status: str
    roles: list[Role]


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut
