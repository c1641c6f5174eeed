"""Accounts, posts, freezing, staff records."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.api.deps import CtxDep, ReadSession, RowId, guarded, unit_of_work
from server.api.schemas.auth import UserOut
from server.api.schemas.store import ReasonIn
from server.api.schemas.users import StaffIn, StaffOut, UserIn
from server.db.models import StaffProfile, User
from server.db.models.base import id_of
from server.db.uow import orm
from server.errors import not_found
from server.permissions import Action
from server.privacy import mask_id
from server.roles import Role
from server.rules.staff import pharmacist_refusals
from server.services.context import Ctx
from server.services.store import users

router = APIRouter(prefix="/users", tags=["users"])


def _user_out(user: User, roles: frozenset[Role]) -> UserOut:
    return UserOut(id=id_of(user), username=user.username, display_name=user.display_name, status=user.status,
                   roles=sorted(roles))


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
    return [_user_out(u, r) for u, r in users.list_users(s, ctx)]


@router.post("", response_model=UserOut, status_code=201, **guarded(Action.USER_WRITE))
def add_user(body: UserIn, request: Request, ctx: CtxDep) -> UserOut:
    with unit_of_work(request) as u:
        user = users.add_user(u, ctx, body.username, body.display_name, body.pin, set(body.roles))
        return _user_out(user, users.active_roles(orm(u), id_of(user)))


@router.post("/{user_id}/freeze", response_model=UserOut, **guarded(Action.USER_FREEZE))
def freeze_user(user_id: RowId, body: ReasonIn, request: Request, ctx: CtxDep) -> UserOut:
    with unit_of_work(request) as u:
        user = users.freeze_user(u, ctx, user_id, body.reason)
        return _user_out(user, users.active_roles(orm(u), id_of(user)))


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
