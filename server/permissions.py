"""The declared permission table: which post may do what (SEC-01, SEC-02).

Routers name the action they perform; the table decides. A test walks every route × every role
against this table, so a route without an action, or a role holding what it must not, fails CI.
"""

from __future__ import annotations

from enum import StrEnum

from server.roles import Role


class Action(StrEnum):
    # reading
    CATALOG_READ = "catalog.read"
    STORE_READ = "store.read"
    STAFF_READ = "staff.read"
    AUDIT_READ = "audit.read"
    STOCK_READ = "stock.read"
    # the store profile and its 医保协议 (AGR-01/03)
    STORE_WRITE = "store.write"
    AGREEMENT_WRITE = "agreement.write"
    # system maintenance (SEC-02: the maintainer's work)
    TILL_WRITE = "till.write"
    USER_WRITE = "user.write"
    USER_FREEZE = "user.freeze"
    # staff records (STAFF-01/02)
    STAFF_WRITE = "staff.write"
    # catalog upkeep
    CATALOG_WRITE = "catalog.write"
    MAPPING_WRITE = "mapping.write"  # 医保 code and category (CARD-07: audited)
    ZONE_WRITE = "zone.write"
    SUPPLIER_WRITE = "supplier.write"
    # stock
    BATCH_WRITE = "batch.write"
    BATCH_STOP = "batch.stop"  # quality stop / release (GSP-06)
    # selling
    SELL = "sale.sell"  # open a sale, scan, suspend, resume, take payment
    SALE_READ = "sale.read"
    SALE_VOID = "sale.void"  # void a sale before completion (special operation)
    SALE_RETURN = "sale.return"  # returns and refunds (special operation, SEC-01)
    SHIFT = "shift.operate"  # open and close the till's shift
    DUTY = "duty.pharmacist"  # go on / off duty as the shift's pharmacist (RX-10)
    # prescriptions (RX-01..RX-11)
    RX_READ = "rx.read"  # find and print prescriptions and reviews (the inspector's questions)
    RX_ENTER = "rx.enter"  # enter or import a prescription, attach its scan, tie it to a sale
    RX_REVIEW = "rx.review"  # the pharmacist's review (审方): approve, reject with a reason, refer
    REGISTRY_WRITE = "registry.write"  # the registry of designated institutions and their doctors
    # the insurance centre link
    INSURANCE_READ = "insurance.read"  # today's sign-in state
    INSURANCE_SESSION = "insurance.session"  # 9001 sign in / 9002 sign out as the operator who settles
    # devices and printing
    DEVICE_READ = "device.read"  # device states, the print queue
    PRINT = "print.operate"  # reprint a receipt or a Z report, retry a waiting print job (audited)
    DEVICE_DEMO = "device.demo"  # drive the simulated scanner / printer (the demo without hardware)


_READ_ALL = {Action.CATALOG_READ, Action.STORE_READ, Action.STAFF_READ, Action.STOCK_READ, Action.SALE_READ,
             Action.DEVICE_READ, Action.INSURANCE_READ, Action.RX_READ}
_TILL_DEVICES = {Action.DEVICE_READ, Action.PRINT, Action.DEVICE_DEMO}
_TILL_INSURANCE = {Action.INSURANCE_READ, Action.INSURANCE_SESSION}  # the operators who settle sign in

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.CASHIER: frozenset({Action.CATALOG_READ, Action.STOCK_READ, Action.STORE_READ, Action.SELL,
                             Action.SALE_READ, Action.SHIFT, Action.RX_READ, Action.RX_ENTER}
                            | _TILL_DEVICES | _TILL_INSURANCE),
    # The pharmacist is the shift's supervisor: voids and returns need one (SEC-01: mutually checked).
    Role.PHARMACIST: frozenset({Action.CATALOG_READ, Action.STOCK_READ, Action.STORE_READ, Action.SELL,
                                Action.SALE_READ, Action.SHIFT, Action.SALE_VOID, Action.SALE_RETURN, Action.DUTY,
                                Action.BATCH_STOP, Action.RX_READ, Action.RX_ENTER, Action.RX_REVIEW}
                               | _TILL_DEVICES | _TILL_INSURANCE),
    Role.INSURANCE_ADMIN: frozenset(_READ_ALL | {Action.AGREEMENT_WRITE, Action.MAPPING_WRITE, Action.AUDIT_READ,
                                                 Action.INSURANCE_SESSION, Action.REGISTRY_WRITE}),
    # 店长: reads everything; changes the catalog, stock, staff records and freezes leavers.
    Role.MANAGER: frozenset(_READ_ALL | {Action.AUDIT_READ, Action.SALE_READ, Action.SALE_VOID, Action.SALE_RETURN,
                                         Action.STORE_WRITE, Action.STAFF_WRITE,
                                         Action.USER_FREEZE, Action.CATALOG_WRITE, Action.ZONE_WRITE,
                                         Action.SUPPLIER_WRITE, Action.BATCH_WRITE, Action.BATCH_STOP,
                                         Action.PRINT, Action.DEVICE_DEMO, Action.REGISTRY_WRITE}),
    # 系统管理员: accounts and tills, the audit log; never sells, refunds, reviews or settles (SEC-02).
    Role.SYSADMIN: frozenset({Action.STORE_READ, Action.STAFF_READ, Action.AUDIT_READ, Action.TILL_WRITE,
                              Action.USER_WRITE, Action.USER_FREEZE, Action.DEVICE_READ}),
}

# SEC-02: actions a maintainer's account may never hold, whatever the table above says.
BUSINESS_OPERATIONS: frozenset[Action] = frozenset(
    {Action.SELL, Action.SALE_VOID, Action.SALE_RETURN, Action.SHIFT, Action.DUTY, Action.INSURANCE_SESSION,
     Action.RX_ENTER, Action.RX_REVIEW})


def allowed(roles: frozenset[Role] | set[Role], action: Action) -> bool:
    if Role.SYSADMIN in roles and action in BUSINESS_OPERATIONS:
        return False
    return any(action in PERMISSIONS[r] for r in roles)
