"""The rule register: every rule of the domain's rules.md (../shared/domain/rules.md beside the repository),
as data — its ID, a short title in Chinese and English, and its source in the seeds (the table's last column,
verbatim). rules.md says what each rule asks; this says which rules there are, so the repository carries them.

Code that refuses names one of these IDs, in its error code or docstring: tests/server/test_rule_register.py
fails on an ID cited in the code that is not here, and (where rules.md is at hand) on a register that differs
from rules.md. A test that shows a rule refusing carries `@pytest.mark.refuses("<ID>")`; `make rules` lists
them rule by rule. `dingdian rules` prints this register.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# The rule families, in rules.md's order.
FAMILIES: tuple[str, ...] = ("AGR", "RX", "CARD", "GSP", "STAFF", "ST", "SEC")
RULE_ID = re.compile(rf"^(?:{'|'.join(FAMILIES)})-[0-9]{{2}}$")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title_zh: str
    title_en: str
    source: str  # where the seeds say it, as rules.md cites it

    @property
    def family(self) -> str:
        return self.id.split("-", 1)[0]


_ALL = (
    # AGR — the designation and the agreement
    Rule("AGR-01", "医保协议有效、许可证有效方可刷卡结算",
         "Card settlement only while the agreement is active and the licence valid",
         "004 管理制度8 第三十九条、第四十条、第四十条(十一); 001 篇五 第十七条"),
    Rule("AGR-02", "只结算本店在本场地、本店收款机上的销售",
         "Settle only this store's own sales, at its own site, on its own tills",
         "004 管理制度8 第四十条(六)(七)"),
    Rule("AGR-03", "协议期限、变更、中止与年检按时办理",
         "Agreement deadlines tracked: changes, renewal, suspensions, annual inspection",
         "004 管理制度8 第九条、第三十七–四十一条; 004 管理制度3 第七条、第十四–十五条; 001 篇三 第十三、十五条"),
    # RX — prescriptions
    Rule("RX-01", "处方药凭处方、经药师审核签字后销售",
         "Prescription drugs only against a prescription a pharmacist reviewed and signed",
         "004 管理制度7 四; 004 管理制度8 第十六条"),
    Rule("RX-02", "外配处方来自定点医疗机构，签名盖章、内容完整",
         "An 外配处方 comes from a designated institution, signed, sealed and complete",
         "004 管理制度8 第十六条; 004 管理制度3 第八条; 001 篇一 C 5, D 八 2; 000 范文(一)(二)1"),
    Rule("RX-03", "处方使用人与参保人员身份一致",
         "The prescription's patient is the insured person whose card pays",
         "004 管理制度8 第二十一条; 001 篇五 第五条"),
    Rule("RX-04", "按处方调配：不替换、不超量、不重复调配",
         "Dispense exactly what is prescribed: no substitution, no excess, no second fill",
         "004 管理制度3 第九条; 001 篇五 第十一条(三)、第十三条"),
    Rule("RX-05", "不得无正当理由拒绝外配处方，不能调配时转介",
         "A valid 外配处方 is refused only for a listed reason; a referral names the pharmacy",
         "001 篇五 第六、七、八条"),
    Rule("RX-06", "处方限量：用药天数、同类药品、注射剂",
         "Prescriber limits: days' supply, same-class drugs, injections",
         "000 城乡医保管理制度 四; 003 篇5 四 (= 004 管理制度9 四)"),
    Rule("RX-07", "不得使用过期、超前、转抄或分解处方",
         "No expired, post-dated, copied or split prescriptions",
         "000 电子版 四; national rule"),
    Rule("RX-08", "外配处方、购药清单、收据存根至少保存两年",
         "Prescriptions, purchase lists and receipt stubs kept at least 2 years",
         "004 管理制度8 第二十二条; 004 管理制度3 第八条; 001 篇五 第九条"),
    Rule("RX-09", "外配处方单独建帐、按月统计",
         "Out-of-hospital prescriptions (外配处方) on their own account, with a monthly statement",
         "004 管理制度3 第十条"),
    Rule("RX-10", "营业时间内至少一名药师在岗，处方销售须在岗药师签字",
         "A pharmacist on duty whenever the store sells; an Rx sale needs their sign-off",
         "004 管理制度3 第五条(五)(七)"),
    Rule("RX-11", "代购登记购药人与参保人员的身份证件",
         "A proxy purchase records both the buyer's and the insured person's identity",
         "004 管理制度8 第二十一条"),
    # CARD — paying with the medical-insurance card or e-voucher
    Rule("CARD-01", "只结算实际销售的药品，不串换",
         "Only what is actually sold is settled: no swapped items",
         "001 药店自查 2; 004 管理制度8 第十九条、第四十条(五)"),
    Rule("CARD-02", "医保目录决定刷卡范围，非药品不得刷卡",
         "The insurance list decides what the card pays; never non-drug goods",
         "001 药店自查 2; 004 管理制度7 五、七; 004 管理制度8 第四十条(五)"),
    Rule("CARD-03", "现款购药与刷卡购药价格一致",
         "One price for cash and card",
         "004 管理制度7 二"),
    Rule("CARD-04", "不得套取现金，医保退费原路返回",
         "No cash-out: a card payment goes back to the fund and the account, never as cash",
         "004 管理制度7 七; 004 管理制度8 第四十条(五); 001 篇一 D 六"),
    Rule("CARD-05", "人证相符，签字确认，结余清楚，留存根",
         "Person and card match; purchase list signed; balance shown; stubs kept",
         "004 管理制度8 第二十一条; 004 管理制度7 五; 001 篇五 第九条"),
    Rule("CARD-06", "只在本店登记的收款机上结算",
         "Settlement only from the store's registered tills",
         "004 管理制度8 第四十条(七)"),
    Rule("CARD-07", "医保结算药品须有国家医保编码且对照已上传",
         "A card-settled item carries its national code, its mapping uploaded",
         "004 管理制度8 第五条(六); 003 篇8 8"),
    # GSP — classified, separated display and the goods themselves
    Rule("GSP-01", "药品与非药品分开，内服与外用分开",
         "Drugs apart from non-drugs, internal-use apart from external-use",
         "001 药店自查 6"),
    Rule("GSP-02", "按类别分区陈列",
         "Display zones by class: an item only in a zone that admits its class",
         "001 药店自查 6"),
    Rule("GSP-03", "易串味药品单独陈列",
         "Odour-prone drugs displayed separately",
         "004 管理制度7 四"),
    Rule("GSP-04", "医保药品有医保用药标识",
         "Every 医保 drug carries the 医保 mark on its label",
         "004 管理制度8 第五条(四)"),
    Rule("GSP-05", "供货单位资质有效，购进验收、审核后方可销售",
         "Goods from licensed suppliers, inspected and approved before they are sold",
         "001 药店自查 5; 004 管理制度7 一 1–3; 003 篇2 (六)"),
    Rule("GSP-06", "养护检查；停售、过期批号不得销售；批号可追溯",
         "Upkeep inspection; stopped or expired batches never sold; batches traceable",
         "004 管理制度7 一 4; 001 篇五 第十二条; 004 管理制度8 第四十条(二)"),
    Rule("GSP-07", "按药品贮藏条件存放",
         "Storage follows each drug's condition (常温 / 阴凉 / 冷藏)",
         "004 管理制度3 第五条(八)"),
    # STAFF — the people
    Rule("STAFF-01", "药师在本店注册、资格与劳动合同有效",
         "A pharmacist registered here, qualified and in contract; only they sign off",
         "004 管理制度8 第五条(二); 004 管理制度3 第五条(五)"),
    Rule("STAFF-02", "至少两名医保管理人员，员工持证、培训",
         "At least two 医保 administrators; counter staff certified and trained",
         "004 管理制度8 第五条(三)、第十七条; 004 管理制度3 第五条(五)"),
    # ST — 进销存, uploads, the month end and the money
    Rule("ST-01", "如实记录进销存并上传",
         "Purchases, sales and stock recorded truthfully and uploaded",
         "004 管理制度8 第十四条、第十九条"),
    Rule("ST-02", "不得伪造、篡改记录，帐目只增不改",
         "No forged or altered records: the ledger is append-only",
         "004 管理制度8 第四十条(四); 003 篇3 三(三)"),
    Rule("ST-03", "个人账户购药定期报表与分类台帐",
         "Periodic statement of personal-account purchases; ledgers by category",
         "001 篇五 第十条; 004 管理制度7 五"),
    Rule("ST-04", "月度报表按时上报",
         "Monthly reports submitted on time",
         "004 管理制度3 第十条; 004 管理制度7 五; 001 篇五 第十、十五条"),
    Rule("ST-05", "回款期限与保证金",
         "Payment within 30 working days; deposits held, deducted and returned",
         "004 管理制度8 第二十九条、第三十四条; 001 篇五 第十四条"),
    Rule("ST-06", "数据及时、完整上传",
         "Data delivered timely and complete, through a durable outbox",
         "004 管理制度8 第十九条、第二十三条、第三十九条(二)"),
    Rule("ST-07", "与医保中心对账，拒付与扣款核销",
         "Settlements reconciled with the centre; refusals and deductions written off",
         "004 管理制度8 第十三条、第三十条; 001 篇五 第十三条; 003 篇8 9"),
    Rule("ST-08", "记录随时可调阅、导出",
         "Every record producible on demand as an inspection export",
         "001 篇五 第十六条; 004 管理制度3 第十一条; 004 管理制度8 第二十、二十四条"),
    # SEC — the information system itself
    Rule("SEC-01", "按岗位最小授权，特殊操作相互制约",
         "Least privilege by post; special operations mutually checked",
         "003 篇3 三(四)1、3"),
    Rule("SEC-02", "系统维护人员与业务操作分离",
         "Maintainers never operate: no selling, refunds, reviews or settlement",
         "003 篇3 三(四)2; 003 篇2 (六)"),
    Rule("SEC-03", "离职、调岗人员账号及时冻结",
         "A departing or transferred employee's account is frozen",
         "003 篇3 三(四)4"),
    Rule("SEC-04", "不得随意修改、删除数据，维护留痕",
         "No data changed or deleted at will; every maintenance change logged",
         "003 篇3 三(三)2; 003 篇2"),
    Rule("SEC-05", "数据备份、异地存放、恢复演练",
         "Backups daily and off-site; restore drilled",
         "003 篇2 (四)(六); 001 篇一 D 六; 000 范文(一)(五)3"),
    Rule("SEC-06", "保护参保人员隐私",
         "Insured persons' privacy: identity numbers masked, full reads logged",
         "004 管理制度8 第二十三条"),
    Rule("SEC-07", "医保专网、实时防病毒、禁用外部存储介质",
         "Dedicated network, real-time antivirus, no external storage media",
         "003 篇3 三(二); 001 药店自查 3"),
)

# By ID, in rules.md's order.
RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _ALL})


def is_registered(code: str) -> bool:
    """Whether `code` is a rule ID of the register (an error code such as VALIDATION or RX-STATE is not)."""
    return code in RULES
