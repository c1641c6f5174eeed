"""Accounts, their posts, the staff records beside them (STAFF-01/02) and login sessions."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from server.db.models.base import Table, created_at, store_fk, updated_at
from server.db.types import UTCDateTime
from server.rules.staff import Qualification  # the vocabulary is the rules'; kept importable here


class UserStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"  # SEC-03: departed or transferred; cannot log in, tokens dead at once


class User(Table, table=True):
    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("store_id", "username"),)
    # The hashes never go into the audit log; lockout counters are not business data.
    __audit_exclude__ = ("pin_hash", "failed_attempts", "locked_until", "one_time_code_hash",
                         "one_time_code_expires_at")

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    username: str = Field(max_length=30)  # opter / 经办人 code
    display_name: str = Field(max_length=50)  # opter_name
    pin_hash: str = Field(max_length=255)  # "" until the owner sets their first PIN with the one-time code
    status: str = Field(default=UserStatus.ACTIVE.value, max_length=20)
    frozen_reason: str = Field(default="", max_length=200)
    frozen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # SEC-01: the owner sets the first PIN with a one-time code handed to them in person; only its hash is kept
    one_time_code_hash: str = Field(default="", max_length=255)
    one_time_code_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at()
    updated_at: datetime = updated_at()


class UserRole(Table, table=True):
    """A post granted to a user. A grant starts as a request (pending) and lives once someone other than the
    grantee and the requester approves it (SEC-01); revoking sets revoked_at; grants are never deleted."""

    __tablename__ = "user_role"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    user_id: int = Field(foreign_key="app_user.id", index=True)
    role: str = Field(max_length=30)
    granted_by: int | None = Field(default=None, foreign_key="app_user.id")
    granted_at: datetime = created_at()
    approved_by: int | None = Field(default=None, foreign_key="app_user.id")  # SEC-01: ≠ grantee, ≠ requester
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A request not yet approved gives no right. False by default: the grants made before requests existed live on.
    pending: bool = False
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: int | None = Field(default=None, foreign_key="app_user.id")




class StaffProfile(Table, table=True):
    """The staff record beside an account: what STAFF-01/02 and the checklist look at."""

    __tablename__ = "staff_profile"
    __audit_mask__ = ("id_number",)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    user_id: int = Field(foreign_key="app_user.id", unique=True)
    id_number: str = Field(default="", max_length=18)  # whole here; masked wherever shown (SEC-06)
    qualification: str = Field(default=Qualification.NONE.value, max_length=30)
    qualification_no: str = Field(default="", max_length=50)  # 执业资格证号 phar_prac_cert_no
    qualification_expiry: date | None = None  # 执业药师注册证 有效期至 (STAFF-01; a 职称 does not lapse)
    registered_store_code: str = Field(default="", max_length=12)  # 注册执业单位 (STAFF-01)
    contract_start: date | None = None
    contract_end: date | None = None
    work_cert_no: str = Field(default="", max_length=50)  # 上岗证 / 培训合格证
    work_cert_expiry: date | None = None
    updated_at: datetime = updated_at()


class AuthSession(Table, table=True):
    """A live bearer token (stored hashed). Freezing the user kills it at once: every request checks."""

    __tablename__ = "auth_session"
    # The chain names a session written or revived behind the service's back (SEC-04); the token's hash is the
    # key a bearer is looked up by, so the log keeps only a digest of it.
    __audit_digest__ = ("token_hash",)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = store_fk()
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    till_id: int | None = Field(default=None, foreign_key="till.id")
    created_at: datetime = created_at()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
