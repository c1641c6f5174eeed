"""The transactions' inputs and outputs as typed records (reference §1.4, §1.5, §2, §3, §5.1).

Field names are the spec's (lower-case, as on the wire); money is integer fen in a field named
`<wire>_fen` (see codec). Records the pharmacy sends are strict; records it reads keep `extra`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from catalog.classes import InsuranceCategory
from server.insurance.dicts import MED_TYPE_PHARMACY, MdtrtCertType, chrgitm_lv_category

# --- what every answer carries ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """The answer's envelope: which message it answers and what the centre called it."""

    infno: str
    msgid: str  # ours (发送方报文ID); for 2102 it is also setlinfo.medins_setl_id
    inf_refmsgid: str = ""  # the centre's (接收方报文ID)
    refmsg_time: str = ""
    respond_time: str = ""
    warn_msg: str = ""
    output: dict[str, Any] = field(default_factory=dict)  # the whole output node, as received


# --- 9001 / 9002 sign-in and sign-out ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignInInput:  # node signIn
    opter_no: str
    mac: str
    ip: str


@dataclass(frozen=True, kw_only=True)
class SignInOutb:  # node signinoutb
    sign_time: str = ""
    sign_no: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SignInResult:
    sign_no: str
    sign_time: str
    receipt: Receipt


@dataclass(frozen=True, kw_only=True)
class SignOutInput:  # node signOut
    sign_no: str
    opter_no: str


@dataclass(frozen=True, kw_only=True)
class SignOutResult:
    sign_time: str
    receipt: Receipt


# --- 1101 person info ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PersonQuery:  # node data
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    card_sn: str = ""
    begntime: datetime | None = None
    psn_cert_type: str = ""
    certno: str = ""
    psn_name: str = ""

    @classmethod
    def by_card(cls, card_no: str, card_sn: str, **more: Any) -> PersonQuery:
        """社会保障卡: the card number and the card identification code (卡识别码, required for 03)."""
        return cls(mdtrt_cert_type=MdtrtCertType.SSCARD.value, mdtrt_cert_no=card_no, card_sn=card_sn, **more)

    @classmethod
    def by_ec_token(cls, token: str, **more: Any) -> PersonQuery:
        """医保电子凭证: the token scanned from the person's QR."""
        return cls(mdtrt_cert_type=MdtrtCertType.EC_TOKEN.value, mdtrt_cert_no=token, **more)

    @classmethod
    def by_id_number(cls, certno: str, psn_name: str = "", **more: Any) -> PersonQuery:
        """居民身份证 typed at the counter (the caller records why)."""
        return cls(mdtrt_cert_type=MdtrtCertType.ID_CARD.value, mdtrt_cert_no=certno, psn_cert_type="01",
                   certno=certno, psn_name=psn_name, **more)


@dataclass(frozen=True, kw_only=True)
class BaseInfo:
    psn_no: str = ""
    psn_cert_type: str = ""
    certno: str = ""
    psn_name: str = ""
    gend: str = ""
    naty: str = ""
    brdy: str = ""
    age: Decimal = Decimal(0)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class InsuInfo:
    balc_fen: int = 0  # personal-account (个人账户) balance
    insutype: str = ""
    psn_type: str = ""
    psn_insu_stas: str = ""
    psn_insu_date: str = ""
    paus_insu_date: str = ""
    cvlserv_flag: str = ""
    insuplc_admdvs: str = ""
    emp_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class IdetInfo:
    psn_idet_type: str = ""
    psn_type_lv: str = ""
    memo: str = ""
    begntime: str = ""
    endtime: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PersonInfo:
    baseinfo: BaseInfo
    insuinfo: list[InsuInfo]
    idetinfo: list[IdetInfo]
    receipt: Receipt

    def insurance(self, insutype: str) -> InsuInfo | None:
        return next((row for row in self.insuinfo if row.insutype == insutype), None)


# --- 2101 / 2102 pre-settle and settle -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DrugInfo:  # node druginfo
    psn_no: str
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    psn_cert_type: str
    certno: str
    psn_type: str
    psn_name: str
    begntime: datetime  # 购药时间, store-local
    medfee_sumamt_fen: int
    insutype: str
    acct_used_flag: str  # "1": the personal account pays what it may; "0": it pays nothing
    card_sn: str = ""
    invono: str = ""
    dise_codg: str = ""
    dise_name: str = ""
    med_type: str = MED_TYPE_PHARMACY


@dataclass(frozen=True, kw_only=True)
class DrugDetail:  # node drugdetail, one per sold line (CARD-01: exactly the sale's lines)
    feedetl_sn: str
    fee_ocur_time: datetime
    med_list_codg: str  # the national 医保 code
    medins_list_codg: str  # the store's own item code
    det_item_fee_sumamt_fen: int
    cnt: Decimal
    pric_fen: int
    rx_circ_flag: str = "0"
    rxno: str = ""
    sin_dos_dscr: str = ""
    used_frqu_dscr: str = ""
    prd_days: Decimal = Decimal(0)
    medc_way_dscr: str = ""
    bilg_dr_codg: str = ""
    bilg_dr_name: str = ""
    tcmdrug_used_way: str = ""


@dataclass(frozen=True, kw_only=True)
class DrugTracInfo:  # node drug_trac_info, one per trace code scanned into a settled line (reference §8)
    feedetl_sn: str  # the drugdetail row the box was sold in
    drug_trac_codg: str  # 药品追溯码: 20 digits, the first 8
    trdn_flag: str  # 拆零标志: "1" when the line sells pieces of the opened box, whose one code it carries
    min_prcunt_type: str  # how the line is priced: by the package or by the piece (dicts.MIN_PRCUNT_*)


@dataclass(frozen=True, kw_only=True)
class SettleRequest:
    druginfo: DrugInfo
    drugdetail: list[DrugDetail]
    # The boxes' codes go with the settlement itself, not only later in 3505 ("无码不结算"); a purchase
    # without traced drugs sends no node, as the settlement-side implementations do.
    drug_trac_info: list[DrugTracInfo] = field(default_factory=list)

    def input(self) -> dict[str, Any]:
        from server.insurance.codec import to_wire

        doc = {"druginfo": to_wire(self.druginfo), "drugdetail": [to_wire(d) for d in self.drugdetail]}
        if self.drug_trac_info:
            doc["drug_trac_info"] = [to_wire(t) for t in self.drug_trac_info]
        return doc


@dataclass(frozen=True, kw_only=True)
class SetlInfo:
    setl_id: str = ""
    mdtrt_id: str = ""
    psn_no: str = ""
    psn_name: str = ""
    psn_cert_type: str = ""
    certno: str = ""
    gend: str = ""
    naty: str = ""
    brdy: str = ""
    age: Decimal = Decimal(0)
    insutype: str = ""
    psn_type: str = ""
    cvlserv_flag: str = ""
    setl_time: str = ""
    mdtrt_cert_type: str = ""
    med_type: str = ""
    medfee_sumamt_fen: int = 0
    fulamt_ownpay_amt_fen: int = 0
    overlmt_selfpay_fen: int = 0
    preselfpay_amt_fen: int = 0
    inscp_scp_amt_fen: int = 0
    act_pay_dedc_fen: int = 0
    hifp_pay_fen: int = 0
    pool_prop_selfpay: Decimal = Decimal(0)
    cvlserv_pay_fen: int = 0
    hifes_pay_fen: int = 0
    hifmi_pay_fen: int = 0
    hifob_pay_fen: int = 0
    maf_pay_fen: int = 0
    oth_pay_fen: int = 0
    fund_pay_sumamt_fen: int = 0
    psn_part_amt_fen: int = 0  # 2101/2102 name
    psn_pay_fen: int = 0  # 2103 name for the same thing
    acct_pay_fen: int = 0
    psn_cash_pay_fen: int = 0  # 2101/2102 name
    cash_payamt_fen: int = 0  # 2103 name for the same thing
    balc_fen: int = 0  # the personal account's balance after this settlement
    acct_mulaid_pay_fen: int = 0
    medins_setl_id: str = ""
    clr_optins: str = ""
    clr_way: str = ""
    clr_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def person_part_fen(self) -> int:
        """个人负担: psn_part_amt (2101/2102) or psn_pay (2103)."""
        return self.psn_part_amt_fen or self.psn_pay_fen

    @property
    def cash_fen(self) -> int:
        """个人现金: psn_cash_pay (2101/2102) or cash_payamt (2103)."""
        return self.psn_cash_pay_fen or self.cash_payamt_fen


@dataclass(frozen=True, kw_only=True)
class SetlDetail:
    fund_pay_type: str = ""
    inscp_scp_amt_fen: int = 0
    crt_payb_lmt_amt_fen: int = 0
    fund_payamt_fen: int = 0
    fund_pay_type_name: str = ""
    setl_proc_info: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DetlCutInfo:
    feedetl_sn: str = ""
    det_item_fee_sumamt_fen: int = 0
    cnt: Decimal = Decimal(0)
    pric: Decimal = Decimal(0)
    pric_uplmt_amt_fen: int = 0
    selfpay_prop: Decimal = Decimal(0)
    fulamt_ownpay_amt_fen: int = 0
    overlmt_amt_fen: int = 0
    preselfpay_amt_fen: int = 0
    inscp_scp_amt_fen: int = 0
    chrgitm_lv: str = ""  # as received: 01/1 甲, 02/2 乙, 03/3 丙 (provinces disagree)
    med_chrgitm_type: str = ""
    bas_medn_flag: str = ""
    hi_nego_drug_flag: str = ""
    chld_medc_flag: str = ""
    list_sp_item_flag: str = ""
    drt_reim_flag: str = ""
    memo: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> InsuranceCategory:
        return chrgitm_lv_category(self.chrgitm_lv)


@dataclass(frozen=True, kw_only=True)
class Shares:
    """Who pays what of a settlement, in whole fen, as the store books it.

    Each amount is the centre's rounded half up to the fen — the total, the fund, the card's part (fund and
    account together) — and the account's part is the card's less the fund's, the person's cash the total less
    the card's. So the parts always add up to the total, also when the centre answered with a third place and
    rounding each part on its own would not (4.895 + 2.105 = 7.000: 4.90 + 2.11 ≠ 7.00): a good settlement is
    never taken back for half a fen."""

    medfee_fen: int
    fund_fen: int
    acct_fen: int
    cash_fen: int
    balc_fen: int  # the personal account's balance after

    @property
    def card_fen(self) -> int:
        """What the card pays: the insurance tender."""
        return self.fund_fen + self.acct_fen


@dataclass(frozen=True, kw_only=True)
class Settlement:
    """The answer of 2101, 2102 and 2103."""

    setlinfo: SetlInfo
    setldetail: list[SetlDetail]
    detlcutinfo: list[DetlCutInfo]
    receipt: Receipt

    def shares(self) -> Shares:
        """The split as booked (see Shares), from setlinfo as received (the fen fields when nothing was)."""
        from server.insurance.codec import node
        from server.insurance.wire import round_fen, to_decimal

        raw = node(self.receipt.output.get("setlinfo"))
        if not raw:
            info = self.setlinfo
            return Shares(medfee_fen=info.medfee_sumamt_fen, fund_fen=info.fund_pay_sumamt_fen,
                          acct_fen=info.acct_pay_fen, cash_fen=info.medfee_sumamt_fen - info.fund_pay_sumamt_fen
                          - info.acct_pay_fen, balc_fen=info.balc_fen)

        def exact(key: str) -> Decimal:
            return to_decimal(raw.get(key), key) * 100

        medfee, fund = round_fen(exact("medfee_sumamt")), round_fen(exact("fund_pay_sumamt"))
        card = round_fen(exact("fund_pay_sumamt") + exact("acct_pay"))
        return Shares(medfee_fen=medfee, fund_fen=fund, acct_fen=card - fund, cash_fen=medfee - card,
                      balc_fen=round_fen(exact("balc")))

    def parts_exact(self) -> tuple[Decimal, Decimal]:
        """(the total, the sum of its parts: fund + account + the person's cash), in yuan as the centre wrote them."""
        from server.insurance.codec import node
        from server.insurance.wire import fen_to_amount, to_decimal

        raw = node(self.receipt.output.get("setlinfo"))
        if not raw:
            info = self.setlinfo
            return (fen_to_amount(info.medfee_sumamt_fen),
                    fen_to_amount(info.fund_pay_sumamt_fen + info.acct_pay_fen + info.cash_fen))
        cash = raw.get("psn_cash_pay", raw.get("cash_payamt"))
        return (to_decimal(raw.get("medfee_sumamt"), "medfee_sumamt"),
                to_decimal(raw.get("fund_pay_sumamt"), "fund_pay_sumamt") + to_decimal(raw.get("acct_pay"), "acct_pay")
                + to_decimal(cash, "psn_cash_pay"))


# --- 2103 cancel, 2601 reversal --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CancelRequest:  # node data
    setl_id: str
    mdtrt_id: str
    psn_no: str


@dataclass(frozen=True, kw_only=True)
class ReversalRequest:  # node data
    psn_no: str
    omsgid: str  # the msgid of the message being reversed
    oinfno: str  # its infno: 2102 or 2103


@dataclass(frozen=True, kw_only=True)
class ReversalResult:
    receipt: Receipt


# --- 3201 reconciliation ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReconRequest:  # node data
    insutype: str
    setl_optins: str
    stmt_begndate: date
    stmt_enddate: date
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    acct_pay_fen: int
    fixmedins_setl_cnt: int
    clr_type: str = "41"
    refd_setl_flag: str = ""  # ""/"1": totals include refunds; "0": they do not


@dataclass(frozen=True, kw_only=True)
class StmtInfo:
    setl_optins: str = ""
    stmt_rslt: str = ""  # 0 平, 1 不平
    stmt_rslt_dscr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Reconciliation:
    stmtinfo: StmtInfo
    receipt: Receipt

    @property
    def balanced(self) -> bool:
        return self.stmtinfo.stmt_rslt.strip() == "0"


# --- 9101 / 9102 files and 3202 detail reconciliation (reference §1.6, §5.2) ----------------------------


@dataclass(frozen=True, kw_only=True)
class FileInfo:
    """9101's answer (file_qury_no to quote in 3202) and 3202's node fileinfo (the result file to fetch by 9102)."""

    file_qury_no: str = ""
    filename: str = ""
    fixmedins_code: str = ""
    dld_endtime: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ReconDetailRequest:  # 3202 node data
    setl_optins: str
    file_qury_no: str
    stmt_begndate: date
    stmt_enddate: date
    medfee_sumamt_fen: int
    fund_pay_sumamt_fen: int
    cash_payamt_fen: int
    fixmedins_setl_cnt: int
    clr_type: str = "41"
    refd_setl_flag: str = ""
