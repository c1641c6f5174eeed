"""The regional card library driver: production 3rd-generation cards, read through the library the
region supplies (the unified 医保 `HeaSecReadInfo` shape), loaded with ctypes.

The library exports (C calling convention on Linux):

    int Init(const char *init_json, char *err_msg);            0 = ready; else err_msg says why
    int ReadCardBas(char *card_info, char *busi_card_info);     0 = read; else card_info says why

`init_json` comes from the configuration as the region documents it (server IP/port, timeout, log
path …). `card_info` is one pipe-separated string:
`发卡地区代码|社会保障号码|卡号|卡识别码|姓名|卡复位信息|规范版本|发卡日期|卡有效期|终端机编号|终端设备号|`;
`busi_card_info` is opaque and goes to the centre untouched (`CardRecord.business`).

The library gives no insertion events and each read may ask the region's PSAM or HSM over the
network, so this driver reads only when asked (`read()`, the cashier's 读卡 key); the outcome is
delivered to the callback like any other reader's. Calls are serialised: these libraries keep
global state.
"""

from __future__ import annotations

import ctypes
import json
import threading
import time
from datetime import date

from devices.card.errors import CardError, SdkError
from devices.card.events import CardCallback, CardFailed, CardInserted
from devices.card.reader import ReaderBase
from devices.card.record import CardRecord, checked

CARD_INFO_SIZE = 2048
BUSINESS_SIZE = 8192
ERR_SIZE = 2048
MIN_FIELDS = 9  # up to 卡有效期; the terminal numbers are not part of the record


class SdkCardReader(ReaderBase):
    driver = "sdk"

    def __init__(self, library: str, init_json: str = "{}", encoding: str = "gbk") -> None:
        super().__init__()
        self.library = library
        self.init_json = init_json
        self.encoding = encoding
        self._lib: ctypes.CDLL | None = None
        self._ready = False
        self._call_lock = threading.Lock()

    @property
    def _reader(self) -> str:
        return self.library.rsplit("/", 1)[-1]

    def start(self, on_event: CardCallback) -> None:
        self._on_event = on_event
        try:
            with self._call_lock:
                self._init()
        except SdkError as exc:
            self._set_status(connected=False, reader=self._reader, error=exc)
        else:
            self._set_status(connected=True, reader=self._reader)

    def stop(self) -> None:
        # The library stays loaded: unloading a C library from a running process is not safe.
        self._set_status(connected=False, reader=self._reader)

    def read(self) -> CardRecord:
        started = time.perf_counter()
        try:
            with self._call_lock:
                self._init()
                record = self._read_card()
        except CardError as exc:
            self._emit(CardFailed(self._reader, exc))
            raise
        self._set_status(connected=True, reader=self._reader)
        self._emit(CardInserted(self._reader, record, (time.perf_counter() - started) * 1000))
        return record

    # --- the library ---------------------------------------------------------------------------

    def _init(self) -> None:
        if self._ready:
            return
        if self._lib is None:
            try:
                lib = ctypes.CDLL(self.library)
                lib.Init.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
                lib.Init.restype = ctypes.c_int
                lib.ReadCardBas.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
                lib.ReadCardBas.restype = ctypes.c_int
            except (OSError, AttributeError) as exc:
                raise SdkError("加载", "loading", str(exc), library=self.library) from None
            self._lib = lib
        try:
            json.loads(self.init_json)
        except ValueError as exc:
            raise SdkError("解析初始化参数", "parsing the init JSON", str(exc)) from None
        err = ctypes.create_string_buffer(ERR_SIZE)
        ret = self._lib.Init(self.init_json.encode(self.encoding), err)
        if ret != 0:
            raise SdkError("初始化", "Init", self._text(err.value), ret=ret)
        self._ready = True

    def _read_card(self) -> CardRecord:
        assert self._lib is not None
        info = ctypes.create_string_buffer(CARD_INFO_SIZE)
        business = ctypes.create_string_buffer(BUSINESS_SIZE)
        ret = self._lib.ReadCardBas(info, business)
        if ret != 0:
            raise SdkError("读卡", "ReadCardBas", self._text(info.value), ret=ret)
        return parse_card_info(self._text(info.value), self._text(business.value))

    def _text(self, raw: bytes) -> str:
        return raw.decode(self.encoding, errors="replace").strip()


def parse_card_info(card_info: str, business: str = "") -> CardRecord:
    """`ReadCardBas`'s pCardInfo (pipe-separated) → the record, checked like a card read directly."""
    fields = [f.strip() for f in card_info.rstrip("|").split("|")]
    if len(fields) < MIN_FIELDS:
        raise SdkError("读卡", "ReadCardBas", f"卡信息只有 {len(fields)} 项，应为 11 项 / card info has "
                       f"{len(fields)} fields, expected 11", fields=len(fields))
    region, id_number, card_no, card_sn, name, history, version, issued, valid = fields[:MIN_FIELDS]
    return checked(CardRecord(card_no=card_no.upper(), card_sn=card_sn.upper(), name=name,
                              id_number=id_number.upper(), region=region or card_sn[:6], version=version,
                              issued_on=_date(issued), valid_until=_date(valid), business=business,
                              atr_history=history.upper(), source="sdk"))


def _date(text: str) -> date | None:
    digits = text.replace("-", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
