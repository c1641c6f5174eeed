"""Accounts, posts (requested, approved, revoked, transferred), freezing, staff records (SEC-01..03)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select

from server.api.deps import CtxDep, ReadSession, RowId, guarded, unit_of_work
from server.api.schemas.auth import UserOut
from server.api.schemas.store import ReasonIn
from server.api.schemas.users import (
    ApprovedOut,
    GrantOut,
    PostRequestIn,
    StaffIn,
    StaffOut,
    TransferIn,
    UserIn,
)
from server.db.models import StaffProfile, User, UserRole
from server.db.models.base import id_of
from server.db.uow import orm
from server.errors import not_found
from server.permissions import Action
from server.privacy import mask_id
from server.roles import Role
from server.rules.staff import pharmacist_refusals
from server.services.context import Ctx
from server.services.store import grants, users

router = APIRouter(prefix="/users", tags=["users"])


def _user_out(s: Session, user: User) -> UserOut:
    return UserOut(id=id_of(user), username=user.username, display_name=user.display_name, status=user.status,
                   roles=sorted(users.active_roles(s, id_of(user))),
                   pending_roles=sorted(users.pending_roles(s, id_of(user))), needs_first_pin=not user.pin_hash)


def _grant_out(g: UserRole) -> GrantOut:
    return GrantOut(id=id_of(g), user_id=g.user_id, role=Role(g.role), pending=g.pending, granted_by=g.granted_by,
                    approved_by=g.approved_by, revoked_at=g.revoked_at)


def _staff_out(p: StaffProfile, ctx: Ctx) -> StaffOut:
    refusals = pharmacist_refusals(users.staff_record(p), ctx.settings.store.fixmedins_code, ctx.today,
                                   ctx.settings.rules.min_contract_years)
    return StaffOut(user_id=p.user_id, id_number_masked=mask_id(p.id_number), qualification=p.qualification,
                    qualification_no=p.qualification_no, qualification_expiry=p.qualification_expiry,
                    registered_store_code=p.registered_store_code,
                    contract_start=p.contract_start, contract_end=p.contract_end, work_cert_no=p.work_cert_no,
                    work_cert_expiry=p.work_cert_expiry, pharmacist_signoff_refusals=[v.as_dict() for v in refusals])


@router.get("", response_model=list[UserOut], **guarded(Action.STAFF_READ))
def list_users(s: ReadSession, ctx: CtxDep) -> list[UserOut]:
    return [_user_out(s, u) for u, _ in users.list_users(s, ctx)]


@router.post("", response_model=UserOut, status_code=201, **guarded(Action.USER_WRITE))
def add_user(body: UserIn, request: Request, ctx: CtxDep) -> UserOut:
    """An account for a person, with no PIN; its posts are requests until someone else approves them."""
    with unit_of_work(request) as u:
        user = users.create_account(u, ctx, body.username, body.display_name, body.id_number, set(body.roles))
        return _user_out(orm(u), user)


@router.get("/requests", response_model=list[GrantOut], **guarded(Action.STAFF_READ))
def pending_requests(s: ReadSession, ctx: CtxDep) -> list[GrantOut]:
    rows = s.exec(select(UserRole).where(UserRole.store_id == ctx.store_id, col(UserRole.pending),
                                         col(UserRole.revoked_at).is_(None)).order_by(col(UserRole.id)))
    return [_grant_out(g) for g in rows]


@router.post("/requests/{grant_id}/approve", response_model=ApprovedOut, **guarded(Action.GRANT_APPROVE))
def approve_request(grant_id: RowId, request: Request, ctx: CtxDep) -> ApprovedOut:
    with unit_of_work(request) as u:
        done = grants.approve(u, ctx, grant_id)
        return ApprovedOut(grant=_grant_out(done.grant), one_time_code=done.one_time_code)


@router.post("/requests/{grant_id}/refuse", response_model=GrantOut, **guarded(Action.GRANT_APPROVE))
def refuse_request(grant_id: RowId, body: ReasonIn, request: Request, ctx: CtxDep) -> GrantOut:
    with unit_of_work(request) as u:
        return _grant_out(grants.refuse(u, ctx, grant_id, body.reason))


@router.post("/{user_id}/posts", response_model=GrantOut, status_code=201, **guarded(Action.USER_WRITE))
def request_post(user_id: RowId, body: PostRequestIn, request: Request, ctx: CtxDep) -> GrantOut:
    with unit_of_work(request) as u:
        return _grant_out(grants.request_post(u, ctx, user_id, body.role, body.note))


@router.post("/{user_id}/posts/{role}/revoke", response_model=UserOut, **guarded(Action.USER_FREEZE))
def revoke_post(user_id: RowId, role: Role, body: ReasonIn, request: Request, ctx: CtxDep) -> UserOut:
    """SEC-03: the post ends now, and the account's sessions with it."""
    with unit_of_work(request) as u:
        grants.revoke(u, ctx, user_id, role, body.reason)
        return _user_out(orm(u), users.user_of(orm(u), ctx, user_id))


@router.post("/{user_id}/transfer", response_model=list[GrantOut], **guarded(Action.USER_WRITE))
def transfer(user_id: RowId, body: TransferIn, request: Request, ctx: CtxDep) -> list[GrantOut]:
    """SEC-03: every old post ends now (sessions too); the new ones are requests for someone else to approve."""
    with unit_of_work(request) as u:
        return [_grant_out(g) for g in grants.transfer(u, ctx, user_id, set(body.roles), body.reason)]


@router.post("/{user_id}/one-time-code", response_model=ApprovedOut, **guarded(Action.GRANT_APPROVE))
def reissue_code(user_id: RowId, request: Request, ctx: CtxDep) -> ApprovedOut:
    with unit_of_work(request) as u:
        code = grants.reissue_code(u, ctx, user_id)
        grant = orm(u).exec(select(UserRole).where(UserRole.user_id == user_id).order_by(col(UserRole.id))).first()
        assert grant is not None  # reissue_code refuses an account without an approved post
        return ApprovedOut(grant=_grant_out(grant), one_time_code=code)


@router.post("/{user_id}/freeze", response_model=UserOut, **guarded(Action.USER_FREEZE))
def freeze_user(user_id: RowId, body: ReasonIn, request: Request, ctx: CtxDep) -> UserOut:
    with unit_of_work(request) as u:
        user = users.freeze_user(u, ctx, user_id, body.reason)
        return _user_out(orm(u), user)


@router.get("/{user_id}/staff", response_model=StaffOut, **guarded(Action.STAFF_READ))
def get_staff(user_id: RowId, s: ReadSession, ctx: CtxDep) -> StaffOut:
    profile = users.staff_profile(s, user_id)
    if profile is None or profile.store_id != ctx.store_id:
        raise not_found("员工档案", "staff record", user_id=user_id)
    return _staff_out(profile, ctx)


@router.put("/{user_id}/staff", response_model=StaffOut, **guarded(Action.STAFF_WRITE))
def set_staff(user_id: RowId, body: StaffIn, request: Request, ctx: CtxDep) -> StaffOut:
    with unit_of_work(request) as u:
        values = body.model_dump()
        values["id_number"] = values["id_number"].upper()
        profile = users.set_staff_profile(u, ctx, user_id, values)
        return _staff_out(profile, ctx)
