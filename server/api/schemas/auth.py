"""Logging in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from server.api.schemas.common import Strict
from server.permissions import Action
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
    # What the posts allow (permissions.Action values), so the till knows its rights before asking for anything;
    # and for each action another post may authorise in place that these posts lack, the posts that may (中文).
    actions: list[str] = []
    in_place: dict[str, str] = {}


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut


class AuthoriseIn(Strict):
    """Another post's holder authorises one action on one thing at this till (SEC-01, server.auth.grants)."""

    username: str = Field(min_length=1, max_length=30)
    pin: str = Field(min_length=1, max_length=64)
    action: Action
    subject: str = Field(max_length=60, description="the sale id, prescription id or shift id acted on")
    second: bool = Field(default=False, description="a second person's check of `action` (sent as X-Second), "
                                                    "not the action itself (X-Grant)")


class AuthoriserOut(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[Role]


class AuthoriseOut(BaseModel):
    grant: str  # sent as the X-Grant header of the one request it authorises
    expires_at: datetime
    action: Action
    subject: str
    user: AuthoriserOut
