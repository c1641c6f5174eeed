"""What can go wrong between the card reader and the record, each said in Chinese and English.

Every error carries a stable `code` (shown in `GET /devices` and in the till's status bar), the two
messages, and details a technician can act on (the reader's name, the status word, the PC/SC code).
The shape matches the service's error body, so the API can hand one on unchanged.
"""

from __future__ import annotations

from typing import Any


class CardError(Exception):
    code = "CARD_ERROR"

    def __init__(self, message_zh: str, message_en: str, **details: Any) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en,
                "details": dict(self.details)}


class PcscdNotRunningError(CardError):
    code = "CARD_PCSCD_DOWN"

    def __init__(self, **details: Any) -> None:
        super().__init__("智能卡服务（pcscd）未运行，无法使用读卡器",
                         "the smart-card service (pcscd) is not running; the card reader cannot be used", **details)


class NoReaderError(CardError):
    code = "CARD_NO_READER"

    def __init__(self, wanted: str = "", **details: Any) -> None:
        if wanted:
            super().__init__(f"未找到读卡器“{wanted}”，请检查连接", f"card reader '{wanted}' not found; check its cable",
                             wanted=wanted, **details)
        else:
            super().__init__("未连接读卡器", "no card reader is connected", **details)


class ReaderGoneError(CardError):
    code = "CARD_READER_GONE"

    def __init__(self, reader: str, **details: Any) -> None:
        super().__init__(f"读卡器“{reader}”已断开，重新连接后自动恢复",
                         f"card reader '{reader}' was disconnected; it is picked up again when reconnected",
                         reader=reader, **details)


class NoCardError(CardError):
    code = "CARD_ABSENT"

    def __init__(self, reader: str = "", **details: Any) -> None:
        super().__init__("读卡器中没有卡，请插入社保卡", "no card in the reader; insert the social security card",
                         reader=reader, **details)


class CardRemovedError(CardError):
    code = "CARD_REMOVED"

    def __init__(self, reader: str = "", **details: Any) -> None:
        super().__init__("读卡过程中卡被拔出，请重新插卡", "the card was removed while it was being read; insert it again",
                         reader=reader, **details)


class UnreadableCardError(CardError):
    code = "CARD_UNREADABLE"

    def __init__(self, reason_zh: str, reason_en: str, **details: Any) -> None:
        super().__init__(f"无法读取此卡：{reason_zh}", f"the card cannot be read: {reason_en}", **details)


class ForeignCardError(CardError):
    code = "CARD_FOREIGN"

    def __init__(self, **details: Any) -> None:
        super().__init__("这不是社会保障卡（卡内没有社会保障应用）",
                         "this is not a social security card (it has no social security application)", **details)


class StatusWordError(CardError):
    """The card answered a command with a status word other than success; the word is named."""

    code = "CARD_STATUS_WORD"

    def __init__(self, sw: int, name_zh: str, name_en: str, command: str, **details: Any) -> None:
        super().__init__(f"卡片拒绝了“{command}”命令：{sw:04X} {name_zh}",
                         f"the card refused '{command}': status {sw:04X} {name_en}",
                         sw=f"{sw:04X}", command=command, **details)
        self.sw = sw


class CardNeedsAuthenticationError(CardError):
    """A 3rd-generation card keeps 卡号 / 姓名 / 社会保障号码 behind PSAM or HSM authentication."""

    code = "CARD_NEEDS_PSAM"

    def __init__(self, version: str, **details: Any) -> None:
        super().__init__(f"第三代社保卡（规范版本 {version}）的卡号、姓名、社会保障号码须经 PSAM 卡或加密机认证后读取，"
                         "请配置地区读卡库（devices.card_reader = \"sdk\"）",
                         f"a 3rd-generation card (version {version}) reveals card number, name and ID number only "
                         "after PSAM or HSM authentication; configure the regional card library "
                         "(devices.card_reader = \"sdk\")", version=version, **details)


class SdkError(CardError):
    """The region's card-reading library could not be loaded, initialised, or refused a read."""

    code = "CARD_SDK"

    def __init__(self, step_zh: str, step_en: str, message: str = "", **details: Any) -> None:
        suffix_zh = f"：{message}" if message else ""
        suffix_en = f": {message}" if message else ""
        super().__init__(f"读卡库{step_zh}失败{suffix_zh}", f"card library {step_en} failed{suffix_en}",
                         library_message=message, **details)


class NotSimulatedError(CardError):
    """A demo card can only go into the simulated reader; a real one needs a real card."""

    code = "CARD_NOT_SIMULATED"

    def __init__(self, driver: str) -> None:
        super().__init__(f"当前读卡器为真实设备（{driver}），不能插入演示卡",
                         f"the card reader is a real device ({driver}); a demo card cannot be inserted", driver=driver)
