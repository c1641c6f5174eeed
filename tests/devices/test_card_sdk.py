"""The regional card library driver (ctypes) against a C library with the same exports, compiled here."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.card.demo_cards import demo_card
from devices.card.errors import SdkError, UnreadableCardError
from devices.card.events import CardEvent, CardFailed, CardInserted, ReaderStatus
from devices.card.sdk import SdkCardReader, parse_card_info

HERE = Path(__file__).parent
INIT = json.dumps({"IP": "10.1.2.3", "PORT": 7020, "TIMEOUT": 6, "LOG_PATH": "/var/log/卡"}, ensure_ascii=False)
EMPLOYEE = demo_card("employee").record
CARD_INFO = (f"440300|{EMPLOYEE.id_number}|{EMPLOYEE.card_no}|{EMPLOYEE.card_sn}|{EMPLOYEE.name}|"
             "0086534443444D4F|3.00|20180912|20280912|410100813475|T01-READER|")
BUSINESS = "B" * 300 + "|opaque^busi"


def _compile(source: Path, out: Path) -> Path:
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build the stand-in card library (make test installs it)"
    subprocess.run([gcc, "-shared", "-fPIC", "-O1", "-o", str(out), str(source)], check=True)
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _compile(HERE / "fake_card_sdk.c", tmp_path_factory.mktemp("sdk") / "libHeaSecReadInfo.so")


@pytest.fixture
def control(library: Path) -> Iterator[ctypes.CDLL]:
    """The same loaded library the driver gets (dlopen of one path is one library): its test switches."""
    lib = ctypes.CDLL(str(library))
    lib.FakeSetCard.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    lib.FakeSetInit.argtypes = [ctypes.c_int, ctypes.c_char_p]
    lib.FakeLastInit.restype = ctypes.c_char_p
    lib.FakeReset()
    yield lib
    lib.FakeReset()


def _set_card(lib: ctypes.CDLL, info: str, busi: str = "", ret: int = 0) -> None:
    lib.FakeSetCard(info.encode("gbk"), busi.encode("gbk"), ret)


def test_a_card_read_through_the_library_fills_the_same_record(library: Path, control: ctypes.CDLL) -> None:
    _set_card(control, CARD_INFO, BUSINESS)
    events: list[CardEvent] = []
    reader = SdkCardReader(str(library), INIT)
    reader.start(events.append)
    assert reader.status().connected and reader.status().error is None
    assert control.FakeLastInit().decode("gbk") == INIT  # the configured Init JSON, in the library's encoding

    record = reader.read()
    assert (record.card_no, record.card_sn, record.name, record.id_number, record.region) == (
        EMPLOYEE.card_no, EMPLOYEE.card_sn, EMPLOYEE.name, EMPLOYEE.id_number, "440300")
    assert record.version == "3.00" and record.generation == 3 and record.source == "sdk"
    assert record.valid_until is not None and record.valid_until.isoformat() == "2028-09-12"
    assert record.business == BUSINESS  # opaque, whole
    assert record.person_lookup()["mdtrt_cert_no"] == f"{EMPLOYEE.card_no}|{BUSINESS}"
    inserted = [e for e in events if isinstance(e, CardInserted)]
    assert len(inserted) == 1 and inserted[0].record == record
    shown = repr(inserted[0].public()) + repr(record) + str(record)
    assert EMPLOYEE.id_number not in shown and BUSINESS not in shown  # SEC-06
    assert record.masked_id in shown


def test_init_refused_is_the_readers_status_and_reads_say_why(library: Path, control: ctypes.CDLL) -> None:
    events: list[CardEvent] = []
    reader = SdkCardReader(str(library), '{"PORT": 7020}')  # the library wants an IP
    reader.start(events.append)  # never raises: the service starts whatever the hardware does
    status = reader.status()
    assert not status.connected and isinstance(status.error, SdkError)
    assert "缺少 IP" in status.error.message_zh and "Init failed: 缺少 IP" in status.error.message_en
    assert [type(e) for e in events] == [ReaderStatus]
    with pytest.raises(SdkError):
        reader.read()
    assert control.FakeReads() == 0  # never asked the card before Init succeeded


def test_a_refused_read_carries_the_librarys_reason(library: Path, control: ctypes.CDLL) -> None:
    _set_card(control, "未检测到卡片", ret=-11)
    events: list[CardEvent] = []
    reader = SdkCardReader(str(library), INIT)
    reader.start(events.append)
    with pytest.raises(SdkError) as exc:
        reader.read()
    assert "未检测到卡片" in exc.value.message_zh and exc.value.details["ret"] == -11
    assert isinstance(events[-1], CardFailed) and events[-1].error.code == "CARD_SDK"


def test_a_short_or_malformed_answer_is_refused(library: Path, control: ctypes.CDLL) -> None:
    reader = SdkCardReader(str(library), INIT)
    reader.start(lambda e: None)
    _set_card(control, "440300|" + EMPLOYEE.id_number + "|" + EMPLOYEE.card_no)
    with pytest.raises(SdkError) as short:
        reader.read()
    assert "3" in short.value.message_en and "expected 11" in short.value.message_en
    _set_card(control, CARD_INFO.replace(EMPLOYEE.id_number, "4403051978061520"))
    with pytest.raises(UnreadableCardError) as bad:
        reader.read()
    assert "社会保障号码" in bad.value.message_zh and "4403051978061520" not in repr(bad.value.as_dict())


def test_a_missing_library_or_one_without_the_exports_is_a_status_not_a_crash(tmp_path: Path) -> None:
    missing = SdkCardReader(str(tmp_path / "libnothere.so"), INIT)
    missing.start(lambda e: None)
    error = missing.status().error
    assert isinstance(error, SdkError) and "加载" in error.message_zh
    source = tmp_path / "other.c"
    source.write_text("int Init(const char *j, char *e) { return 0; }\n")
    other = SdkCardReader(str(_compile(source, tmp_path / "libother.so")), INIT)
    other.start(lambda e: None)
    error = other.status().error
    assert isinstance(error, SdkError) and "ReadCardBas" in error.message_en


def test_the_card_info_string_is_split_by_position() -> None:
    record = parse_card_info(CARD_INFO.rstrip("|"))  # the trailing pipe is optional
    assert record.atr_history == "0086534443444D4F" and record.issued_on is not None
    assert record.issued_on.isoformat() == "2018-09-12" and record.business == ""
    assert record.mdtrt_cert_no == EMPLOYEE.card_no
