"""Posts (岗位) a user can hold. Least privilege by post (SEC-01); maintainers never operate (SEC-02)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CASHIER = "cashier"  # 营业员
    PHARMACIST = "pharmacist"  # 药师 (with 执业资格证号)
    INSURANCE_ADMIN = "insurance_admin"  # 医保管理员
    MANAGER = "manager"  # 店长: reads everything, changes little
    SYSADMIN = "sysadmin"  # 系统管理员: maintains the system, never sells (SEC-02)

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.CASHIER: "营业员",
    Role.PHARMACIST: "药师",
    Role.INSURANCE_ADMIN: "医保管理员",
    Role.MANAGER: "店长",
    Role.SYSADMIN: "系统管理员",
}

# SEC-02: a maintainer's account can never sell, refund, review or settle, so it holds no other post.
OPERATIONAL_ROLES: frozenset[Role] = frozenset(
    {Role.CASHIER, Role.PHARMACIST, Role.INSURANCE_ADMIN, Role.MANAGER}
)
