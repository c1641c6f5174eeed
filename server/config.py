"""The store's settings: one typed object loaded from config.toml, overridden by environment.

A missing or malformed key stops start-up with a message that names the key, the file and what
was expected (ConfigError); nothing starts half-configured.
"""

from __future__ import annotations

import json
import os
import tomllib
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config.toml"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key, which file, what was expected."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    name: str = Field(min_length=1, max_length=20, description="定点医药机构名称 (fixmedins_name, C20)")
    fixmedins_code: str = Field(pattern=r"^[A-Z0-9]{12}$", description="12-character 定点医药机构编号")
    admdvs: str = Field(pattern=r"^\d{6}$", description="6-digit 医保区划")
    timezone: str = "Asia/Shanghai"
    site_code: str = Field(min_length=1, max_length=40)
    address: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DatabaseSettings(_Section):
    url: str = Field(pattern=r"^(sqlite|postgresql(\+psycopg)?)://", description="sqlite:/// or postgresql+psycopg://")


class ServiceSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=1, le=65535)
    token_ttl_minutes: int = Field(default=720, ge=1, le=7 * 24 * 60)
    lockout_attempts: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    one_time_code_hours: int = Field(default=72, ge=1, le=30 * 24)  # SEC-01: a new account's first-PIN code
    # argon2id cost for PINs: OWASP's recommended configuration (19 MiB, 2 passes, 1 lane; Password Storage Cheat
    # Sheet). The PIN's guard against guessing is the lockout; this cost is paid at every switch of user and every
    # authorisation in place (64 MiB × 3 passes took 230 ms of the 300 ms a switch may take). A hash made at another
    # cost is verified at its own and made again at this one on its owner's next right PIN (server.auth.pins).
    pin_hash_memory_kib: int = Field(default=19456, ge=1024, le=1048576)
    pin_hash_time_cost: int = Field(default=2, ge=1, le=10)


class TillSettings(_Section):
    code: str = Field(min_length=1, max_length=20)
    # Where the till's back office saves a report's XLSX/PDF (relative: to the directory the till runs in).
    export_dir: str = Field(default="exports", min_length=1, max_length=500)


class OfficeSettings(_Section):
    """`[office]`: the back office served to the office PC's browser (`dingdian office`, textual-serve): where it
    listens, and the address the browser is given for it (`public_url`; needed when it listens on every interface,
    0.0.0.0 or ::, since the page tells the browser where its terminal's websocket is)."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=255)
    port: int = Field(default=8610, ge=1, le=65535)
    public_url: str = Field(default="", pattern=r"^(https?://[^\s/]+/?)?$")

    @model_validator(mode="after")
    def _reachable(self) -> OfficeSettings:
        if self.host in ("0.0.0.0", "::") and not self.public_url:
            raise ValueError(f"office.host {self.host} listens on every interface: set office.public_url to the "
                             "address the office PC opens, e.g. http://192.168.1.20:8610 (须设置 public_url)")
        return self

    @property
    def url(self) -> str:
        """The address the browser opens (and the page's websocket is reached at)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class DeviceSettings(_Section):
    card_reader: Literal["simulated", "pcsc", "sdk"] = "simulated"
    scanner: Literal["simulated", "serial", "hid"] = "simulated"
    printer: Literal["simulated", "network", "usb", "serial"] = "simulated"
    printer_columns: int = Field(default=42, ge=24, le=64)
    # serial scanner: a device path (/dev/serial/by-id/… survives re-plugging) or a pyserial URL
    scanner_port: str = ""
    scanner_baud: int = Field(default=9600, ge=300, le=921600)
    scanner_suffix: Literal["cr", "lf", "crlf", "none"] = "cr"  # what the scanner sends after each code
    scanner_frame_gap_ms: int = Field(default=50, ge=5, le=1000)  # suffix "none" only: the pause ending a code
    scanner_max_frame: int = Field(default=512, ge=32, le=8192)  # longer frames are noise
    # receipt printer: network (host:port), serial (port, baud) or usb (vendor:product ids)
    printer_host: str = "127.0.0.1"
    printer_port: int = Field(default=9100, ge=1, le=65535)
    printer_serial_port: str = ""
    printer_serial_baud: int = Field(default=9600, ge=300, le=921600)
    printer_usb_vendor: int = Field(default=0, ge=0, le=0xFFFF)
    printer_usb_product: int = Field(default=0, ge=0, le=0xFFFF)
    printer_timeout_seconds: float = Field(default=5, gt=0, le=60)
    printer_status_check: bool = True  # ask the printer's status (DLE EOT) around each job
    printer_retry_max_seconds: float = Field(default=10, ge=0.1, le=300)  # longest wait between tries when away
    cash_drawer: bool = True  # open the drawer through the printer on cash sales
    receipt_footer: str = Field(default="谢谢惠顾，请保留小票\n凭小票七日内办理退换", max_length=200)
    # card reader. pcsc: the reader's name (exact, or the start of it); empty = the first reader found.
    card_reader_name: str = Field(default="", max_length=200)
    # sdk: the region's card library (HeaSecReadInfo shape), its Init JSON as the region documents it,
    # and the encoding of its strings (the libraries speak GBK).
    card_sdk_library: str = ""
    card_sdk_init: str = "{}"
    card_sdk_encoding: Literal["gbk", "utf-8"] = "gbk"

    @field_validator("card_sdk_init")
    @classmethod
    def _init_is_json_object(cls, v: str) -> str:
        try:
            parsed = json.loads(v)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ValueError("must be a JSON object, e.g. {\"IP\": \"10.0.0.1\", \"PORT\": 7020}")
        return v

    @model_validator(mode="after")
    def _sdk_needs_library(self) -> DeviceSettings:
        if self.card_reader == "sdk" and not self.card_sdk_library.strip():
            raise ValueError("card_reader = \"sdk\" needs card_sdk_library (the region's card library path)")
        return self

    @model_validator(mode="after")
    def _ports_given(self) -> DeviceSettings:
        if self.scanner == "serial" and not self.scanner_port:
            raise ValueError("scanner = \"serial\" needs scanner_port (扫码枪串口未配置)")
        if self.printer == "serial" and not self.printer_serial_port:
            raise ValueError("printer = \"serial\" needs printer_serial_port (打印机串口未配置)")
        if self.printer == "usb" and not (self.printer_usb_vendor and self.printer_usb_product):
            raise ValueError("printer = \"usb\" needs printer_usb_vendor and printer_usb_product (打印机USB编号未配置)")
        return self


class TillPrinterSettings(_Section):
    """`[printers.<till code>]`: that till's receipt printer. A key left out is the `[devices]` key of the same
    name (the till of `[till] code` prints on `[devices]`' printer unless it has a section of its own)."""

    printer: Literal["simulated", "network", "usb", "serial"] | None = None
    printer_columns: int | None = Field(default=None, ge=24, le=64)
    printer_host: str | None = None
    printer_port: int | None = Field(default=None, ge=1, le=65535)
    printer_serial_port: str | None = None
    printer_serial_baud: int | None = Field(default=None, ge=300, le=921600)
    printer_usb_vendor: int | None = Field(default=None, ge=0, le=0xFFFF)
    printer_usb_product: int | None = Field(default=None, ge=0, le=0xFFFF)
    printer_timeout_seconds: float | None = Field(default=None, gt=0, le=60)
    printer_status_check: bool | None = None

    def over(self, devices: DeviceSettings) -> DeviceSettings:
        """`[devices]` with this till's printer keys in place (validated as `[devices]` is)."""
        given = self.model_dump(exclude_none=True)
        return DeviceSettings.model_validate(devices.model_dump() | given) if given else devices


class InsuranceSettings(_Section):
    gateway: Literal["sandbox", "http"] = "sandbox"
    url: str = "http://127.0.0.1:8601"
    path: str = "/fsi/api/callService"  # the province's transaction endpoint under url
    infver: str = "V1.0"
    recer_sys_code: str = "sys01"
    timeout_seconds: float = Field(default=30, gt=0, le=300)  # a settlement's answer; later = uncertain
    connect_timeout_seconds: float = Field(default=3, gt=0, le=60)
    # How messages are signed: none | hmac (API gateway, [HN]) | sm (OAuth2 + SM4/SM2: wired in code)
    signing: Literal["none", "hmac", "sm"] = "none"
    access_key: str = ""
    secret_key: str = ""  # keep it out of the file: DINGDIAN_INSURANCE__SECRET_KEY
    api_name: str = ""
    api_version: str = "1.0.0"
    sandbox_db: str = "var/sandbox-centre.db"  # the sandbox centre's own ledger (make demo)
    # ST-07: the refund policy of 3201/3202 (refd_setl_flag): "1" the totals include cancellations (2103, negative),
    # "0" the original settlements only. The region's agency says which; both sides must count alike.
    recon_refd_setl_flag: Literal["0", "1"] = "1"
    # The uploads' outbox (3501–3507, ST-06): the service sends it in the background; a transport failure waits
    # upload_retry_min_seconds, doubling each time up to upload_retry_max_seconds.
    uploads_worker: bool = True
    upload_retry_min_seconds: float = Field(default=5, gt=0, le=3600)
    upload_retry_max_seconds: float = Field(default=900, gt=0, le=86400)
    upload_pause_ms: int = Field(default=20, ge=0, le=10_000)  # between two uploads: the tills' scans go first


class EprxSettings(_Section):
    """Electronic 外配处方 from the insurance platform (电子处方流转, reference §7; issue #23).

    `variant` is the region's transaction set for reporting the sale (the rest, 7201 decode, 7202 query, 7203
    download, 7204 review, are common): "national" reports the sales detail by 7207 and cancels it by 7208 on a
    return ([KSOA]); "shenzhen" writes the prescription off by 7206 ([BZ] CFHX7206) and cancels by 7206 again with
    the return flag (sel_retn_flag 1: the Shenzhen copy names no separate cancel — confirm with the region)."""

    enabled: bool = True
    variant: Literal["national", "shenzhen"] = "national"
    # Where the platform signs the download (SM2 with SM3): the platform's public key (128 hex digits, x‖y); the
    # default is the sandbox centre's demo key. Empty: the region does not sign, nothing to verify.
    platform_public_key: str = Field(default=(
        "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
        "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"), pattern=r"^([0-9a-fA-F]{128})?$")
    # Which generation of the platform the region runs: "7xxx" (7201–7208 in the insurance envelope) or "rest" (the
    # national 医保电子处方中心: one path per operation under rest_url, SM4-encrypted body, SM2-signed envelope;
    # server.insurance.eprx_rest). The REST centre has no 7206: "rest" goes with variant "national".
    generation: Literal["7xxx", "rest"] = "7xxx"
    rest_url: str = ""  # empty: [insurance] url + "/epc/fixmedins" (the sandbox's)
    app_id: str = Field(default="DDPOS-SANDBOX-0001", max_length=64)  # the pharmacy's appId at the centre
    # The app's SM4 key (32 hex digits) and the pharmacy's SM2 key pair (private 64 hex, public x‖y 128 hex) that
    # signs its requests; the defaults are the sandbox's demo app. A live store keeps its own here.
    app_secret: str = Field(default="5c123edf49393b7078da90d50fbc4d82", pattern=r"^[0-9a-fA-F]{32}$")
    private_key: str = Field(default="683f64d4017acc410ef860ca9f3139f0ee2b101583ef492f434ce15adb03d530",
                             pattern=r"^[0-9a-fA-F]{64}$")
    public_key: str = Field(default=(
        "0d5de79f4e55575696fd3a61000c17fede5de62175cdf1379b0c36325f615acf"
        "59bd31cd985bd994477420a82eb5880f2dc27d451829fd08e6dcf78002daa8e0"), pattern=r"^[0-9a-fA-F]{128}$")

    @model_validator(mode="after")
    def _rest_is_national(self) -> EprxSettings:
        if self.generation == "rest" and self.variant != "national":
            raise ValueError('[eprx] generation "rest" reports by the sales detail: variant must be "national"')
        return self


class RuleSettings(_Section):
    """Every limit rules.md marks configurable, with the rule it belongs to."""

    change_registration_working_days: int = Field(default=30, ge=1)  # AGR-03
    renewal_notice_months: int = Field(default=3, ge=0)  # AGR-03
    max_suspension_days: int = Field(default=180, ge=1)  # AGR-03
    max_suspensions_per_term: int = Field(default=2, ge=1)  # AGR-03
    agreement_term_years: int = Field(default=1, ge=1, le=10)  # AGR-03
    prescriber_profile: Literal["A", "B"] = "A"  # RX-06
    rx_validity_days: int = Field(default=1, ge=1, le=3)  # RX-07
    rx_max_extended_validity_days: int = Field(default=3, ge=1, le=7)  # RX-07
    require_waipei_seal: bool = False  # RX-02: the region requires the 外配处方专用章 on paper 外配处方
    retention_years: int = Field(default=2, ge=2)  # RX-08: at least 2
    store_24h: bool = False  # RX-10
    personal_account_pays_self_pay: bool = False  # CARD-02 (regional)
    # CARD-05: the service asks for the record of the insured person's signature on the purchase list (a key at
    # the till, or a signature pad's image) before a card sale settles. Off by default: the paper list is signed
    # at the counter either way; a store that records it turns this on.
    card_signature_required: bool = False
    statement_period: Literal["monthly", "bimonthly", "quarterly"] = "monthly"  # ST-03
    # ST-04: the seeds give no deadline, so there is no default: the store must set it.
    report_deadline_day: int = Field(ge=1, le=28)
    payment_working_days: int = Field(default=30, ge=1)  # ST-05
    interim_payment_ratio: Decimal = Field(default=Decimal("0.90"), ge=0, le=1)  # ST-05
    upload_backlog_max_hours: int = Field(default=24, ge=1)  # ST-06
    min_contract_years: int = Field(default=1, ge=1)  # STAFF-01/02
    min_insurance_admins: int = Field(default=2, ge=1)  # STAFF-02
    near_expiry_days: int = Field(default=90, ge=0)  # GSP-06
    returned_drugs_to_quarantine: bool = True  # GSP-06: returned drugs are not resold without inspection
    # SEC-01: a same-day refund or void above this (in fen) needs a second person's PIN; later-day ones always do
    second_person_above_fen: int = Field(default=20000, ge=0)


class BackupSettings(_Section):
    """SEC-05: where the daily backup goes (a directory on another device than the database; empty: none is
    taken, and the checklist says so), when, what is kept, and how often a restore must be drilled."""

    dir: str = ""
    daily_at: str = Field(default="02:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # store time
    keep_days: int = Field(default=14, ge=1)
    keep_months: int = Field(default=12, ge=0)
    drill_every_days: int = Field(default=90, ge=1)
    # SEC-05/SEC-06: a file holding the backup key (`dingdian backup-key --out FILE`); set, every backup is sealed
    # with it (AES-256-GCM). It must not lie in the backup directory (refused), and the store keeps a copy apart
    # from the database's disk too: a backup is unreadable without its key.
    key_file: str = ""


class ChecklistSettings(_Section):
    """The compliance checklist (issue #22): how long an attestation (the written systems, the sign, SEC-07's
    network …) stands before it must be confirmed again."""

    attestation_valid_days: int = Field(default=365, ge=1, le=3 * 366)
    # CHECK 17, the fund-use self-inspection: what the agency's own analyses look for. None of these is a rule
    # broken by itself (a chronic patient may lawfully buy often); a finding asks a person to judge it.
    # The same insured person buying repeatedly: more than repeat_max_sales card sales within repeat_window_days.
    repeat_window_days: int = Field(default=7, ge=1, le=92)
    repeat_max_sales: int = Field(default=3, ge=1)
    # Quantities beyond the days' supply: prescribed days bought by one person of one drug beyond the period's days
    # by more than this (a 长处方 is at most 12 weeks); without a prescription, more than max_units_per_drug whole
    # units (boxes) of one drug for one person in the period.
    max_days_supply: int = Field(default=30, ge=1, le=90)
    max_units_per_drug: int = Field(default=10, ge=1)
    # Card sales at odd hours: outside the store's opening hours (store time, "HH:MM-HH:MM"); a 24-hour store
    # (rules.store_24h) is asked about its late-night window instead.
    opening_hours: str = Field(default="08:00-22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
    late_night: str = Field(default="00:00-05:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


class ReportSettings(_Section):
    """The month-end reports (issue #20). `ledger_layout`: a province's 进销存 columns, as reports.layout.layout_from
    reads them ({name, identity: [keys], columns: [{key, zh, en, sources: [movement columns]}]}); empty: the
    default layout."""

    ledger_layout: dict[str, Any] = Field(default_factory=dict)
    # ST-04: the deadline day of the month after the period, per report handed in (server.rules.submissions.KINDS).
    # The monthly reports fall back to [rules] report_deadline_day; the declaration has no default.
    deadline_days: dict[str, int] = Field(default_factory=dict)

    @field_validator("deadline_days")
    @classmethod
    def _known_reports(cls, v: dict[str, int]) -> dict[str, int]:
        from server.rules.submissions import KINDS  # pure data: checked at load

        for kind, day in v.items():
            if kind not in KINDS:
                raise ValueError(f"unknown report {kind!r} (one of {', '.join(KINDS)})")
            if not 1 <= day <= 28:
                raise ValueError(f"{kind}: a deadline day is 1..28 (got {day})")
        return v

    @field_validator("ledger_layout")
    @classmethod
    def _a_whole_layout(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v:
            from reports.layout import layout_from  # pure data over server.rules: checked at load, not at month end

            try:
                layout_from(v)
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"not a 进销存 layout: {exc}") from None
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DINGDIAN_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    store: StoreSettings
    database: DatabaseSettings
    service: ServiceSettings = ServiceSettings()
    till: TillSettings
    devices: DeviceSettings = DeviceSettings()
    insurance: InsuranceSettings = InsuranceSettings()
    eprx: EprxSettings = EprxSettings()
    rules: RuleSettings
    printers: dict[str, TillPrinterSettings] = Field(default_factory=dict)  # a printer per till, by till code
    reports: ReportSettings = ReportSettings()
    backup: BackupSettings = BackupSettings()
    checklist: ChecklistSettings = ChecklistSettings()
    office: OfficeSettings = OfficeSettings()

    # Set by load_settings; where the values came from, for messages and /health.
    source_file: str = Field(default="", exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("DINGDIAN_CONFIG", str(DEFAULT_CONFIG))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    @model_validator(mode="after")
    def _till_printers_complete(self) -> Settings:
        for code, printer in self.printers.items():
            try:
                printer.over(self.devices)
            except ValidationError as exc:
                raise ValueError(f"printers.{code}: {exc.errors()[0]['msg']}") from None
        return self

    def till_devices(self, till_code: str) -> DeviceSettings:
        """The device settings a till's printer uses: `[printers.<code>]` over `[devices]`."""
        printer = self.printers.get(till_code)
        return printer.over(self.devices) if printer is not None else self.devices

    def printing_tills(self) -> list[str]:
        """The tills this service prints for: its own (`[till] code`) and every till with a `[printers]` section."""
        return [self.till.code, *sorted(code for code in self.printers if code != self.till.code)]

    @property
    def sqlite_path(self) -> Path | None:
        url = self.database.url
        if not url.startswith("sqlite:///"):
            return None
        raw = url.removeprefix("sqlite:///")
        path = Path(raw)
        return path if path.is_absolute() else ROOT / path


def env_variable(loc: tuple[int | str, ...]) -> str | None:
    """The DINGDIAN_* variable that set the value at `loc`, if one did (names are matched as pydantic-settings
    matches them: case-insensitively)."""
    wanted = ("DINGDIAN_" + "__".join(str(p) for p in loc)).upper()
    return next((name for name in os.environ if name.upper() == wanted), None)


def _describe(err: ErrorDetails) -> str:
    key = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"key '{key}' is missing (缺少配置项)"
    if kind == "extra_forbidden":
        return f"key '{key}' is not a known setting (未知配置项)"
    got = err.get("input")
    if isinstance(got, dict):  # a whole section's check: the section is no help in the message
        return f"{key or 'config'}: {err['msg']} (配置项取值无效)"
    if variable := env_variable(err["loc"]):  # the file is not where the value came from
        return f"环境变量 {variable} 取值无效 / environment variable {variable} ({key}): {err['msg']} (got {got!r})"
    return f"key '{key}': {err['msg']} (got {got!r}) (配置项取值无效)"


def _read_toml(file: Path) -> None:
    """The file as TOML, or a ConfigError saying in one line what is wrong with it: tomllib reads UTF-8 only, and
    an editor on Windows may save the file in GBK or with a byte-order mark."""
    raw = file.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(f"配置文件带有 UTF-8 BOM，请另存为无 BOM 的 UTF-8 / config file {file} starts with a UTF-8 "
                          "byte-order mark: save it as UTF-8 without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        guess = "（疑似 GBK 编码）" if _is_gbk(raw) else ""
        raise ConfigError(f"配置文件不是 UTF-8 编码{guess}，请另存为 UTF-8 / config file {file} is not UTF-8 "
                          f"({'GBK?' if guess else f'byte {exc.start}'}): save it as UTF-8") from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件格式错误 / config file {file} is not valid TOML: {exc}") from exc


def _is_gbk(raw: bytes) -> bool:
    try:
        raw.decode("gbk")
    except UnicodeDecodeError:
        return False
    return True


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings; raise ConfigError naming every bad key and the file."""
    file = Path(path) if path is not None else Path(os.environ.get("DINGDIAN_CONFIG", str(DEFAULT_CONFIG)))
    if not file.is_file():
        raise ConfigError(f"配置文件不存在 / config file not found: {file}")
    _read_toml(file)
    previous = os.environ.get("DINGDIAN_CONFIG")
    os.environ["DINGDIAN_CONFIG"] = str(file)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        if all(env_variable(e["loc"]) for e in exc.errors()):
            raise ConfigError(f"配置无效 / invalid configuration: {problems}") from exc
        raise ConfigError(f"配置无效 / invalid configuration in {file}: {problems}") from exc
    except SettingsError as exc:  # a DINGDIAN_* value that is not the JSON a whole section needs
        raise ConfigError(f"环境变量取值无效 / invalid DINGDIAN_* environment value: {exc}") from exc
    finally:
        if previous is None:
            os.environ.pop("DINGDIAN_CONFIG", None)
        else:
            os.environ["DINGDIAN_CONFIG"] = previous
    return settings.model_copy(update={"source_file": str(file)})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
