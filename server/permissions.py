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
    USER_WRITE = "user.write"  # create an account (no PIN: its owner sets it), request and transfer posts
    USER_FREEZE = "user.freeze"  # freeze an account, revoke a post: rights only ever taken away (SEC-03)
    GRANT_APPROVE = "user.approve"  # approve or refuse a post request; hand a new account's one-time code over
    BACKUP_DRILL = "backup.drill"  # restore a backup into a new database and record the drill (SEC-05)
    # staff records (STAFF-01/02)
    STAFF_WRITE = "staff.write"
    # catalog upkeep
    CATALOG_WRITE = "catalog.write"
    MAPPING_WRITE = "mapping.write"  # 医保 code and category (CARD-07: audited)
    ZONE_WRITE = "zone.write"
    SUPPLIER_WRITE = "supplier.write"
    LABEL_PRINT = "label.print"  # shelf labels (价签) printed from the catalog, recorded as printed (GSP-04)
    # stock
    BATCH_WRITE = "batch.write"
    BATCH_STOP = "batch.stop"  # quality stop / release (GSP-06)
    RECEIPT_WRITE = "receipt.write"  # enter a delivery (采购入库单) or count the first inventory
    RECEIPT_INSPECT = "receipt.inspect"  # 验收: the named inspector's verdict per line (GSP-05)
    STOCK_COUNT = "stock.count"  # 盘点: make a count sheet, type or scan counts, submit it (posted under BATCH_WRITE)
    STOCK_LOSS = "stock.loss"  # 报损, 过期报损, 销毁 (two witnesses), recalled stock returned
    STOCK_UPKEEP = "stock.upkeep"  # 养护: the monthly upkeep inspection of a zone (GSP-06)
    TRANSFER_SEND = "stock.transfer"  # 调拨出库: send stock to another store of the chain (received under RECEIPT_INSPECT)
    # selling
    SELL = "sale.sell"  # open a sale, scan, suspend, resume, take payment
    SALE_READ = "sale.read"
    SALE_VOID = "sale.void"  # void a sale before completion (special operation)
    SALE_RETURN = "sale.return"  # returns and refunds (special operation, SEC-01)
    SALE_CHECK = "sale.check"  # the second person of a refund, a void or a reversal, with their PIN (SEC-01)
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
    UPLOADS_WRITE = "uploads.write"  # 3501–3507 outbox: retry, correct a rejected row, replay (audited, ST-06)
    # devices and printing
    DEVICE_READ = "device.read"  # device states, the print queue
    PRINT = "print.operate"  # reprint a receipt or a Z report, retry a waiting print job (audited)
    DEVICE_DEMO = "device.demo"  # drive the simulated scanner / printer (the demo without hardware)
    # the month end (issue #20): reports derived from the ledger, handed in by the manager and the 医保 administrator
    REPORT_READ = "report.read"  # the 进销存 and its exports, the card and 外配处方 statements (identity numbers masked)
    REPORT_AGENCY_EXPORT = "report.agency"  # ST-03: the card statement for the agency, identity numbers whole (audited)
    RECEIVABLE_READ = "receivable.read"  # declarations, payments, write-offs, the reserve per year (ST-05, ST-07)
    RECEIVABLE_WRITE = "receivable.write"  # declare a period; record payments, write-offs, the year-end assessment
    CALENDAR_WRITE = "calendar.write"  # the working-day calendar: public holidays and 调休 working days (ST-05)
    SUBMISSION_WRITE = "submission.write"  # a report handed in: its file, submitted, the agency's verdict (ST-04)
    ATTEST = "checklist.attest"  # confirm what no data proves (CHECK 13, 26) and record training held (STAFF-02)
    # the reconciliation with the centre (ST-07)
    RECONCILE_READ = "recon.read"  # by day and month, per settlement, what keeps a month open
    RECONCILE = "recon.run"  # 3201/3202 for a day or a month; the 2601 repair (a second person checks it)
    RECONCILE_ACK = "recon.ack"  # acknowledge a 不平 day × group with a note (a write-off, audited)
    PERIOD_CLOSE = "period.close"  # 月结: close a month (snapshot and lock; never reopened, ST-01/ST-02)
    INSPECTION_EXPORT = "inspection.read"  # ST-08: the inspection archive (a read of the records), identity numbers masked (audited)
    INSPECTION_AGENCY = "inspection.agency"  # ST-08: the archive for the agency, identity numbers in full (audited)


_READ_ALL = {Action.CATALOG_READ, Action.STORE_READ, Action.STAFF_READ, Action.STOCK_READ, Action.SALE_READ,
             Action.DEVICE_READ, Action.INSURANCE_READ, Action.RX_READ}
_TILL_DEVICES = {Action.DEVICE_READ, Action.PRINT, Action.DEVICE_DEMO}
_TILL_INSURANCE = {Action.INSURANCE_READ, Action.INSURANCE_SESSION}  # the operators who settle sign in

# SEC-01 says managers query and do not change. Each write the 店长 keeps is an approval, a sign-off or an
# attestation the person in charge answers for, never an operation of the counter: the reason is beside it.
# A test holds the table to this list, so a write given to the manager without a reason fails CI.
MANAGER_WRITES: dict[Action, str] = {
    Action.SALE_CHECK: "approval: the second person of a refund, a void or a reversal (SEC-01 mutually checked)",
    Action.GRANT_APPROVE: "approval: a post request is approved by someone other than grantee and requester (SEC-01)",
    Action.USER_FREEZE: "SEC-03: the person in charge knows who leaves or moves; freezing and revoking only take "
                        "rights away",
    Action.STAFF_WRITE: "attestation: contracts, qualifications and certificates on the staff record are the person "
                        "in charge's to answer for (STAFF-01/02)",
    Action.STORE_WRITE: "attestation: the store's licences and its person in charge (AGR-01/03)",
    Action.CATALOG_WRITE: "approval: a first-time item (首营品种) is approved by the person in charge (GSP)",
    Action.SUPPLIER_WRITE: "approval: a first-time supplier (首营企业) is approved by the person in charge (GSP)",
    Action.ZONE_WRITE: "sign-off: the store's display areas and what each admits (GSP-02)",
    Action.BATCH_STOP: "approval: a quality stop is lifted on the person in charge's review (GSP-06); a stop only "
                       "keeps a batch from sale",
    Action.BATCH_WRITE: "count sign-off: receiving and stock counts are signed off by the person in charge (GSP-05: "
                        "the approver of a receipt is not its inspector)",
    Action.TRANSFER_SEND: "approval: stock leaves for another store of the chain (调拨出库) on the person in charge's "
                          "word; the other store's inspector receives it (GSP-05)",
    Action.STOCK_COUNT: "count: the person in charge counts beside the staff (盘点); a sheet they counted is posted "
                        "by another person (SEC-01)",
    Action.REGISTRY_WRITE: "approval: whose prescriptions the store accepts (the designated institutions, RX-02)",
    Action.SUBMISSION_WRITE: "sign-off: the person in charge hands in the monthly reports the store answers for "
                             "(ST-04); a submitted file is never replaced",
    Action.PRINT: "a reprint of a receipt or a Z report (audited); prints nothing new",
    Action.DEVICE_DEMO: "the demo's simulated devices only (answers 409 on real ones)",
    Action.ATTEST: "attestation: the written systems, the sign, the network and the training held are the person "
                   "in charge's to confirm (CHECK 13, 16, 26)",
    Action.BACKUP_DRILL: "attestation: the restore drill the agency's checklist asks for (SEC-05) is the person in "
                         "charge's to answer for; it restores into a new database and changes nothing of the store's",
    Action.PERIOD_CLOSE: "sign-off: the person in charge closes the month's books (月结, ST-01); it only locks and "
                         "snapshots what the ledger holds",
}

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.CASHIER: frozenset({Action.CATALOG_READ, Action.STOCK_READ, Action.STORE_READ, Action.SELL,
                             Action.SALE_READ, Action.SHIFT, Action.RX_READ, Action.RX_ENTER}
                            | _TILL_DEVICES | _TILL_INSURANCE),
    # The pharmacist is the shift's supervisor: voids and returns are theirs, and they check another's.
    Role.PHARMACIST: frozenset({Action.CATALOG_READ, Action.STOCK_READ, Action.STORE_READ, Action.SELL,
                                Action.SALE_READ, Action.SHIFT, Action.SALE_VOID, Action.SALE_RETURN,
                                Action.SALE_CHECK, Action.DUTY, Action.BATCH_STOP, Action.RX_READ, Action.RX_ENTER,
                                Action.RX_REVIEW, Action.RECEIPT_WRITE, Action.RECEIPT_INSPECT, Action.STOCK_COUNT,
                                Action.STOCK_LOSS, Action.STOCK_UPKEEP, Action.LABEL_PRINT}
                               | _TILL_DEVICES | _TILL_INSURANCE),
    Role.INSURANCE_ADMIN: frozenset(_READ_ALL | {Action.AGREEMENT_WRITE, Action.MAPPING_WRITE, Action.AUDIT_READ,
                                                 Action.INSURANCE_SESSION, Action.REGISTRY_WRITE,
                                                 Action.REPORT_READ, Action.RECONCILE_READ, Action.RECONCILE,
                                                 Action.RECONCILE_ACK, Action.INSPECTION_EXPORT,
                                                 Action.INSPECTION_AGENCY, Action.RECEIVABLE_READ,
                                                 Action.RECEIVABLE_WRITE, Action.CALENDAR_WRITE,
                                                 Action.SUBMISSION_WRITE, Action.REPORT_AGENCY_EXPORT, Action.UPLOADS_WRITE,
                                                 Action.LABEL_PRINT}),
    # 店长 (SEC-01: managers query): reads everything; writes only where MANAGER_WRITES gives the reason.
    Role.MANAGER: frozenset(_READ_ALL | {Action.AUDIT_READ, Action.REPORT_READ, Action.RECONCILE_READ,
                                         Action.INSPECTION_EXPORT, Action.RECEIVABLE_READ}
                            | set(MANAGER_WRITES)),
    # 系统管理员: accounts and tills, the audit log; never sells, refunds, reviews or settles (SEC-02).
    Role.SYSADMIN: frozenset({Action.STORE_READ, Action.STAFF_READ, Action.AUDIT_READ, Action.TILL_WRITE,
                              Action.USER_WRITE, Action.USER_FREEZE, Action.DEVICE_READ, Action.BACKUP_DRILL}),
}

# SEC-02: actions a maintainer's account may never hold, whatever the table above says.
BUSINESS_OPERATIONS: frozenset[Action] = frozenset(
    {Action.SELL, Action.SALE_VOID, Action.SALE_RETURN, Action.SHIFT, Action.DUTY, Action.INSURANCE_SESSION,
     Action.RX_ENTER, Action.RX_REVIEW, Action.SALE_CHECK})


def allowed(roles: frozenset[Role] | set[Role], action: Action) -> bool:
    if Role.SYSADMIN in roles and action in BUSINESS_OPERATIONS:
        return False
    return any(action in PERMISSIONS[r] for r in roles)


# --- authorisation in place: another post's holder types their username and PIN at this till ----------------

# The actions a till may have authorised in place by someone else (a review, a void, a return, a pharmacist's
# duty), each in the till's words: the authoriser performs the action at the logged-in person's till.
IN_PLACE: dict[Action, str] = {
    Action.RX_REVIEW: "审核处方",
    Action.SALE_VOID: "作废销售",
    Action.SALE_RETURN: "办理退货",
    Action.DUTY: "登记药师在岗/离岗",
}

# The actions whose request may need a second person's check (SEC-01 voids and refunds above the store's amount
# or on a later day, CARD-04 a later-day reversal, RX-01/CARD-07 a loosened item, AGR-01 the agency's decision):
# the second person types their username and PIN at the till (POST /auth/authorise with `second`), and the
# request carries the grant (header X-Second), never their PIN. Their right is judged by the rule at the use.
SECOND_PERSON: dict[Action, str] = {
    Action.SALE_VOID: "复核作废",
    Action.SALE_RETURN: "复核退货或撤销医保结算",
    Action.CATALOG_WRITE: "批准放宽商品管控",
    Action.MAPPING_WRITE: "确认医保对照",
    Action.AGREEMENT_WRITE: "确认医保协议变更",
    Action.RECONCILE: "复核对账冲正（2601）",
}


def who_may(action: Action) -> list[Role]:
    """The posts whose holders may do `action` (a maintainer never holds a business operation)."""
    return [r for r in Role if allowed(frozenset({r}), action)]


def who_may_zh(action: Action) -> str:
    """"药师" / "药师或店长": the posts that may, as the till says them."""
    return "或".join(r.label for r in who_may(action)) or "（无）"


def actions_of(roles: frozenset[Role] | set[Role]) -> list[str]:
    """Every action the posts allow, for the till to know its rights up front."""
    return sorted(a.value for a in Action if allowed(roles, a))
